import Foundation
import Testing
@testable import SpladeCore

struct NoiseTokenTests {
    static let smallVocabulary = Vocabulary(tokensById: [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[unused0]", "、", "新", "##、", "→", "ー", "々", "ッ", "ゃ", "(株", "α", "]、", "‰",
    ])
    static let specialIds: [Int32] = [2, 3, 1]

    func derive(_ options: NoiseTokenOptions = NoiseTokenOptions(), dictionary: MeCabDictionary? = nil) throws -> [String] {
        let ids = try NoiseTokens.derive(vocabulary: Self.smallVocabulary, dictionary: dictionary,
                                         specialIds: Self.specialIds, options: options)
        return ids.map { Self.smallVocabulary.tokens[Int($0)] }
    }

    @Test func characterRuleTakesPunctuationAndSymbolsOnly() {
        for token in ["、", "→", "]、", "‰", "$", "━"] { #expect(NoiseTokens.isSymbolCharacters(token), "\(token)") }
        for token in ["新", "a", "ー", "α", "(株", "3"] { #expect(!NoiseTokens.isSymbolCharacters(token), "\(token)") }
    }

    @Test func bracketedEntriesAreReserved() {
        for token in ["[PAD]", "[unused12]", "[MASK]"] { #expect(NoiseTokens.isReserved(token), "\(token)") }
        for token in ["[", "[]", "]、", "[a b]", "[・]"] { #expect(!NoiseTokens.isReserved(token), "\(token)") }
    }

    @Test func withoutADictionaryOnlyCharactersDecide() throws {
        // ## continuations and reserved entries are never candidates.
        #expect(try derive() == ["、", "→", "]、", "‰"])
    }

    @Test func optionsAddSpecialTokensSmallKanaAndExtras() throws {
        let tokens = try derive(NoiseTokenOptions(specialTokens: true, smallKana: true, extraTokens: ["新"]))
        #expect(tokens == ["[UNK]", "[CLS]", "[SEP]", "、", "新", "→", "ッ", "ゃ", "]、", "‰"])
        let error = #expect(throws: SpladeError.self) { try derive(NoiseTokenOptions(extraTokens: ["missing"])) }
        #expect(error?.kind == .badInput)
    }

    @Test(.enabled(if: TestResources.dictionary != nil, "needs the unidic-lite dictionary (make deps)"))
    func supplementarySymbolsAreNoiseButUniDicSymbolLettersAreNot() throws {
        let dictionary = try MeCabDictionary(directory: TestResources.dictionary!)
        // ー, 々 and a lone ッ are 補助記号; 新 and α are 記号 (letters used as symbols), which is not taken.
        #expect(try derive(dictionary: dictionary) == ["、", "→", "ー", "々", "ッ", "]、", "‰"])
    }

    @Test func yamlQuotesLikeJSON() {
        #expect(NoiseTokens.yaml(["\"", "\\", "、"]) == (#"noise_tokens: "\" \\ 、""# + "\n", []))
    }

    /// The trainers split noise_tokens at whitespace, Python's (U+3000 and the no-break space too): a token holding
    /// some would come back as other tokens, or none.
    @Test func tokensHoldingWhitespaceAreLeftOutOfTheYAMLString() throws {
        let (line, leftOut) = NoiseTokens.yaml(["!", "\u{3000}", "\u{A0}", "!\u{3000}!", "、"])
        #expect(line == #"noise_tokens: "! 、""# + "\n")
        #expect(leftOut == ["\u{3000}", "\u{A0}", "!\u{3000}!"])
        // The value is a JSON string too: read back as splade-train reads it.
        let value = line.dropFirst("noise_tokens: ".count).dropLast()
        let settings = try JSON.parse(#"{"model_name_or_path": "m", "train_data": "t", "noise_tokens": \#(value)}"#)
        #expect(try TrainingConfig.parse(settings, source: "noise.yaml").0.noiseTokens == ["!", "、"])
    }

    /// The acceptance numbers of issue 7: the derived list against the v1 config's hand-made one.
    @Test(.enabled(if: Fixtures.available && TestResources.dictionary != nil,
                   "needs ../shared/data and the unidic-lite dictionary (make deps)"))
    func realVocabularyAgainstTheV1List() throws {
        let vocabulary = try Vocabulary.load(vocabTxt: Fixtures.data("bert-base-japanese-v3/vocab.txt"))
        let ids = try NoiseTokens.derive(vocabulary: vocabulary,
                                         dictionary: MeCabDictionary(directory: TestResources.dictionary!),
                                         specialIds: [], options: NoiseTokenOptions())
        let derived = Set(ids.map { vocabulary.tokens[Int($0)] })
        // Split on scalars: the list holds a combining mark (ิ) that would join the space before it.
        let v1Strings = try String(contentsOfFile: Fixtures.data("yast-v1-noise-tokens.txt"), encoding: .utf8)
            .unicodeScalars.split(whereSeparator: \.properties.isWhitespace).map { String(String.UnicodeScalarView($0)) }
        #expect(v1Strings.count == 320)
        let v1 = Set(v1Strings)
        #expect(v1.count == 319)

        #expect(derived.count == 341)
        #expect(v1.intersection(derived).count == 310)
        // Letters and ideographs chosen by hand, which neither rule calls a symbol.
        #expect(v1.subtracting(derived) == ["Å", "ħ", "Щ", "щ", "ъ", "〇", "ゝ", "丿", "屮"])
        let extra = derived.subtracting(v1)
        #expect(extra.count == 31, "\(extra.sorted())")
        for token in ["“", "”", "‘", "’", "‰", "),", "--", "「-", "〆", "ツ"] {
            #expect(extra.contains(token), "\(token)")
        }
    }
}
