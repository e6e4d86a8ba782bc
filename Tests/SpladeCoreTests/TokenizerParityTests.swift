import Foundation
import Testing
@testable import SpladeCore

/// Token ids must be identical to transformers' on every fixture text: 100% is the bar.
@Suite struct TokenizerParityTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let fixture: String
        let model: String
        var testDescription: String { fixture }
    }

    static let cases = [
        Case(fixture: "ja-tiny/tokenize.jsonl", model: Fixtures.path("ja-tiny/model")),
        Case(fixture: "ja-v3/tokenize.jsonl", model: Fixtures.data("bert-base-japanese-v3")),
        Case(fixture: "splade-tiny-en/tokenize.jsonl", model: TestResources.spladeTinyModel),
    ]

    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil && TestResources.spladeTinyAvailable,
                   "needs ../shared/fixtures, the unidic-lite dictionary and the splade-tiny model (make deps)"),
          arguments: cases)
    func idsMatchTransformers(_ testCase: Case) throws {
        let tokenizer = try Tokenizer.load(modelDirectory: testCase.model) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
        let session = try tokenizer.makeSession()
        let rows = try FixtureRows.read(Fixtures.path(testCase.fixture))
        #expect(rows.count > 500)
        var mismatches: [String] = []
        for row in rows {
            let ids = try session.encode(row.text, maxLength: 512)
            if ids != row.inputIds { mismatches.append(row.id) }
        }
        #expect(mismatches.isEmpty, "ids differ for \(mismatches.count) of \(rows.count): \(mismatches.prefix(10))")
    }

    /// Texts the fixtures lack, with the ids transformers 5.24 (BertJapaneseTokenizer, fugashi, unidic-lite) gives
    /// for bert-base-japanese-v3: half-width kana with sound marks (NFKC composes them), NUL, where MeCab's
    /// C-string input ends a piece of text (up to the next special token), and characters beyond the BMP before a mark.
    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs fixtures and the dictionary"),
          arguments: [("ﾊﾟ", [2, 553, 3]), ("ﾃﾞｰﾀﾍﾞｰｽ", [2, 19406, 3]), ("a\u{0}b", [2, 80, 3]),
                      ("\u{0}[MASK]\u{0}a", [2, 4, 3]), ("[SEP]\u{0}[SEP]", [2, 3, 3, 3]), ("ｶﾞｲﾄﾞ\u{0}残り", [2, 17221, 3]),
                      ("ホテル\u{0}", [2, 13940, 3]), ("\u{2304B}\u{3099}", [2, 1, 1, 3]),
                      ("\u{E0056}\u{323}a", [2, 1, 80, 3])] as [(String, [Int32])])
    func japaneseIdsMatchTransformersOnTextsTheFixturesLack(text: String, expected: [Int32]) throws {
        let tokenizer = try Tokenizer.load(modelDirectory: Fixtures.data("bert-base-japanese-v3")) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
        #expect(try tokenizer.makeSession().encode(text, maxLength: 512) == expected)
    }

    /// do_lower_case in a BertJapaneseTokenizer config lower-cases each MeCab surface with Python's str.lower(), as
    /// transformers' MecabTokenizer does (not the text before MeCab: "İ" is one word there, and ΑΣ ends in ς).
    /// The ids are transformers 5.24's for bert-base-japanese-v3 with "do_lower_case": true.
    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs fixtures and the dictionary"),
          arguments: [("ΑΣ", [2, 1, 3]), ("İ", [2, 1, 3]), ("Iİ", [2, 1, 3]), ("ΟΔΟΣ ΟΔΟΣ.", [2, 1, 1, 29, 3]),
                      ("ΣΑ Σ", [2, 159, 7314, 159, 3]), ("Tokyo ABC 東京タワー", [2, 17253, 20005, 7075, 31113, 7105, 12569, 16968, 3]),
                      ("ＴＯＫＹＯの空", [2, 17253, 20005, 7075, 464, 4319, 3])] as [(String, [Int32])])
    func lowerCasingJapaneseConfigsMatchTransformers(text: String, expected: [Int32]) throws {
        let tokenizer = try v3Tokenizer { $0["do_lower_case"] = true }
        #expect(try tokenizer.makeSession().encode(text, maxLength: 512) == expected)
    }

    /// mecab_kwargs' normalize_text: false leaves NFKC out (transformers 5.24's ids, as above).
    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs fixtures and the dictionary"),
          arguments: [("ＡＢＣ①", [2, 1, 1, 3]), ("ﾊﾟﾝ", [2, 1, 3]), ("か\u{3099}", [2, 429, 1, 3]),
                      ("東京都に住んでいます。", [2, 12569, 6109, 461, 15546, 457, 422, 12995, 385, 3])] as [(String, [Int32])])
    func japaneseConfigsWithoutNFKCMatchTransformers(text: String, expected: [Int32]) throws {
        let tokenizer = try v3Tokenizer { config in
            var mecab = config["mecab_kwargs"] as? [String: Any] ?? [:]
            mecab["normalize_text"] = false
            config["mecab_kwargs"] = mecab
        }
        #expect(try tokenizer.makeSession().encode(text, maxLength: 512) == expected)
    }

    /// An English model whose tokenizer.json and tokenizer_config.json disagree: transformers 5.24 builds the BERT
    /// normaliser from the config (do_lower_case missing means true; control characters always cleaned) and cuts
    /// words at 100 characters, whatever tokenizer.json's normalizer and WordPiece say. The ids are its own.
    @Test(.enabled(if: TestResources.spladeTinyAvailable, "needs the splade-tiny model (make deps)"))
    func englishNormaliserSettingsComeFromTheConfigAsInTransformers() throws {
        let source = TestResources.spladeTinyModel
        let directory = NSTemporaryDirectory() + "splade-en-config-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func load(_ name: String) throws -> [String: Any] {
            let data = try Data(contentsOf: URL(fileURLWithPath: source + "/" + name))
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        }
        func write(_ object: [String: Any], _ name: String) throws {
            try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: directory + "/" + name))
        }
        func ids(_ text: String) throws -> [Int32] {
            try Tokenizer.load(modelDirectory: directory) { () throws(SpladeError) in
                throw SpladeError(.missingInput, "no dictionary needed")
            }.makeSession().encode(text, maxLength: 512)
        }
        // tokenizer.json says: no lower-casing, no cleaning, 200 characters a word; the config says nothing.
        var tokenizerJSON = try load("tokenizer.json")
        var normalizer = try #require(tokenizerJSON["normalizer"] as? [String: Any])
        normalizer["lowercase"] = false
        normalizer["clean_text"] = false
        tokenizerJSON["normalizer"] = normalizer
        var model = try #require(tokenizerJSON["model"] as? [String: Any])
        model["max_input_chars_per_word"] = 200
        tokenizerJSON["model"] = model
        try write(tokenizerJSON, "tokenizer.json")
        var config = try load("tokenizer_config.json")
        config["do_lower_case"] = nil
        try write(config, "tokenizer_config.json")
        #expect(try ids("Hello World") == [101, 7592, 2088, 102])
        #expect(try ids("\u{0}x") == [101, 1060, 102])
        #expect(try ids(String(repeating: "a", count: 150)) == [101, 100, 102])
        #expect(try ids("Café 東京 Naïve") == [101, 7668, 1879, 1755, 15743, 102])
        // The config says: cased, accents stripped, no spaces around CJK characters; tokenizer.json as shipped.
        try FileManager.default.removeItem(atPath: directory + "/tokenizer.json")
        try FileManager.default.copyItem(atPath: source + "/tokenizer.json", toPath: directory + "/tokenizer.json")
        config["do_lower_case"] = false
        config["strip_accents"] = true
        config["tokenize_chinese_chars"] = false
        try FileManager.default.removeItem(atPath: directory + "/tokenizer_config.json")
        try write(config, "tokenizer_config.json")
        #expect(try ids("Hello World") == [101, 100, 100, 102])
        #expect(try ids("Café 東京 Naïve") == [101, 100, 1879, 30281, 100, 102])
        // null: transformers 5.24 refuses it for do_lower_case and tokenize_chinese_chars ("'None' is not an instance
        // of 'bool'"), reads strip_accents as unset (ids as shipped, 7668 = "cafe"), and a null tokenizer_class as absent.
        for (key, refused) in [("do_lower_case", true), ("tokenize_chinese_chars", true), ("strip_accents", false), ("tokenizer_class", false)] {
            var nulled = try load("tokenizer_config.json")
            nulled[key] = NSNull()
            try FileManager.default.removeItem(atPath: directory + "/tokenizer_config.json")
            try write(nulled, "tokenizer_config.json")
            if refused {
                let error = #expect(throws: SpladeError.self, "\(key)") { _ = try ids("Café") }
                #expect(error?.message == "\(key) is null, not true or false" && error?.location == directory + "/tokenizer_config.json",
                        "\(String(describing: error))")
            } else {
                #expect(try ids("Hello Café 東京") == [101, 7592, 7668, 1879, 1755, 102], "\(key)")
            }
        }
    }

    /// bert-base-japanese-v3's tokenizer with its tokenizer_config.json changed by `change`.
    func v3Tokenizer(_ change: (inout [String: Any]) -> Void) throws -> Tokenizer {
        let directory = NSTemporaryDirectory() + "splade-ja-config-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let source = Fixtures.data("bert-base-japanese-v3")
        try FileManager.default.copyItem(atPath: source + "/vocab.txt", toPath: directory + "/vocab.txt")
        let config = try Data(contentsOf: URL(fileURLWithPath: source + "/tokenizer_config.json"))
        var object = try #require(try JSONSerialization.jsonObject(with: config) as? [String: Any])
        change(&object)
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: directory + "/tokenizer_config.json"))
        return try Tokenizer.load(modelDirectory: directory) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
    }

    /// Settings that would change the ids are refused rather than passed over (transformers honours them):
    /// word or subword splitting turned off, a MeCab option, settings of the wrong type. An AddedToken object
    /// naming a special token (older files) is read by its content.
    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs fixtures and the dictionary"))
    func japaneseSettingsThatChangeTheIdsAreReadOrRefused() throws {
        let refused: [(String, Any, String)] = [
            ("do_word_tokenize", false, "do_word_tokenize false"), ("do_subword_tokenize", false, "do_subword_tokenize false"),
            ("mecab_kwargs", ["mecab_dic": "unidic_lite", "mecab_option": "-d /x"], "mecab_option \"-d /x\""),
            ("mecab_kwargs", 5, "mecab_kwargs is not an object"), ("do_lower_case", "x", "do_lower_case is \"x\""),
            ("tokenizer_class", 5, "tokenizer_class is 5, not a string"),
            // transformers reads null as false here (`if do_subword_tokenize:`), so it is refused as false is.
            ("do_subword_tokenize", NSNull(), "do_subword_tokenize null"),
        ]
        for (key, value, message) in refused {
            let error = #expect(throws: SpladeError.self, "\(key)") { _ = try v3Tokenizer { $0[key] = value } }
            #expect(error?.kind == .badInput && error?.message.contains(message) == true, "\(String(describing: error))")
        }
        let plain = try v3Tokenizer { _ in }.makeSession().encode("東京都に住む", maxLength: 32)
        let objects = try v3Tokenizer {
            $0["do_word_tokenize"] = true
            $0["unk_token"] = ["__type": "AddedToken", "content": "[UNK]"]
            $0["mecab_kwargs"] = ["mecab_dic": "unidic_lite", "mecab_option": NSNull()]
        }
        #expect(try objects.makeSession().encode("東京都に住む", maxLength: 32) == plain)
        // No tokenizer_class: BERT's own tokenizer from vocab.txt, as transformers 5.24's AutoTokenizer picks it.
        let unnamed = try v3Tokenizer { $0["tokenizer_class"] = nil }
        #expect(try unnamed.makeSession().encode("東京都に住む Hello", maxLength: 32) == [2, 2854, 675, 6109, 461, 738, 482, 32004, 29944, 3])
    }

    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs fixtures and the dictionary"))
    func truncationKeepsClsAndSep() throws {
        let tokenizer = try Tokenizer.load(modelDirectory: Fixtures.data("bert-base-japanese-v3")) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
        let session = try tokenizer.makeSession()
        let text = String(repeating: "日本語の文章です。", count: 200)
        let full = try session.encode(text, maxLength: 512)
        let short = try session.encode(text, maxLength: 8)
        #expect(full.count == 512)
        #expect(short == Array(full.prefix(7)) + [tokenizer.sepId])
        #expect(try session.encode("", maxLength: 2) == [tokenizer.clsId, tokenizer.sepId])
    }
}

