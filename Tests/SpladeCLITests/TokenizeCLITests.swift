import Foundation
import Testing

/// splade-tokenize as a user runs it: end-to-end parity, options, and every exit status it can give.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"))
struct TokenizeCLITests {
    let jaTiny = Tools.fixtures + "/ja-tiny/model"
    let v3 = Tools.data("bert-base-japanese-v3")

    func expectedIds(_ fixture: String) throws -> [String] {
        let text = try String(contentsOfFile: Tools.fixtures + "/" + fixture, encoding: .utf8)
        return text.split(separator: "\n").map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return "\(object["input_ids"]!)"
        }
    }

    func outputIds(_ run: ToolRun) -> [String] {
        run.stdoutLines.map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return "\(object["input_ids"]!)"
        }
    }

    @Test(arguments: [1, 2])
    func fixtureIdsThroughTheCommandLineAtAnyThreadCount(threads: Int) throws {
        let run = try Tools.run("splade-tokenize", ["--model", v3, "--threads", "\(threads)",
                                                    "-i", Tools.fixtures + "/ja-v3/tokenize.jsonl"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(outputIds(run) == (try expectedIds("ja-v3/tokenize.jsonl")))
    }

    /// --progress into a log (stderr a pipe here): plain lines, no terminal control sequences, and a last line
    /// with the counts even when the run is shorter than the ten-second interval; one record is "1 record".
    @Test func progressIntoALogIsPlainLines() throws {
        let input = String(repeating: #"{"id": 1, "text": "東京都に住んでいます。"}"# + "\n", count: 50)
        let run = try Tools.run("splade-tokenize", ["--model", jaTiny, "--progress"], stdin: input)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("\u{1B}") && !run.stderr.contains("\r"), "\(run.stderr.debugDescription)")
        #expect(run.stderr.hasPrefix("tokenize: 50 records ("), "\(run.stderr)")
        #expect(run.stderr.hasSuffix("\n") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        let one = try Tools.run("splade-tokenize", ["--model", jaTiny, "--lines", "--progress"], stdin: "東京\n")
        #expect(one.stderr.hasPrefix("tokenize: 1 record ("), "\(one.stderr)")
    }

    @Test func outputShapeIdsAndOtherFieldsPassThroughAndTokens() throws {
        let input = #"{"id": 7, "text": "東京都に住んでいます。", "extra": 1, "meta": {"url": "u\u00e9", "n": [1, 2.50]}, "tokens": 0}"#
            + "\n" + #"{"id": "b", "text": ""}"# + "\n"
        let run = try Tools.run("splade-tokenize", ["--model", jaTiny, "--tokens"], stdin: input)
        #expect(run.status == 0)
        #expect(run.stdoutLines == [
            #"{"id":7,"extra":1,"meta":{"url":"ué","n":[1,2.50]},"input_ids":[2,4292,2094,221,5851,217,186,4183,171,3],"#
                + #""tokens":["[CLS]","東京","都","に","住ん","で","い","ます","。","[SEP]"]}"#,
            #"{"id":"b","input_ids":[2,3],"tokens":["[CLS]","[SEP]"]}"#,
        ])
        // splade-encode passes them on, from texts and from splade-tokenize's records alike; the binary stream drops them.
        let record = #"{"id":"d","title":"東京","text":"都","lang":"ja","attention_mask":[1,1,1]}"#
        let direct = try Tools.shell("echo '\(record)' | splade-encode --model '\(jaTiny)' --field text --top-k 1")
        let piped = try Tools.shell("echo '\(record)' | splade-tokenize --model '\(jaTiny)' --field text --tokens "
                                    + "| splade-encode --model '\(jaTiny)' --top-k 1")
        #expect(direct.status == 0 && direct.stdoutText.hasPrefix(#"{"id":"d","title":"東京","lang":"ja","vector":{"#), "\(direct.stdoutText)")
        #expect(piped.stdoutText == direct.stdoutText, "\(piped.stdoutText)")
        let binary = try Tools.shell("echo '\(record)' | splade-encode --model '\(jaTiny)' --format binary --top-k 1 "
                                     + "| splade-encode --convert --model '\(jaTiny)'")
        #expect(binary.stdoutText.hasPrefix(#"{"id":"d","vector":{"#), "\(binary.stdoutText)")
        let converted = try Tools.shell("echo '\(record)' | splade-encode --model '\(jaTiny)' --top-k 1 | splade-encode --convert --model '\(jaTiny)'")
        #expect(converted.stdoutText.hasPrefix(#"{"id":"d","vector":{"#), "\(converted.stdoutText)")
        // The output's id is always "id": an input "id" beside the --id-field does not pass through (it would be a second "id").
        let renamed = #"{"_id":"d1","id":7,"text":"都","lang":"ja"}"#
        let tokenized = try Tools.shell("echo '\(renamed)' | splade-tokenize --model '\(jaTiny)' --id-field _id")
        #expect(tokenized.stdoutText == #"{"id":"d1","lang":"ja","input_ids":[2,2094,3]}"# + "\n", "\(tokenized.stdoutText)")
        let encoded = try Tools.shell("echo '\(renamed)' | splade-encode --model '\(jaTiny)' --id-field _id --top-k 1")
        #expect(encoded.stdoutText.hasPrefix(#"{"id":"d1","lang":"ja","vector":{"#), "\(encoded.stdoutText)")
    }

    @Test func plainLinesFieldsAndMaxLength() throws {
        let lines = try Tools.run("splade-tokenize", ["--model", jaTiny, "--lines", "--max-length", "4"],
                                  stdin: "東京都に住んでいます。\n\n")
        #expect(lines.stdoutLines == [#"{"id":1,"input_ids":[2,4292,2094,3]}"#, #"{"id":2,"input_ids":[2,3]}"#])
        let joined = try Tools.run("splade-tokenize", ["--model", jaTiny, "--field", "title,text"],
                                   stdin: #"{"id":"d","title":"東京","text":"都"}"# + "\n")
        #expect(joined.stdoutLines == [#"{"id":"d","input_ids":[2,4292,2094,3]}"#])
    }

    @Test(arguments: [
        ("not json\n", "<stdin>:1: invalid JSON"),
        ("{\"id\":1,\"text\":\"ok\"}\n{\"id\":2}\n", "<stdin>:2: missing field \"text\""),
        ("{\"id\":1,\"text\":3}\n", "<stdin>:1: field \"text\" is number, expected a string"),
        ("{\"text\":\"x\"}\n", "<stdin>:1: missing field \"id\""),
        ("[1]\n", "<stdin>:1: expected a JSON object"),
    ])
    func badRecordsExit65WithTheirLocation(input: String, message: String) throws {
        let run = try Tools.run("splade-tokenize", ["--model", jaTiny], stdin: input)
        #expect(run.status == 65)
        #expect(run.stderr.contains("splade-tokenize: error: \(message)"), "\(run.stderr)")
    }

    /// Plain text given as JSON Lines is said to want --lines, in both tools that read texts; broken JSON is not.
    @Test(arguments: ["splade-tokenize", "splade-encode"])
    func plainTextWithoutLinesGetsAHint(tool: String) throws {
        let plain = try Tools.run(tool, ["--model", jaTiny], stdin: "東京都に住んでいます。\n")
        #expect(plain.status == 65 && plain.stderr.contains("<stdin>:1: invalid JSON")
                && plain.stderr.contains("hint: use --lines for plain text input"), "\(plain.stderr)")
        let broken = try Tools.run(tool, ["--model", jaTiny], stdin: "{\"id\":1,\"text\":\"東京\"\n")
        #expect(broken.status == 65 && !broken.stderr.contains("hint:"), "\(broken.stderr)")
    }

    @Test func invalidUTF8Exits65() throws {
        let path = NSTemporaryDirectory() + "splade-bad-\(UUID()).jsonl"
        try Data(Array("{\"id\":1,\"text\":\"ok\"}\n{\"id\":2,\"text\":\"".utf8) + [0xFF] + Array("\"}\n".utf8))
            .write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-tokenize", ["--model", jaTiny, "-i", path])
        #expect(run.status == 65)
        #expect(run.stderr.contains("error: \(path):2: invalid UTF-8"), "\(run.stderr)")
    }

    /// Blank lines of JSON Lines are no records, a byte order mark no part of the first, in both tools that read texts.
    @Test(arguments: ["splade-tokenize", "splade-encode"])
    func blankLinesAndAByteOrderMarkAreNoRecords(tool: String) throws {
        let input = "\u{FEFF}{\"id\":1,\"text\":\"東京\"}\n\n   \n{\"id\":2,\"text\":\"大阪\"}\n"
        let run = try Tools.run(tool, ["--model", jaTiny], stdin: input)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutLines.map { $0.prefix(8) } == ["{\"id\":1,", "{\"id\":2,"])
    }

    /// MeCab refuses a text whose best path costs more than 2^31 - 1 (here 71,000 × ",1"): a bad record (65 with its
    /// line, or skipped).
    @Test(arguments: ["splade-tokenize", "splade-encode"])
    func aTextMeCabRefusesIsABadRecord(tool: String) throws {
        let input = "short\n" + String(repeating: ",1", count: 71_000) + "\nshort\n"
        let run = try Tools.run(tool, ["--model", jaTiny, "--lines"], stdin: input)
        #expect(run.status == 65 && run.stderr.contains("<stdin>:2: MeCab cannot analyse this text"), "\(run.stderr)")
        let skipped = try Tools.run(tool, ["--model", jaTiny, "--lines", "--skip-invalid"], stdin: input)
        #expect(skipped.status == 0 && skipped.stdoutLines.count == 2, "\(skipped.stderr)")
    }

    @Test func skipInvalidWarnsCountsAndContinues() throws {
        let input = "{\"id\":1,\"text\":\"a\"}\nbroken\n{\"id\":3,\"text\":\"b\"}\n"
        let run = try Tools.run("splade-tokenize", ["--model", jaTiny, "--skip-invalid"], stdin: input)
        #expect(run.status == 0)
        #expect(run.stdoutLines.count == 2)
        #expect(run.stderr.contains("warning: <stdin>:2: invalid JSON"))
        #expect(run.stderr.contains("skipped 1 invalid record"))
        // Past 20, one more warning says that the rest are only counted.
        let many = try Tools.run("splade-tokenize", ["--model", jaTiny, "--skip-invalid"], stdin: String(repeating: "broken\n", count: 30))
        #expect(many.status == 0 && many.stderr.split(separator: "\n").filter { $0.contains("invalid JSON") }.count == 21)
        #expect(many.stderr.contains("<stdin>:21: invalid JSON") && many.stderr.contains("(skipped; further invalid records are only counted)")
                && many.stderr.contains("skipped 30 invalid records (the first 21 named above)"), "\(many.stderr)")
    }

    @Test func missingInputsExit66() throws {
        let noFile = try Tools.run("splade-tokenize", ["--model", jaTiny, "-i", "/nonexistent/docs.jsonl"])
        #expect(noFile.status == 66)
        #expect(noFile.stderr.contains("/nonexistent/docs.jsonl: cannot open"))
        let noModel = try Tools.run("splade-tokenize", ["--model", "/nonexistent/model"], stdin: "")
        #expect(noModel.status == 66)
        #expect(noModel.stderr.contains("model directory not found"))
        let noDictionary = try Tools.run("splade-tokenize", ["--model", jaTiny, "--mecab-dic", "/nonexistent/dic"], stdin: "")
        #expect(noDictionary.status == 66)
        #expect(noDictionary.stderr.contains("MeCab dictionary directory not found"))
    }

    @Test func usageErrorsExit64() throws {
        #expect(try Tools.run("splade-tokenize", ["--no-such-option"]).status == 64)
        #expect(try Tools.run("splade-tokenize", ["--model", jaTiny, "--max-length", "1"]).status == 64)
        for names in [",", "", "title,,text"] {
            let empty = try Tools.run("splade-tokenize", ["--model", jaTiny, "--field", names], stdin: "{\"id\":1,\"text\":\"a\"}\n")
            #expect(empty.status == 64 && empty.stderr.contains("--field takes field names, none of them empty"), "\(empty.stderr)")
        }
        let noModel = try Tools.run("splade-tokenize", [], stdin: "", environment: ["SPLADE_MODEL": ""])
        #expect(noModel.status == 64)
        #expect(noModel.stderr.contains("no model: pass --model DIR or set SPLADE_MODEL"))
        let help = try Tools.run("splade-tokenize", ["--help"])
        #expect(help.status == 0 && help.stdoutText.contains("EXIT STATUS") && help.stdoutText.contains("74"))
    }

    @Test func outputFailuresExit73And74() throws {
        let cannotCreate = try Tools.run("splade-tokenize", ["--model", jaTiny, "--lines", "-o", "/nonexistent/dir/out.jsonl"], stdin: "a\n")
        #expect(cannotCreate.status == 73)
        let full = try Tools.run("splade-tokenize", ["--model", jaTiny, "--lines"], stdin: "a\n", stdoutPath: "/dev/full")
        #expect(full.status == 74)
        #expect(full.stderr.contains("write failed"))
    }

    @Test func closedPipeEndsQuietly() throws {
        let run = try Tools.shell("splade-tokenize --model '\(v3)' -i '\(Tools.fixtures)/ja-v3/tokenize.jsonl' | head -1")
        #expect(run.status == 0)
        #expect(run.stdoutLines.count == 1)
        #expect(run.stderr.isEmpty, "\(run.stderr)")
    }

    @Test func fileOutputIsAtomic() throws {
        let dir = NSTemporaryDirectory() + "splade-atomic-\(UUID())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let good = try Tools.run("splade-tokenize", ["--model", jaTiny, "--lines", "-o", dir + "/out.jsonl"], stdin: "a\nb\n")
        #expect(good.status == 0)
        #expect(try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8).split(separator: "\n").count == 2)
        // A failing run leaves the previous file untouched and no temporary file behind.
        let bad = try Tools.run("splade-tokenize", ["--model", jaTiny, "-o", dir + "/out.jsonl"], stdin: "{\"id\":1,\"text\":\"x\"}\nbad\n")
        #expect(bad.status == 65)
        #expect(try String(contentsOfFile: dir + "/out.jsonl", encoding: .utf8).split(separator: "\n").count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.jsonl"])
    }
}
