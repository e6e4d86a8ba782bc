import Foundation
import Testing

/// `splade-index --export ciff` and `splade-index -i FILE.ciff`, through the built tools.
@Suite(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
struct CIFFCLITests {
    let model = IndexCLISupport.model

    /// The lines of a run, scores included: a CIFF of ours records its index's impact scale, which the import takes.
    func ranking(_ index: String, queries: String) throws -> [String] {
        let run = try Tools.run("splade-search", ["--index", index, "--vectors", "--model", model, "--keys", "ids", "-k", "10",
                                                  "-i", queries])
        #expect(run.status == 0, "\(run.stderr)")
        return run.stdoutLines
    }

    func export(_ index: String, to path: String, keys: String) throws {
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let run = try Tools.run("splade-index", ["--export", "ciff", "--index", index, "--keys", keys], stdoutPath: path)
        #expect(run.status == 0, "\(run.stderr)")
    }

    @Test func exportThenImportSearchesTheSame() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        let index = try IndexCLISupport.buildIndex(in: directory)
        let queries = directory + "/queries.jsonl"
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 20, prefix: "q", seed: 9), to: queries)
        let expected = try ranking(index, queries: queries)
        #expect(expected.count == 200)

        for keys in ["tokens", "ids"] {
            let ciff = directory + "/\(keys).ciff"
            try export(index, to: ciff, keys: keys)
            let copy = directory + "/copy-\(keys)"
            let run = try Tools.run("splade-index", ["--model", model, "--keys", keys, "-i", ciff, "-o", copy])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("indexed 300 documents (CIFF)"))
            #expect(try ranking(copy, queries: queries) == expected, "--keys \(keys)")
        }
        // Exporting the copy gives the same postings and documents again (the header's description
        // names the index and its scale).
        try export(directory + "/copy-ids", to: directory + "/again.ciff", keys: "ids")
        func afterHeader(_ path: String) throws -> Data {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            var i = data.startIndex, length = 0, shift = 0
            while true {
                let byte = Int(data[i])
                length |= (byte & 0x7F) << shift
                i += 1
                shift += 7
                if byte < 0x80 { break }
            }
            return data[(i + length)...]
        }
        let first = try afterHeader(directory + "/ids.ciff"), again = try afterHeader(directory + "/again.ciff")
        #expect(first.count > 1000 && first == again)
        // -o FILE holds what standard output gets.
        let toFile = try Tools.run("splade-index", ["--export", "ciff", "--index", index, "--keys", "ids", "-o", directory + "/option.ciff"])
        #expect(toFile.status == 0 && toFile.stdout.isEmpty, "\(toFile.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: directory + "/option.ciff"))
                == Data(contentsOf: URL(fileURLWithPath: directory + "/ids.ciff")))
        // A terminal gets no binary: 64 before anything is read, and nothing on the screen.
        let onTerminal = try Tools.run("splade-index", ["--export", "ciff", "--index", index], stdoutOnTerminal: true)
        #expect(onTerminal.status == 64 && onTerminal.stdout.isEmpty, "\(onTerminal.stderr)")
        #expect(onTerminal.stderr.contains("<stdout>: CIFF is binary and will not be written to a terminal"), "\(onTerminal.stderr)")
    }

    /// A BM25 index's export comes back as a BM25 index (text queries tokenized, not encoded) with its parameters.
    @Test func aBM25IndexComesBackAsOne() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let corpus = ["wing flutter at supersonic speed", "boundary layer transition on a flat plate",
                      "heat transfer in hypersonic flow", "flutter of panels", "the boundary layer of a wing"]
        try IndexCLISupport.write(corpus.enumerated().map { "{\"id\":\"c\($0.offset)\",\"text\":\"\($0.element)\"}\n" }.joined(),
                                  to: directory + "/corpus.jsonl")
        let built = try Tools.shell("splade-tokenize --model '\(model)' -i '\(directory)/corpus.jsonl' | splade-index --bm25 --k1 1.2 --b 0.75 "
                                    + "--model '\(model)' -o '\(directory)/bm25' --quiet "
                                    + "&& splade-index --export ciff --index '\(directory)/bm25' > '\(directory)/bm25.ciff' "
                                    + "&& splade-index --model '\(model)' -i '\(directory)/bm25.ciff' -o '\(directory)/copy' --quiet")
        #expect(built.status == 0, "\(built.stderr)")
        let queries = "{\"id\":\"q1\",\"text\":\"wing flutter\"}\n{\"id\":\"q2\",\"text\":\"boundary layer\"}\n"
        func search(_ index: String) throws -> [String] {
            let run = try Tools.run("splade-search", ["--index", directory + "/" + index, "--model", model, "-k", "3"], stdin: queries)
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdoutLines
        }
        let original = try search("bm25")
        #expect(original.count == 5 && original.allSatisfy { $0.hasSuffix(" bm25") })
        #expect(try search("copy") == original)
        func manifest(_ index: String) throws -> [String: Any] {
            let generation = try String(contentsOfFile: directory + "/\(index)/CURRENT", encoding: .utf8).trimmingCharacters(in: .newlines)
            let data = try Data(contentsOf: URL(fileURLWithPath: directory + "/\(index)/\(generation)/manifest.json"))
            return try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        }
        let copy = try manifest("copy"), exported = try manifest("bm25")
        let parameters = copy["bm25"] as? [String: Double]
        #expect(copy["kind"] as? String == "bm25")
        #expect(parameters?["k1"] == 1.2 && parameters?["b"] == 0.75 && parameters == exported["bm25"] as? [String: Double])
    }

    @Test func compressedAndStandardInput() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        let index = try IndexCLISupport.buildIndex(in: directory, count: 50)
        try export(index, to: directory + "/x.ciff", keys: "ids")
        let zstd = try Tools.shell("zstd -q -f \(directory)/x.ciff -o \(directory)/x.ciff.zst "
                                   + "&& splade-index --model \(model) --keys ids -i \(directory)/x.ciff.zst -o \(directory)/z --quiet "
                                   + "&& splade-index --model \(model) --keys ids --input-format ciff -o \(directory)/s --quiet < \(directory)/x.ciff")
        #expect(zstd.status == 0, "\(zstd.stderr)")
    }

    @Test func badInputExits65WithTheByteOrTerm() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        let index = try IndexCLISupport.buildIndex(in: directory, count: 50)
        let ciff = directory + "/x.ciff"
        try export(index, to: ciff, keys: "ids")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: ciff))
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: directory + "/cut.ciff"))
        let cut = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/cut.ciff", "-o", directory + "/c"])
        #expect(cut.status == 65 && cut.stderr.contains("cut.ciff: ") && cut.stderr.contains("byte"), "\(cut.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/c/CURRENT"))

        // Token ids read as token strings: some ids are no token of the vocabulary.
        let asTokens = try Tools.run("splade-index", ["--model", model, "-i", ciff, "-o", directory + "/t"])
        #expect(asTokens.status == 65 && asTokens.stderr.contains("is not in the vocabulary")
                && asTokens.stderr.contains("(message "), "\(asTokens.stderr)")
    }

    @Test func usageAndWriteErrors() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        let index = try IndexCLISupport.buildIndex(in: directory, count: 50)
        let noIndex = try Tools.run("splade-index", ["--export", "ciff"])
        #expect(noIndex.status == 64 && noIndex.stderr.contains("--index"), "\(noIndex.stderr)")
        let bm25 = try Tools.run("splade-index", ["--model", model, "--bm25", "-i", "x.ciff", "-o", directory + "/b"])
        #expect(bm25.status == 64, "\(bm25.stderr)")
        let noModel = try Tools.run("splade-index", ["-i", directory + "/x.ciff", "-o", directory + "/n"], environment: ["SPLADE_MODEL": ""])
        #expect(noModel.status == 64 && noModel.stderr.contains("--model"), "\(noModel.stderr)")
        let full = try Tools.run("splade-index", ["--export", "ciff", "--index", index], stdoutPath: "/dev/full")
        #expect(full.status == 74, "\(full.stderr)")
        let piped = try Tools.shell("splade-index --export ciff --index \(index) | head -c 10 > /dev/null")
        #expect(piped.status == 0, "\(piped.stderr)")
    }
}
