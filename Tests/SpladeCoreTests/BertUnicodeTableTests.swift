import Testing
@testable import SpladeCore

/// The fast BERT tokenizer classes characters with Unicode tables older than Swift's; on these texts Swift's own
/// properties would give other results. Expected values: tokenizers 0.23.3 with models/splade-tiny.
@Suite struct BertUnicodeTableTests {
    @Test(arguments: [
        ("a\u{0378}b", "a\u{0378}b"),          // unassigned: kept, not deleted as a control character
        ("a\u{07FD}b", "a\u{07FD}b"),          // a nonspacing mark since Unicode 11: not stripped
        ("a\u{1171E}b", "ab"),                 // a nonspacing mark in the reference's tables, a spacing one in Swift's
        ("a\u{2B820}b", "a\u{2B820}b"),        // not in the reference's CJK ranges (which resume at U+2B920)
        ("a\u{2B920}b", "a \u{2B920} b"),
        ("\u{11938}", "\u{11938}"),            // a decomposition newer than the reference's NFD
        ("\u{1C89}", "\u{1C8A}"),              // lowercased by the reference's (newer) case mapping
        ("\u{0130}\u{AC00}", "i\u{1100}\u{1161}"),
        // NFD's canonical reordering, by the reference's combining classes: U+1E000 (230) after U+1B44 (9),
        // except across a stripped mark of class 0 (U+0E31).
        ("a\u{1E000}\u{1B44}", "a\u{1B44}\u{1E000}"),
        ("a\u{1E000}\u{0E31}\u{1B44}", "a\u{1E000}\u{1B44}"),
    ] as [(String, String)])
    func normalizerMatchesTheFastTokenizer(text: String, expected: String) {
        // Code points compared: Swift's == holds canonically equivalent strings (reordered marks, a decomposition) equal.
        #expect(BertNormalizer().normalize(text).unicodeScalars.map(\.value) == expected.unicodeScalars.map(\.value))
    }

    @Test func preTokenizerSplitsOnTheReferencePunctuation() {
        var words: [String] = []
        var text = "a\u{061D}b,c\u{1B4E}d\u{3000}e\u{2E55}"
        text.withUTF8 { bytes in
            BertPreTokenizer.forEachWord(bytes) { words.append(String(decoding: $0, as: UTF8.self)) }
        }
        #expect(words == ["a\u{061D}b", ",", "c\u{1B4E}d", "e\u{2E55}"])
    }

    @Test(.enabled(if: TestResources.spladeTinyAvailable, "needs models/splade-tiny (make deps)"))
    func idsMatchTheFastTokenizer() throws {
        let tokenizer = try Tokenizer.load(modelDirectory: TestResources.spladeTinyModel) { () throws(SpladeError) in
            throw SpladeError(.internalError, "an English model needs no dictionary")
        }
        let session = try tokenizer.makeSession()
        let text = "Ab\u{0378}c d\u{07FD}e, f\u{061D}g\u{2E55}h \u{2B820}\u{2B920} x\u{1171E}y \u{1B4E} \u{11938} "
            + "\u{1C89} \u{0130}"
        #expect(try session.encode(text) == [101, 100, 100, 1010, 100, 100, 100, 1060, 2100, 100, 100, 100, 1045, 102])
        #expect(try session.encode("a\u{0378}b \u{0378}") == [101, 100, 100, 102])
        #expect(try session.encode("Caf\u{E9} \u{AC00}") == [101, 7668, 1455, 30006, 102])
    }
}
