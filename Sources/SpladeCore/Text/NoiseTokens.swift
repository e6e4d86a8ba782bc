/// What goes into a noise-token list besides the tokens found symbol-like.
public struct NoiseTokenOptions: Sendable {
    /// Add [CLS], [SEP] and [UNK]: they occur in every sequence, so a weight on them matches anything.
    public var specialTokens: Bool
    /// Add the small kana (ぁ ッ ゃ …) that stand alone as tokens: leftovers of odd splits, not words.
    public var smallKana: Bool
    /// Tokens the user wants penalised too; each must be in the vocabulary.
    public var extraTokens: [String]

    public init(specialTokens: Bool = false, smallKana: Bool = false, extraTokens: [String] = []) {
        self.specialTokens = specialTokens
        self.smallKana = smallKana
        self.extraTokens = extraTokens
    }
}

/// Derives the `noise_tokens` list of the reference trainer from a vocabulary: the tokens whose
/// SPLADE weights carry no meaning (punctuation, brackets, arrows, box drawing, …), which training
/// pushes towards zero.
///
/// A whole-word token is noise when MeCab tags every word of it 補助記号 (supplementary symbol) or
/// 空白 (whitespace), or when all its characters are Unicode punctuation (P*) or symbols (S*); the
/// second rule catches what the dictionary files elsewhere, such as "‰", which UniDic calls a noun.
/// UniDic's other class, 記号, is not used: it holds letters and kanji used as symbols, and a lone
/// "新", "時" or "α" gets it, so it would add a thousand meaningful tokens.
/// `##` continuations are left out: pieces such as ##ー and ##々 are parts of ordinary words
/// (ユーザー, 人々), not noise.
public enum NoiseTokens {
    /// The UniDic parts of speech of punctuation, brackets and symbols, and of whitespace.
    static let symbolLikePartsOfSpeech: Set<Substring> = ["補助記号", "空白"]

    /// Small kana, hiragana then katakana (with the katakana phonetic extensions used for Ainu).
    /// ヵ and ヶ are left out: they are counters and parts of place names (3ヶ月, 霞ヶ関).
    static let smallKana: [String] = (Array("ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮ")
        + (0x31F0...0x31FF).map { Character(Unicode.Scalar($0)!) }).map { String($0) }

    /// The ids of the noise tokens of `vocabulary`, ascending. `dictionary` is the MeCab dictionary the
    /// tokenizer splits words with; without one (an English model) only the character rule applies.
    public static func derive(vocabulary: Vocabulary, dictionary: MeCabDictionary?,
                              specialIds: [Int32], options: NoiseTokenOptions) throws(SpladeError) -> [Int32] {
        let tagger = try dictionary.map { dictionary throws(SpladeError) in try MeCabTagger(dictionary: dictionary) }
        var ids = Set<Int32>()
        // The prefix is tested on bytes: `hasPrefix` compares characters, and in "##ิ" the second
        // "#" and the combining ิ form one character.
        for (id, token) in vocabulary.tokens.enumerated()
        where !token.isEmpty && !token.utf8.starts(with: "##".utf8) && !isReserved(token) {
            if isSymbolCharacters(token) {
                ids.insert(Int32(id))
            } else if let tagger, try isTaggedSymbolLike(token, tagger: tagger) {
                ids.insert(Int32(id))
            }
        }
        if options.specialTokens { ids.formUnion(specialIds) }
        if options.smallKana { ids.formUnion(smallKana.compactMap(vocabulary.id(of:))) }
        for token in options.extraTokens { ids.insert(try extraTokenId(token, in: vocabulary)) }
        return ids.sorted()
    }

    /// The id of a token added to the list by hand; one the vocabulary lacks is bad input (the caller knows where
    /// it was written).
    public static func extraTokenId(_ token: String, in vocabulary: Vocabulary) throws(SpladeError) -> Int32 {
        guard let id = vocabulary.id(of: token) else {
            throw SpladeError(.badInput, "extra token \"\(token)\" is not in the vocabulary",
                              hint: "the trainer would map it to [UNK]; remove it from the list")
        }
        return id
    }

    /// Bracketed tokens such as [PAD], [MASK] or [unused7]: reserved entries, not text.
    static func isReserved(_ token: String) -> Bool {
        let scalars = token.unicodeScalars
        guard scalars.count > 2, scalars.first == "[", scalars.last == "]" else { return false }
        return scalars.dropFirst().dropLast().allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || $0.properties.numericType != nil) }
    }

    /// True when every character is Unicode punctuation (P*) or a symbol (S*).
    static func isSymbolCharacters(_ word: String) -> Bool {
        word.unicodeScalars.allSatisfy { scalar in
            switch scalar.properties.generalCategory {
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation,
                 .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
                return true
            default:
                return false
            }
        }
    }

    /// True when MeCab splits `word` into words that all have a symbol-like part of speech.
    static func isTaggedSymbolLike(_ word: String, tagger: MeCabTagger) throws(SpladeError) -> Bool {
        var word = word
        var allSymbolLike = true
        var words = 0
        try word.withUTF8Bytes { bytes throws(SpladeError) in
            try tagger.forEachWordWithFeature(bytes) { _, feature in
                words += 1
                let partOfSpeech = feature.prefix { $0 != "," }
                if !symbolLikePartsOfSpeech.contains(partOfSpeech) { allSymbolLike = false }
            }
        }
        return words > 0 && allSymbolLike
    }

    /// The list as the trainer's YAML config holds it: `noise_tokens: "、 。 …"`, and the tokens left out of it: the
    /// trainers split the string at whitespace, so a token holding any (U+3000, a no-break space) cannot be in it. The
    /// value is a JSON string, which is also a valid YAML double-quoted scalar.
    public static func yaml(_ tokens: [String]) -> (line: String, leftOut: [String]) {
        let holdsSpace = { (token: String) in token.unicodeScalars.contains { UnicodeClasses.isPythonWhitespace($0.value) } }
        var writer = JSONWriter()
        writer.appendString(tokens.filter { !holdsSpace($0) }.joined(separator: " "))
        return ("noise_tokens: " + String(decoding: writer.bytes, as: UTF8.self) + "\n", tokens.filter(holdsSpace))
    }
}
