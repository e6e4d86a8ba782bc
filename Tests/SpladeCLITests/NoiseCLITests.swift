import Foundation
import Testing

/// splade-noise as a user runs it on the real bert-base-japanese-v3 vocabulary.
@Suite(.enabled(if: FileManager.default.fileExists(atPath: Tools.data("bert-base-japanese-v3/vocab.txt"))
                    && FileManager.default.fileExists(atPath: Tools.projectRoot + "/deps/unidic-lite/sys.dic"),
                "needs ../shared/data and the unidic-lite dictionary (make deps)"))
struct NoiseCLITests {
    let v3 = Tools.data("bert-base-japanese-v3")

    func file(_ text: String) throws -> String {
        let path = NSTemporaryDirectory() + "/noise-cli-\(UUID().uuidString).txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func formatsAgree() throws {
        let yaml = try Tools.run("splade-noise", ["--model", v3])
        let json = try Tools.run("splade-noise", ["--model", v3, "--format", "json"])
        let ids = try Tools.run("splade-noise", ["--model", v3, "--format", "ids"])
        #expect(yaml.status == 0 && json.status == 0 && ids.status == 0, "\(yaml.stderr)")
        #expect(yaml.stderr == "splade-noise: 341 noise tokens of 32768\n")

        let tokens = try JSONSerialization.jsonObject(with: json.stdout) as! [String]
        #expect(tokens.count == 341)
        #expect(Array(tokens.prefix(4)) == ["!", "\"", "#", "$"])
        // The YAML value is the same list, space-separated, as a JSON-style double-quoted string.
        #expect(yaml.stdoutText.hasPrefix(#"noise_tokens: "! \" # $"#))
        let value = String(yaml.stdoutText.dropFirst("noise_tokens: ".count).dropLast())
        #expect(try JSONSerialization.jsonObject(with: Data(value.utf8), options: .fragmentsAllowed) as? String
                == tokens.joined(separator: " "))

        let vocabulary = try String(contentsOfFile: v3 + "/vocab.txt", encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(ids.stdoutLines.map { vocabulary[Int($0)!] } == tokens)
    }

    @Test func optionsAddTokens() throws {
        let run = try Tools.run("splade-noise", ["--model", v3, "--format", "json", "--special-tokens", "--small-kana",
                                                 "--extra", try file("〇 ゝ\nÅ\n")])
        #expect(run.status == 0, "\(run.stderr)")
        let tokens = try JSONSerialization.jsonObject(with: run.stdout) as! [String]
        for token in ["[CLS]", "[SEP]", "[UNK]", "ゃ", "ョ", "〇", "ゝ", "Å"] { #expect(tokens.contains(token), "\(token)") }
        #expect(!tokens.contains("ヶ"))
    }

    /// A vocabulary with tokens that hold whitespace (none of v3's do): the YAML string, which the trainers split at
    /// whitespace, leaves them out and says so; JSON lists them.
    @Test func tokensHoldingWhitespaceAreLeftOutOfTheYAMLWithAWarning() throws {
        let model = NSTemporaryDirectory() + "/noise-model-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: v3 + "/tokenizer_config.json", toPath: model + "/tokenizer_config.json")
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n!\n\u{3000}\n!\u{3000}!\n".write(toFile: model + "/vocab.txt", atomically: true, encoding: .utf8)
        let yaml = try Tools.run("splade-noise", ["--model", model])
        #expect(yaml.status == 0 && yaml.stdoutText == #"noise_tokens: "!""# + "\n", "\(yaml.stderr)")
        #expect(yaml.stderr.contains(#"warning: 2 tokens holding whitespace left out of noise_tokens"#)
                && yaml.stderr.contains(#""\#u{3000}", "!\#u{3000}!""#), "\(yaml.stderr)")
        let json = try Tools.run("splade-noise", ["--model", model, "--format", "json"])
        #expect(json.stdoutText == "[\"!\",\"\u{3000}\",\"!\u{3000}!\"]\n" && !json.stderr.contains("warning"), "\(json.stdoutText)")
        // Nothing left for the string: an empty one would be read as one empty token, [UNK].
        try "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n\u{3000}\n".write(toFile: model + "/vocab.txt", atomically: true, encoding: .utf8)
        let none = try Tools.run("splade-noise", ["--model", model])
        #expect(none.status == 65 && none.stdoutText.isEmpty && none.stderr.contains("every noise token holds whitespace"), "\(none.stderr)")
    }

    @Test func exitStatuses() throws {
        let extra = try file("、 not-a-token\n")
        let unknown = try Tools.run("splade-noise", ["--model", v3, "--extra", extra])
        #expect(unknown.status == 65)
        #expect(unknown.stderr.hasPrefix("splade-noise: error: \(extra):1: extra token \"not-a-token\" is not in the vocabulary"))
        #expect(try Tools.run("splade-noise", ["--model", "/nonexistent"]).status == 66)
        #expect(try Tools.run("splade-noise", ["--model", v3, "--format", "xml"]).status == 64)
        #expect(try Tools.run("splade-noise", ["--model", v3], stdoutPath: "/dev/full").status == 74)
        let help = try Tools.run("splade-noise", ["--help"])
        #expect(help.stdoutText.contains("EXAMPLES") && help.stdoutText.contains("EXIT STATUS"))
    }
}