/// Rows of a tokenize fixture: id, text, expected ids.
struct FixtureRows {
    let id: String
    let text: String
    let inputIds: [Int32]

    static func read(_ path: String) throws -> [FixtureRows] {
        let reader = try LineReader(path: path)
        var rows: [FixtureRows] = []
        while let line = try reader.next() {
            let json = try JSON.parse(line.bytes)
            guard case .array(let ids)? = json["input_ids"], let text = json["text"]?.stringValue else {
                throw SpladeError(.badInput, "malformed fixture row", location: "\(path):\(line.number)")
            }
            rows.append(FixtureRows(id: json["id"]?.stringValue ?? "\(line.number)", text: text,
                                    inputIds: ids.map { Int32($0.doubleValue!) }))
        }
        return rows
    }
}

/// Resources `make deps` installs into the project: the unidic-lite dictionary, the splade-tiny model.
enum TestResources {
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let dictionary: String? = {
        let candidates = [ProcessInfo.processInfo.environment["SPLADE_MECAB_DIC"], projectRoot + "/deps/unidic-lite"]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/sys.dic") }
    }()

    static let spladeTinyModel = projectRoot + "/models/splade-tiny"
    static var spladeTinyAvailable: Bool { FileManager.default.fileExists(atPath: spladeTinyModel + "/tokenizer.json") }
}
