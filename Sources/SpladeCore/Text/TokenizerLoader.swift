import Foundation

extension Tokenizer {
    /// Loads the tokenizer of a Hugging Face model directory.
    ///
    /// `tokenizer_config.json` names the family. `BertJapaneseTokenizer` needs `vocab.txt` and a MeCab
    /// dictionary (`dictionary` is asked only then); `BertTokenizer` takes its vocabulary and added tokens
    /// from `tokenizer.json` when there is one, else from `vocab.txt`, and its normaliser settings from the
    /// config either way, as transformers does.
    public static func load(modelDirectory: String,
                            dictionary: () throws(SpladeError) -> MeCabDictionary) throws(SpladeError) -> Tokenizer {
        let directory = modelDirectory.hasSuffix("/") && modelDirectory.count > 1
            ? String(modelDirectory.dropLast()) : modelDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
            throw SpladeError(.missingInput, "model directory not found", location: directory)
        }
        guard isDirectory.boolValue else {
            throw SpladeError(.missingInput, "not a directory (--model takes a Hugging Face model directory)",
                              location: directory)
        }
        let configPath = directory + "/tokenizer_config.json"
        let configFile = try readJSONIfPresent(configPath)
        let config = configFile ?? .object([])
        let tokenizerJSONPath = directory + "/tokenizer.json"
        let tokenizerJSON = try readJSONIfPresent(tokenizerJSONPath)
        switch config["tokenizer_class"] {
        case nil, .null?, .string?: break
        case let value?: throw SpladeError(.badInput, "tokenizer_class is \(value.jsonText), not a string", location: configPath)
        }
        // Without a tokenizer_class transformers goes by config.json's model type: BERT's tokenizer, from tokenizer.json
        // or else vocab.txt (with tokenizer_config.json's settings).
        let vocabularyFileExists = FileManager.default.fileExists(atPath: directory + "/vocab.txt")
        let className = config["tokenizer_class"]?.stringValue
            ?? (tokenizerJSON != nil || configFile != nil && vocabularyFileExists ? "BertTokenizerFast" : nil)

