import Foundation
import SpladeCore
import Testing

/// splade-encode as a user runs it: fixture parity through the command line, the two vector
/// formats and their conversion, pre-tokenized input, pruning, and its exit statuses.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"))
struct EncodeCLITests {
    let model = Tools.fixtures + "/ja-tiny/model"
    var texts: String { Tools.fixtures + "/ja-tiny/encode.jsonl" }

    func vectors(_ run: ToolRun) -> [(id: String, vector: [String: Double])] {
        run.stdoutLines.map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return ("\(object["id"]!)", object["vector"] as! [String: Double])
        }
    }

    /// The fixture's expected dense vectors [55, 6000].
    func expected(_ name: String) throws -> [[Float]] {
        let tensor = try #require(try Safetensors.read(Tools.fixtures + "/ja-tiny/encode-expected.safetensors")[name])
        let columns = tensor.shape[1]
        return (0..<tensor.shape[0]).map { Array(tensor.values[($0 * columns)..<(($0 + 1) * columns)]) }
    }

    @Test(arguments: [(512, 4), (32, 1)])
    func vectorsThroughTheCommandLineMatchPyTorch(maxLength: Int, batchSize: Int) throws {
        let run = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "--max-length", "\(maxLength)",
                                                  "--batch-size", "\(batchSize)", "-i", texts])
        #expect(run.status == 0, "\(run.stderr)")
        let got = vectors(run)
        let reference = try expected("splade_max\(maxLength)")
        #expect(got.count == reference.count)
        for (i, (_, vector)) in got.enumerated() {
            var dense = [Float](repeating: 0, count: reference[i].count)
            for (key, value) in vector { dense[Int(key)!] = Float(value) }
            let error = zip(dense, reference[i]).map { abs($0 - $1) }.max()! / max(1, reference[i].max()!)
            #expect(error < 1e-4, "text \(i): \(error)")
        }
    }

    /// --timings names the OpenBLAS kernels, which OPENBLAS_CORETYPE chooses (sgemm runs about twice as fast on
    /// AVX-512 ones as on AVX2 ones where the processor has both).
    @Test func timingsNameTheOpenBLASKernels() throws {
        let run = try Tools.run("splade-encode", ["--model", model, "--lines", "--timings"], stdin: "東京都に住んでいます。\n",
                                environment: ["OPENBLAS_CORETYPE": "Sandybridge"])
        #expect(run.status == 0 && run.stderr.contains("(OpenBLAS Sandybridge kernels)"), "\(run.stderr)")
    }

    @Test func pretokenizedInputLinesAndPruning() throws {
        let direct = try Tools.shell("head -5 '\(texts)' | splade-encode --model '\(model)'")
        let piped = try Tools.shell("head -5 '\(texts)' | splade-tokenize --model '\(model)' | splade-encode --model '\(model)'")
        #expect(direct.status == 0 && direct.stdoutText == piped.stdoutText)
        let lines = try Tools.run("splade-encode", ["--model", model, "--lines", "--top-k", "3"], stdin: "東京都に住んでいます。\n")
        let vector = vectors(lines)[0]
        #expect(vector.id == "1" && vector.vector.count == 3)
        let full = try Tools.run("splade-encode", ["--model", model, "--lines"], stdin: "東京都に住んでいます。\n")
        let top3 = vectors(full)[0].vector.sorted { $0.value > $1.value }.prefix(3).map(\.key)
        #expect(Set(top3) == Set(vector.vector.keys))
        let thresholded = try Tools.run("splade-encode", ["--model", model, "--lines", "--threshold", "0.5"], stdin: "東京都に住んでいます。\n")
        #expect(vectors(thresholded)[0].vector.values.allSatisfy { $0 >= 0.5 })
    }

    /// A Hugging Face tokenizer's padded batch: the masked padding at the end is left out, as the model leaves it out
    /// (the same vector as the unpadded ids); what would shift positions or pair texts is refused.
    @Test func attentionMaskAndTokenTypesOfHuggingFaceRecords() throws {
        let plain = try Tools.run("splade-encode", ["--model", model, "--keys", "ids"], stdin: #"{"id":1,"input_ids":[2,700,3]}"# + "\n")
        let padded = try Tools.run("splade-encode", ["--model", model, "--keys", "ids"], stdin: #"""
            {"id":1,"input_ids":[2,700,3,0,0],"attention_mask":[1,1,1,0,0],"token_type_ids":[0,0,0,0,0]}

            """#)
        #expect(plain.status == 0 && padded.status == 0 && padded.stdoutText == plain.stdoutText, "\(padded.stderr)")
        for (record, message) in [
            (#"{"id":1,"input_ids":[0,2,700,3],"attention_mask":[0,1,1,1]}"#, "attention_mask[1] is 1 after a 0 at 0"),
            (#"{"id":1,"input_ids":[2,700,3],"attention_mask":[1,1]}"#, "attention_mask has 2 values for 3 token ids"),
            (#"{"id":1,"input_ids":[2,700,3],"attention_mask":[1,1,2]}"#, "attention_mask[2] (2) is not 0 or 1"),
            (#"{"id":1,"input_ids":[2,700,3,800,3],"token_type_ids":[0,0,0,1,1]}"#, "token_type_ids[3] is 1: a second text"),
            (#"{"id":1,"input_ids":[2,700,3,0],"attention_mask":[1,0,0,0]}"#, "attention_mask masks all but 1 of the 4 token ids"),
        ] {
            let refused = try Tools.run("splade-encode", ["--model", model], stdin: record + "\n")
            #expect(refused.status == 65 && refused.stderr.contains("<stdin>:1: " + message), "\(refused.stderr)")
        }
    }

    /// The fixture's first eight texts without their "n_tokens" field, which would pass through into JSON Lines but not
    /// into the binary stream (ids and vectors only).
    var firstEightTexts: String { "head -8 '\(texts)' | sed 's/, \"n_tokens\": [0-9]*//'" }

    @Test func binaryStreamRoundTripsThroughConvert() throws {
        let json = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)'")
        #expect(json.status == 0 && !json.stdoutText.contains("n_tokens"))
        let back = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' --format binary | splade-encode --convert --model '\(model)'")
        #expect(back.status == 0 && back.stdoutText == json.stdoutText)
        let again = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' | splade-encode --convert --model '\(model)' --format binary | splade-encode --convert --model '\(model)'")
        #expect(again.stdoutText == json.stdoutText)
        // JSON Lines keyed by token ids convert back (--input-keys ids) to the same stream.
        let byIds = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' --keys ids | splade-encode --convert "
                                    + "--model '\(model)' --input-keys ids --format binary | splade-encode --convert --model '\(model)'")
        #expect(byIds.status == 0 && byIds.stdoutText == json.stdoutText, "\(byIds.stderr)")
        // Token strings read as ids: the hint names this tool's option.
        let misread = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' | splade-encode --convert "
                                      + "--model '\(model)' --input-keys ids")
        #expect(misread.status == 65 && misread.stderr.contains("not ids: --input-keys tokens\n"), "\(misread.stderr)")
    }

    /// Pruning stored vectors: --convert with --top-k and --threshold gives what encoding with them gives.
    /// The binary stream is refused on a terminal (64, before the model loads); JSON Lines are text and go there.
    @Test func binaryIsNotWrittenToATerminal() throws {
        let input = #"{"id": 1, "text": "東京"}"# + "\n"
        let binary = try Tools.run("splade-encode", ["--model", model, "--format", "binary"], stdin: input, stdoutOnTerminal: true)
        #expect(binary.status == 64 && binary.stdout.isEmpty, "\(binary.stderr)")
        #expect(binary.stderr.contains("hint: redirect it"), "\(binary.stderr)")
        let viaDevice = try Tools.run("splade-encode", ["--model", model, "--format", "binary", "-o", "/dev/stdout"], stdin: input,
                                      stdoutOnTerminal: true)
        #expect(viaDevice.status == 64 && viaDevice.stderr.contains("/dev/stdout: the vector stream is binary"), "\(viaDevice.stderr)")
        let terminal = try Tools.pseudoTerminal()
        let byName = try Tools.run("splade-encode", ["--model", model, "--format", "binary", "-o", terminal.path], stdin: input)
        #expect(byName.status == 64 && byName.stderr.contains("\(terminal.path): the vector stream is binary"), "\(byName.stderr)")
        let json = try Tools.run("splade-encode", ["--model", model], stdin: input, stdoutOnTerminal: true)
        #expect(json.status == 0 && json.stdoutText.hasPrefix(#"{"id":1,"#), "\(json.stderr) \(json.stdoutText.debugDescription)")
    }

    @Test func convertPrunesAsEncodingDoes() throws {
        let pruning = "--top-k 7 --threshold 0.3"
        let encoded = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' \(pruning)")
        let converted = try Tools.shell("\(firstEightTexts) | splade-encode --model '\(model)' --format binary "
                                        + "| splade-encode --convert --model '\(model)' \(pruning)")
        #expect(converted.status == 0 && converted.stdoutText == encoded.stdoutText, "\(converted.stderr)")
        #expect(vectors(converted).allSatisfy { $0.vector.count <= 7 && $0.vector.values.allSatisfy { $0 >= 0.3 } })
        #expect(vectors(converted).contains { $0.vector.count == 7 })
    }

    @Test func corruptOrTruncatedStreamsExit65() throws {
        let dir = NSTemporaryDirectory() + "splade-enc-\(UUID())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try Tools.run("splade-encode", ["--model", model, "--format", "binary", "-i", texts, "-o", dir + "/v.bin"])
        #expect(made.status == 0)
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/v.bin"))
        try data.prefix(data.count * 2 / 3).write(to: URL(fileURLWithPath: dir + "/cut.bin"))
        let cut = try Tools.run("splade-encode", ["--convert", "--keys", "ids", "-i", dir + "/cut.bin"])
        #expect(cut.status == 65)
        #expect(cut.stderr.contains("cut.bin"), "\(cut.stderr)")
        // A whole stream with its end record removed (recompressed) is caught too.
        let raw = try Tools.shell("zstd -dc '\(dir)/v.bin' > '\(dir)/v.raw' && head -c 5000 '\(dir)/v.raw' | zstd -q -c > '\(dir)/short.bin'")
        #expect(raw.status == 0)
        let short = try Tools.run("splade-encode", ["--convert", "--keys", "ids", "-i", dir + "/short.bin"])
        #expect(short.status == 65 && short.stderr.contains("cut short"), "\(short.stderr)")
        // A term given twice in one JSON vector (the same key, or two spellings of one id) is the writer's bug.
        let twice = try Tools.run("splade-encode", ["--convert", "--keys", "ids"],
                                  stdin: "{\"id\":1,\"vector\":{\"5\":1}}\n{\"id\":2,\"vector\":{\"5\":1,\"7\":2,\"5\":3}}\n")
        #expect(twice.status == 65 && twice.stderr.contains("<stdin>:2: \"5\" is given twice"), "\(twice.stderr)")
        let spelt = try Tools.run("splade-encode", ["--convert", "--keys", "ids"], stdin: "{\"id\":1,\"vector\":{\"7\":1,\"07\":2}}\n")
        #expect(spelt.status == 65 && spelt.stderr.contains("\"7\" and \"07\" name the same token (id 7)"), "\(spelt.stderr)")
    }

    @Test func vocabularyMismatchAndMissingWeights() throws {
        let dir = NSTemporaryDirectory() + "splade-vocab-\(UUID())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for file in ["config.json", "model.safetensors", "tokenizer_config.json"] {
            try FileManager.default.copyItem(atPath: model + "/" + file, toPath: dir + "/" + file)
        }
        let vocabulary = try String(contentsOfFile: model + "/vocab.txt", encoding: .utf8)
        try (vocabulary + "[EXTRA]\n").write(toFile: dir + "/vocab.txt", atomically: true, encoding: .utf8)
        let mismatch = try Tools.run("splade-encode", ["--model", dir, "--lines"], stdin: "a\n")
        #expect(mismatch.status == 65)
        #expect(mismatch.stderr.contains("6000") && mismatch.stderr.contains("6001"), "\(mismatch.stderr)")
        try FileManager.default.removeItem(atPath: dir + "/model.safetensors")
        let missing = try Tools.run("splade-encode", ["--model", dir, "--lines"], stdin: "a\n")
        #expect(missing.status == 66 && missing.stderr.contains("no model.safetensors"), "\(missing.stderr)")
    }

    @Test func exitStatusesOfTheCommonConventions() throws {
        let bad = try Tools.run("splade-encode", ["--model", model], stdin: "{\"id\":1,\"text\":\"a\"}\n{\"id\":2}\n")
        #expect(bad.status == 65 && bad.stderr.contains("<stdin>:2: missing field \"text\""))
        let skipped = try Tools.run("splade-encode", ["--model", model, "--skip-invalid"], stdin: "{\"id\":1,\"text\":\"a\"}\n{\"id\":2}\n")
        #expect(skipped.status == 0 && skipped.stdoutLines.count == 1 && skipped.stderr.contains("skipped 1 invalid record"))
        let badIds = try Tools.run("splade-encode", ["--model", model], stdin: "{\"id\":1,\"input_ids\":[2,999999,3]}\n")
        #expect(badIds.status == 65)
        let notAnArray = try Tools.run("splade-encode", ["--model", model], stdin: "{\"id\":1,\"input_ids\":\"2 5 3\"}\n")
        #expect(notAnArray.status == 65 && notAnArray.stderr.contains("<stdin>:1: input_ids is string"), "\(notAnArray.stderr)")
        #expect(try Tools.run("splade-encode", ["--model", model, "--batch-size", "0"]).status == 64)
        #expect(try Tools.run("splade-encode", ["--model", model, "--threshold", "nan"]).status == 64)
        let long = try Tools.run("splade-encode", ["--model", model, "--max-length", "513", "--lines"], stdin: "短い\n")
        #expect(long.status == 64 && long.stderr.contains("exceeds the model's 512 positions"), "\(long.stderr)")
        #expect(try Tools.run("splade-encode", ["--convert", "--format", "binary"], stdin: "{\"id\":1,\"vector\":{\"3\":1}}\n").status == 64)
        for textOption in [["--lines"], ["--field", "title"], ["--timings"], ["--id-field", "docid"]] {
            let misplaced = try Tools.run("splade-encode", ["--convert", "--model", model] + textOption)
            #expect(misplaced.status == 64 && misplaced.stderr.contains("--convert reads vectors"), "\(misplaced.stderr)")
        }
        // Options that would otherwise be silently ignored, and an empty file name, refused before any work.
        let skipping = try Tools.run("splade-encode", ["--convert", "--model", model, "--skip-invalid"])
        #expect(skipping.status == 64 && skipping.stderr.contains("--skip-invalid applies to texts"), "\(skipping.stderr)")
        let idOfLines = try Tools.run("splade-encode", ["--model", model, "--lines", "--id-field", "x"], stdin: "a\n")
        #expect(idOfLines.status == 64 && idOfLines.stderr.contains("--id-field applies to JSON Lines input"), "\(idOfLines.stderr)")
        let unnamed = try Tools.run("splade-encode", ["--model", model, "--lines", "-o", ""], stdin: "a\n")
        #expect(unnamed.status == 64 && unnamed.stderr.contains("-o needs a file name"), "\(unnamed.stderr)")
        let full = try Tools.run("splade-encode", ["--model", model, "--lines"], stdin: "a\n", stdoutPath: "/dev/full")
        #expect(full.status == 74)
        let head = try Tools.shell("splade-encode --model '\(model)' -i '\(texts)' | head -1")
        #expect(head.status == 0 && head.stdoutLines.count == 1 && head.stderr.isEmpty, "\(head.stderr)")
    }

    /// A hang-up (a dropped ssh session) removes the temporary output as SIGINT and SIGTERM do; a signal ignored from
    /// the start stays ignored — SIGHUP under nohup, SIGINT in a script's background job — and the tool finishes. The
    /// input is a named pipe the script holds open, so the tool is still running, its temporary output made, when the
    /// signal comes.
    @Test func aHangUpLeavesNoTemporaryOutputAndIgnoredSignalsStayIgnored() throws {
        let directory = NSTemporaryDirectory() + "splade-hup-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func interrupt(_ signal: String, ignored: Bool, output: String) -> String {
            """
            mkfifo in-\(output)
            ( \(ignored ? "trap '' \(signal);" : "") exec splade-encode --model '\(model)' --lines --threads 1 -i in-\(output) \
              -o \(output) >/dev/null 2>&1 ) & pid=$!
            exec 3<>in-\(output); echo 東京 >&3
            for i in $(seq 300); do ls .\(output).tmp.* >/dev/null 2>&1 && break; sleep 0.1; done
            kill -\(signal) $pid && echo "sent \(output)"; exec 3>&-; wait $pid; echo "\(output) $?"; rm in-\(output)
            """
        }
        let script = [interrupt("HUP", ignored: false, output: "hup.jsonl"), interrupt("HUP", ignored: true, output: "nohup.jsonl"),
                      interrupt("INT", ignored: false, output: "int.jsonl"), interrupt("INT", ignored: true, output: "noint.jsonl")]
        let run = try Tools.shell("cd '\(directory)'\n" + script.joined(separator: "\n"))
        #expect(run.stdoutText == """
            sent hup.jsonl\nhup.jsonl 129\nsent nohup.jsonl\nnohup.jsonl 0\nsent int.jsonl\nint.jsonl 130\nsent noint.jsonl\nnoint.jsonl 0\n
            """, "\(run.stdoutText) \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == ["nohup.jsonl", "noint.jsonl"])
    }
}
