import Testing
@testable import SpladeCore

@Suite struct WordPieceTests {
    let vocabulary = Vocabulary(tokensById: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "##a", "a", "東京", "##都"])

    func pieces(_ word: String, maxChars: Int = 100) -> [Int32] {
        let wordPiece = WordPiece(vocabulary: vocabulary, unknownId: 1, maxInputCharsPerWord: maxChars)
        var ids: [Int32] = []
        var word = word
        word.withUTF8 { wordPiece.appendIds(of: $0, to: &ids) }
        return ids
    }

    @Test func greedyLongestMatchFirst() {
        #expect(pieces("unaffable") == [4, 5, 6])
        #expect(pieces("aaa") == [8, 7, 7])
        #expect(pieces("東京都") == [9, 10])
    }

    @Test func unknownPieceMakesTheWholeWordUnknown() {
        #expect(pieces("unaffablex") == [1])
        #expect(pieces("x") == [1])
    }

    @Test func wordsLongerThanTheLimitAreUnknown() {
        #expect(pieces("aaaa", maxChars: 3) == [1])
        #expect(pieces("aaa", maxChars: 3) == [8, 7, 7])
    }

    @Test func laterDuplicateTokenWins() {
        let duplicated = Vocabulary(tokensById: ["a", "b", "a"])
        #expect(duplicated.id(of: "a") == 2)
        #expect(duplicated.id(of: "b") == 1)
        #expect(duplicated.id(of: "c") == nil)
    }

    /// tokenizer.json maps tokens to ids: two tokens on one id would leave one of them out, so it is an error.
    @Test func tokenizerJSONTokensSharingAnIdAreAnError() throws {
        let json = try JSON.parse(Array(#"{"model":{"vocab":{"a":0,"b":1,"c":1,"d":2}}}"#.utf8))
        let error = #expect(throws: SpladeError.self) { _ = try Vocabulary.load(tokenizerJSON: json, path: "tokenizer.json") }
        #expect(error?.message == #""b" and "c" have the same vocabulary id 1"#)
    }
}

@Suite struct SpecialTokenSplitterTests {
    @Test func longestSpecialTokenWinsAndTextIsKept() {
        let splitter = SpecialTokenSplitter(tokens: [("[SEP]", 3), ("[SEP]X", 9), ("[CLS]", 2)])
        var text = "a[SEP]b[SEP]X[CLS]"
        let pieces = text.withUTF8 { splitter.split($0) }
        let rendered = pieces.map { piece -> String in
            switch piece {
            case .text(let range): return "t\(range.lowerBound)-\(range.upperBound)"
            case .special(let id): return "s\(id)"
            }
        }
        #expect(rendered == ["t0-1", "s3", "t6-7", "s9", "s2"])
    }
}

@Suite struct NormalizationTests {
    /// NFKC's code points, compared as such: Swift's `==` holds canonically equivalent strings equal, so
    /// "カ\u{3099}" == "ガ" and an uncomposed result would pass.
    func nfkcScalars(_ text: String) -> [UInt32] { JapaneseNormalization.nfkc(text).unicodeScalars.map(\.value) }

    @Test func nfkcMatchesPythonOnTheFixtureEdgeCases() {
        #expect(nfkcScalars("ＡＢＣ１２３ｱｲｳ") == "ABC123アイウ".unicodeScalars.map(\.value))
        #expect(nfkcScalars("①②③ ㍻ ㈱") == "123 平成 (株)".unicodeScalars.map(\.value))
        // The fast path must not skip text whose NFKC differs.
        #expect(nfkcScalars("か\u{3099}") == [0x304C])
        #expect(nfkcScalars("東京都に住んでいます。") == "東京都に住んでいます。".unicodeScalars.map(\.value))
    }

    /// Characters beyond the BMP followed by marks compose only as themselves (Foundation's NFKC, once used, composed
    /// U+2304B U+3099 as か U+3099, the low 16 bits of the first, assigned or not). Expected values from Python 3.11's
    /// unicodedata.normalize("NFKC").
    @Test func charactersBeyondTheBMPComposeOnlyAsInPython() {
        #expect(nfkcScalars("\u{2304B}\u{3099}") == [0x2304B, 0x3099])
        #expect(nfkcScalars("\u{5304B}\u{3099}") == [0x5304B, 0x3099])
        #expect(nfkcScalars("x\u{1004E}\u{303}y") == [0x78, 0x1004E, 0x303, 0x79])
        #expect(nfkcScalars("\u{10041}\u{301}") == [0x10041, 0x301])
        #expect(nfkcScalars("\u{E0056}\u{323}a") == [0xE0056, 0x323, 0x61])
        #expect(nfkcScalars("😀か\u{3099}") == [0x1F600, 0x304C])
        // One that maps into the BMP composes there: 𝐀 → A, then A + U+0323 → Ạ.
        #expect(nfkcScalars("\u{1D400}\u{301}") == [0xC1])
        #expect(nfkcScalars("\u{1D400}\u{323}\u{301}") == [0x1EA0, 0x301])
    }

    /// Marks a compatibility decomposition brings (a space and two accents; Tibetan vowel signs that decompose into
    /// marks) are put in canonical order with the marks after them, and composition sees past them as Python's does.
    @Test func marksFromDecompositionsAreOrderedWithTheMarksAfterThem() {
        #expect(nfkcScalars("\u{0385}\u{20E5}") == [0x20, 0x20E5, 0x308, 0x301])
        #expect(nfkcScalars("\u{1FEE}\u{FF9E}") == [0x20, 0x3099, 0x308, 0x301])
        #expect(nfkcScalars("\u{FC5E}\u{3099}") == [0x20, 0x3099, 0x64C, 0x651])
        #expect(nfkcScalars("a\u{0F73}\u{301}") == [0xE1, 0xF71, 0xF72])
        #expect(nfkcScalars("\u{0652}\u{0F73}\u{20E5}") == [0x20E5, 0x652, 0xF71, 0xF72])
    }

    /// Compositions after a precomposed character (which Foundation's NFKC, once used, left undone), as Python's.
    @Test func hangulTrailingConsonantsAndKannadaComposeAsInPython() {
        #expect(nfkcScalars("\u{AC00}\u{11A8}") == [0xAC01])
        #expect(nfkcScalars("가ㄳ") == [0xAC03])  // the compatibility jamo maps to a trailing consonant first
        #expect(nfkcScalars("\u{AC01}\u{11A8}") == [0xAC01, 0x11A8])  // an LVT syllable takes no second one
        #expect(nfkcScalars("\u{AC00}\u{301}\u{11A8}") == [0xAC00, 0x301, 0x11A8])
        #expect(nfkcScalars("\u{1100}\u{1161}\u{11A8}") == [0xAC01])
        #expect(nfkcScalars("\u{0CCA}\u{0CD5}") == [0x0CCB])
        #expect(nfkcScalars("\u{0CCA}\u{0CBC}\u{0CD5}") == [0x0CCA, 0x0CBC, 0x0CD5])
    }

    /// Half-width kana with the half-width sound marks compose, as Python's unicodedata.normalize("NFKC") does.
    @Test func halfWidthSoundMarksCompose() {
        #expect(nfkcScalars("ｶﾞ") == [0x30AC])
        #expect(nfkcScalars("ﾊﾟ") == [0x30D1])
        #expect(nfkcScalars("ﾃﾞｰﾀ") == [0x30C7, 0x30FC, 0x30BF])
        #expect(nfkcScalars("かﾞ") == [0x304C])
        #expect(nfkcScalars("Café\u{3000}ﾊﾞﾝｸﾞ") == [0x43, 0x61, 0x66, 0xE9, 0x20, 0x30D0, 0x30F3, 0x30B0])
        // Nothing to compose with: the combining mark, as in Python.
        #expect(nfkcScalars("ﾞ") == [0x3099])
        #expect(nfkcScalars("aﾞ") == [0x61, 0x3099])
    }

    @Test func bertNormalizerCleansSplitsCJKStripsAccentsAndLowercases() {
        let normalizer = BertNormalizer()
        #expect(normalizer.normalize("Café\u{0}\u{200B}\tNAÏVE 東京") == "cafe naive  東  京 ")
        #expect(BertNormalizer(stripAccents: false, lowercase: true).normalize("É") == "é")
    }

    @Test func pythonWhitespaceSplit() {
        var words: [String] = []
        var text = "a\u{3000}b\u{85}c\u{200B}d"
        text.withUTF8 { bytes in
            forEachPythonWhitespaceSeparatedWord(bytes) { words.append(String(decoding: $0, as: UTF8.self)) }
        }
        #expect(words == ["a", "b", "c\u{200B}d"])
    }
}