        switch className {
        case "BertJapaneseTokenizer":
            return try loadJapanese(directory: directory, config: config, configPath: configPath, dictionary: dictionary)
        case "BertTokenizer", "BertTokenizerFast":
            if let tokenizerJSON {
                return try loadBert(tokenizerJSON: tokenizerJSON, path: tokenizerJSONPath, config: config, configPath: configPath)
            }
            return try loadBertFromVocab(directory: directory, config: config, configPath: configPath)
        case nil:
            throw SpladeError(.missingInput, "no tokenizer_config.json or tokenizer.json: not a Hugging Face model directory",
                              location: directory)
        case let other?:
            throw SpladeError(.badInput, "unsupported tokenizer_class \"\(other)\" (supported: BertJapaneseTokenizer, BertTokenizer)",
                              location: configPath)
        }
    }

    private static func readJSONIfPresent(_ path: String) throws(SpladeError) -> JSONValue? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try InputFile.contents(path, what: "the tokenizer file")
        guard String(bytes: data, encoding: .utf8) != nil else {
            throw SpladeError(.badInput, "not valid UTF-8", location: path)
        }
        return try JSON.parseFile(data, path: path)
    }

    /// A special token's name in `tokenizer_config.json`: a string, or (older files) an AddedToken object's content.
    private static func specialToken(_ config: JSONValue, _ key: String, default fallback: String) -> String {
        config[key]?.stringValue ?? config[key]?["content"]?.stringValue ?? fallback
    }

    /// How transformers reads a setting of null: as false (BertJapaneseTokenizer tests `if setting:`, and None is
    /// false), as unset (strip_accents: None follows do_lower_case), or not at all (the tokenizers library refuses it).
    private enum NullSetting { case isFalse, isUnset, isRefused }

    /// A true/false setting of `tokenizer_config.json` (nil: absent, or null where that means unset); any other value
    /// is an error naming `name` (the key, or its path), never the default.
    private static func flag(_ object: JSONValue?, _ key: String, named name: String? = nil, null: NullSetting,
                             in path: String) throws(SpladeError) -> Bool? {
        switch object?[key] {
        case nil: return nil
        case .bool(let value)?: return value
        case .null? where null == .isFalse: return false
        case .null? where null == .isUnset: return nil
        case let other?: throw SpladeError(.badInput, "\(name ?? key) is \(other.jsonText), not true or false", location: path)
        }
    }

    /// The special tokens of a `tokenizer_config.json`: the named ones with their defaults, and the
    /// `added_tokens_decoder` entries.
    private static func configuredSpecialTokens(_ config: JSONValue) -> [String] {
        var names = [("unk_token", "[UNK]"), ("sep_token", "[SEP]"), ("pad_token", "[PAD]"),
                     ("cls_token", "[CLS]"), ("mask_token", "[MASK]")]
            .map { specialToken(config, $0.0, default: $0.1) }
        if case .object(let added)? = config["added_tokens_decoder"] {
            names += added.compactMap { $0.value["content"]?.stringValue }
        }
        return names
    }

    private static func specialIds(_ names: [String], vocabulary: Vocabulary, path: String) throws(SpladeError) -> [(String, Int32)] {
        var result: [(String, Int32)] = []
        for name in names {
            guard let id = vocabulary.id(of: name) else {
                throw SpladeError(.badInput, "special token \"\(name)\" is not in the vocabulary", location: path)
            }
            result.append((name, id))
        }
        return result
    }

    private static func loadJapanese(directory: String, config: JSONValue, configPath: String,
                                     dictionary: () throws(SpladeError) -> MeCabDictionary) throws(SpladeError) -> Tokenizer {
        let wordTokenizer = config["word_tokenizer_type"]?.stringValue ?? "basic"
        let subwordTokenizer = config["subword_tokenizer_type"]?.stringValue ?? "wordpiece"
        guard wordTokenizer == "mecab", subwordTokenizer == "wordpiece" else {
            throw SpladeError(.badInput, "unsupported BertJapaneseTokenizer: word_tokenizer_type \"\(wordTokenizer)\", "
                              + "subword_tokenizer_type \"\(subwordTokenizer)\" (supported: mecab + wordpiece)",
                              location: configPath)
        }
        // Settings that change the tokens are read or refused, never passed over: transformers would honour them.
        for key in ["do_word_tokenize", "do_subword_tokenize"] where try flag(config, key, null: .isFalse, in: configPath) == false {
            throw SpladeError(.badInput, "unsupported BertJapaneseTokenizer: \(key) \(config[key]!.jsonText) (supported: MeCab words, then WordPiece)",
                              location: configPath)
        }
        let mecabSettings = config["mecab_kwargs"]
        switch mecabSettings {
        case nil, .null?, .object?: break
        default: throw SpladeError(.badInput, "mecab_kwargs is not an object", location: configPath)
        }
        switch mecabSettings?["mecab_option"] {
        case nil, .null?, .string("")?: break
        case let option?:
            throw SpladeError(.badInput, "unsupported mecab_kwargs.mecab_option \(option.jsonText): MeCab runs with the dictionary's defaults",
                              location: configPath)
        }
        var warnings: [String] = []
        if let dic = mecabSettings?["mecab_dic"]?.stringValue, dic != "unidic_lite" {
            warnings.append("\(configPath) asks for the MeCab dictionary \"\(dic)\"; this build uses unidic-lite")
        }
        let vocabPath = directory + "/vocab.txt"
        let vocabulary = try Vocabulary.load(vocabTxt: vocabPath)
        let specials = try specialIds(configuredSpecialTokens(config), vocabulary: vocabulary, path: vocabPath)
        let mecab = try dictionary()
        if let warning = mecab.versionWarning { warnings.append(warning) }
        let ids = Dictionary(specials, uniquingKeysWith: { a, _ in a })
        let name = { (key: String, fallback: String) in specialToken(config, key, default: fallback) }
        return Tokenizer(vocabulary: vocabulary,
                         family: .japanese(dictionary: mecab,
                                           lowercase: try flag(config, "do_lower_case", null: .isFalse, in: configPath) ?? false,
                                           normalize: try flag(mecabSettings, "normalize_text", named: "mecab_kwargs.normalize_text",
                                                               null: .isFalse, in: configPath) ?? true),
                         specialTokens: specials, cls: ids[name("cls_token", "[CLS]")]!,
                         sep: ids[name("sep_token", "[SEP]")]!, unknown: ids[name("unk_token", "[UNK]")]!,
                         maxInputCharsPerWord: 100, warnings: warnings)
    }

    private static func loadBert(tokenizerJSON json: JSONValue, path: String, config: JSONValue,
                                 configPath: String) throws(SpladeError) -> Tokenizer {
        guard json["model"]?["type"]?.stringValue == "WordPiece" else {
            throw SpladeError(.badInput, "tokenizer.json model is \(json["model"]?["type"]?.stringValue ?? "missing"), "
                              + "expected WordPiece", location: path)
        }
        let prefix = json["model"]?["continuing_subword_prefix"]?.stringValue ?? "##"
        guard prefix == "##" else {
            throw SpladeError(.badInput, "unsupported continuing_subword_prefix \"\(prefix)\"", location: path)
        }
        guard json["normalizer"]?["type"]?.stringValue == "BertNormalizer" else {
            throw SpladeError(.badInput, "unsupported normalizer (expected BertNormalizer)", location: path)
        }
        guard json["pre_tokenizer"]?["type"]?.stringValue == "BertPreTokenizer" else {
            throw SpladeError(.badInput, "unsupported pre_tokenizer (expected BertPreTokenizer)", location: path)
        }
        let vocabulary = try Vocabulary.load(tokenizerJSON: json, path: path)
        var specials: [(String, Int32)] = []
        if case .array(let added)? = json["added_tokens"] {
            for token in added {
                guard let content = token["content"]?.stringValue,
                      let id = token["id"]?.doubleValue.flatMap({ Int32(exactly: $0) }) else {
                    throw SpladeError(.badInput, "malformed added_tokens entry", location: path)
                }
                specials.append((content, id))
            }
        }
        return try makeBert(vocabulary: vocabulary, specials: specials, config: config, configPath: configPath, path: path)
    }

    private static func loadBertFromVocab(directory: String, config: JSONValue, configPath: String) throws(SpladeError) -> Tokenizer {
        let vocabPath = directory + "/vocab.txt"
        let vocabulary = try Vocabulary.load(vocabTxt: vocabPath)
        let specials = try specialIds(configuredSpecialTokens(config), vocabulary: vocabulary, path: vocabPath)
        return try makeBert(vocabulary: vocabulary, specials: specials, config: config, configPath: configPath, path: vocabPath)
    }

    /// As transformers' `BertTokenizer.__init__` makes it, whichever file the vocabulary came from: the normaliser from
    /// tokenizer_config.json (do_lower_case, default true; strip_accents; tokenize_chinese_chars, default true; control
    /// characters always cleaned), never from tokenizer.json's normalizer, and WordPiece's 100 characters a word.
    /// `configPath` names tokenizer_config.json in messages about its settings, `path` the vocabulary's file.
    private static func makeBert(vocabulary: Vocabulary, specials: [(String, Int32)], config: JSONValue, configPath: String,
                                 path: String) throws(SpladeError) -> Tokenizer {
        let normalizer = BertNormalizer(cleanText: true,
                                        handleChineseChars: try flag(config, "tokenize_chinese_chars", null: .isRefused, in: configPath) ?? true,
                                        stripAccents: try flag(config, "strip_accents", null: .isUnset, in: configPath),
                                        lowercase: try flag(config, "do_lower_case", null: .isRefused, in: configPath) ?? true)
        let unknownName = specialToken(config, "unk_token", default: "[UNK]")
        func id(_ key: String, _ fallback: String) throws(SpladeError) -> Int32 {
            let name = specialToken(config, key, default: fallback)
            guard let id = vocabulary.id(of: name) else {
                throw SpladeError(.badInput, "special token \"\(name)\" is not in the vocabulary", location: path)
            }
            return id
        }
        guard let unknown = vocabulary.id(of: unknownName) else {
            throw SpladeError(.badInput, "unknown token \"\(unknownName)\" is not in the vocabulary", location: path)
        }
        return Tokenizer(vocabulary: vocabulary, family: .bert(normalizer), specialTokens: specials,
                         cls: try id("cls_token", "[CLS]"), sep: try id("sep_token", "[SEP]"), unknown: unknown,
                         maxInputCharsPerWord: 100, warnings: [])
    }
}

