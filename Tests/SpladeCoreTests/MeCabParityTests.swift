import CMeCab
import Foundation
import Testing
@testable import SpladeCore

/// SpladeCore's MeCab (MeCabTagger, read from the compiled dictionary) against libmecab itself, the C
/// library fugashi wraps for transformers: the same words with the same features, on real Japanese text,
/// on random mixtures of every character class, and on the edges of MeCab's unknown-word rules.
@Suite(.enabled(if: TestResources.dictionary != nil, "needs the unidic-lite dictionary (make deps)"))
struct MeCabParityTests {
    /// libmecab with the options transformers passes through fugashi.
    final class Oracle {
        private let tagger: OpaquePointer

        init(directory: String) {
            let options: [String] = ["mecab", "-d", directory, "-r", directory + "/mecabrc"]
            var arguments = options.map { strdup($0) }
            defer { arguments.forEach { free($0) } }
            tagger = mecab_new(Int32(arguments.count), &arguments)!
        }

        deinit { mecab_destroy(tagger) }

        /// Each word as "offset+length feature"; nil when libmecab refuses the text. As through fugashi, the
        /// text is a C string: it ends at its first NUL.
        func words(_ text: [UInt8]) -> [String]? {
            var text = text
            text.append(0)
            return text.withUnsafeBufferPointer { bytes -> [String]? in
                let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                guard var node = mecab_sparse_tonode2(tagger, base, strlen(base)) else { return nil }
                var words: [String] = []
                while true {
                    let stat = Int(node.pointee.stat)
                    if stat != MECAB_BOS_NODE && stat != MECAB_EOS_NODE {
                        words.append("\(node.pointee.surface - base)+\(node.pointee.length) " + String(cString: node.pointee.feature))
                    }
                    guard let next = node.pointee.next else { break }
                    node = UnsafePointer(next)
                }
                return words
            }
        }
    }

    static let dictionary = TestResources.dictionary.flatMap { try? MeCabDictionary(directory: $0) }

    /// Each word as the oracle gives it; nil when ours refuses the text.
    func ours(_ tagger: MeCabTagger, _ text: [UInt8]) -> [String]? {
        var words: [String] = []
        do {
            try text.withUnsafeBufferPointer { bytes in
                try tagger.forEachWordWithFeature(bytes) { surface, feature in
                    words.append("\(surface.baseAddress! - bytes.baseAddress!)+\(surface.count) " + feature)
                }
            }
        } catch { return nil }
        return words
    }

    /// Texts that differ, described for the failure message (at most a few).
    func differences(_ texts: [[UInt8]]) throws -> [String] {
        let tagger = try MeCabTagger(dictionary: Self.dictionary!)
        let oracle = Oracle(directory: Self.dictionary!.directory)
        var differing: [String] = []
        for text in texts {
            let expected = oracle.words(text)
            let got = ours(tagger, text)
            if expected != got, differing.count < 5 {
                differing.append("\(String(decoding: text.prefix(200), as: UTF8.self).debugDescription) (\(text.count) bytes): "
                                 + "libmecab \(expected.map { "\($0.prefix(20))" } ?? "refuses") ours \(got.map { "\($0.prefix(20))" } ?? "refuses")")
            }
        }
        return differing
    }

    /// JSQuAD's validation set (5,574 paragraphs and questions, as they are and NFKC-normalised); bench/tokenize/run compares the token ids
    /// of all JSQuAD and JaQuAD texts with transformers'.
    @Test(.enabled(if: Fixtures.available, "needs ../shared/data"))
    func sameWordsOnJSQuADTexts() throws {
        var texts: [[UInt8]] = []
        var seen = Set<String>()
        for file in [Fixtures.data("jsquad/valid-v1.3.json")] {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            for article in try #require(root["data"] as? [[String: Any]]) {
                for paragraph in try #require(article["paragraphs"] as? [[String: Any]]) {
                    let questions = (paragraph["qas"] as? [[String: Any]] ?? []).compactMap { $0["question"] as? String }
                    for text in [paragraph["context"] as? String ?? ""] + questions where seen.insert(text).inserted {
                        texts.append(Array(text.utf8))
                        // As splade-tokenize hands them to MeCab too: NFKC first.
                        texts.append(Array(JapaneseNormalization.nfkc(text).utf8))
                    }
                }
            }
        }
        #expect(texts.count == 2 * 5574)
        #expect(try differences(texts) == [])
    }

    /// Runs of one class around MeCab's limits (a grouped unknown word is at most 25 characters; a
    /// class's unknown words are tried up to its length), spaces anywhere, characters past U+FFFF, U+FFFF.
    @Test func sameWordsOnRandomMixturesOfCharacterClasses() throws {
        let pieces: [[String]] = [
            ["あ", "っ", "ー", "を", "は"], ["ア", "ッ", "ー", "ヴ", "ヶ"], ["ｱ", "ｯ", "ｰ", "ﾞ"], ["日", "本", "語", "一", "二", "〇", "々"],
            ["a", "Z", "é", "ß"], ["0", "9", "１", "３"], [" ", "\t", "\n", "\u{3000}", "\u{a0}"], ["、", "。", "!", "?", "・", "「", "」", "-", "$", "…"],
            ["α", "Ω"], ["Я", "ж"], ["😀", "𠀋", "\u{1f1ef}"], ["\u{ffff}", "\u{fffd}", "\u{301}", "\u{200b}"], ["東京", "大学", "研究", "する", "ました"],
        ]
        var random = SeededRandom(seed: 20261203)
        var texts: [[UInt8]] = []
        for _ in 0..<3000 {
            var text = ""
            for _ in 0..<Int.random(in: 1...12, using: &random) {
                let kind = pieces[Int.random(in: 0..<pieces.count, using: &random)]
                let run = Int.random(in: 0...3, using: &random) == 0 ? Int.random(in: 20...30, using: &random) : Int.random(in: 1...4, using: &random)
                let repeated = Int.random(in: 0...1, using: &random) == 0
                let first = kind[Int.random(in: 0..<kind.count, using: &random)]
                for _ in 0..<run { text += repeated ? first : kind[Int.random(in: 0..<kind.count, using: &random)] }
            }
            texts.append(Array(text.utf8))
        }
        texts += [" ", "  あ  ", "\u{3000}", "あ\n", "😀", "\u{ffff}", "a b c ", String(repeating: "ア", count: 25),
                  String(repeating: "ア", count: 26), String(repeating: "x", count: 24) + "y"].map { Array($0.utf8) }
        #expect(try differences(texts) == [])
    }

    /// MeCab scans a whole run of one class from every position of it (quadratic); ours stops at the
    /// longest unknown word, with the same words.
    @Test func longRunsOfOneClassGiveTheSameWords() throws {
        #expect(try differences([Array(String(repeating: "a", count: 5000).utf8),
                                 Array(String(repeating: "ア", count: 3000).utf8),
                                 Array((String(repeating: "漢", count: 2000) + " " + String(repeating: "1", count: 2000)).utf8)]) == [])
    }

    /// MeCab looks 65,535 bytes ahead at most, and counts a word's length with the spaces before it in 16 bits:
    /// texts with that many spaces in a row, and words across the lookahead's end.
    @Test func textsAroundTheLookaheadGiveTheSameWords() throws {
        let spaces = { (count: Int) in String(repeating: " ", count: count) }
        #expect(try differences([spaces(65535) + "x", spaces(65534) + "x", spaces(70000) + "x", spaces(65535) + "東京",
                                 spaces(65534) + "東京 大学", "a" + spaces(65535), "a" + spaces(65535) + "b",
                                 "a" + String(repeating: "漢", count: 30000), String(repeating: "a", count: 70000)].map { Array($0.utf8) }) == [])
    }

    /// Both refuse a text whose best path costs more than 2^31 - 1 ("too long sentence"), and only such a text: ",1"
    /// costs 30,392 on such a path, so 70,659 of them are the longest libmecab takes, and one more comma is too many.
    /// (Runs of one character class would do as well, but libmecab takes quadratic time on those.)
    @Test func aTextLibmecabRefusesIsRefused() throws {
        let longest = Array(String(repeating: ",1", count: 70_659).utf8)
        let refused = longest + Array(",".utf8)
        let oracle = Oracle(directory: Self.dictionary!.directory)
        #expect(oracle.words(longest) != nil && oracle.words(refused) == nil)
        #expect(try differences([longest, refused]) == [])
    }

    @Test func textsEndAtTheirFirstNULAndEmptyTextsHaveNoWords() throws {
        #expect(try differences([Array("東京\0大学".utf8), [], [0, 65], Array("a\0".utf8)]) == [])
        #expect(ours(try MeCabTagger(dictionary: Self.dictionary!), Array("東京\0大学".utf8))?.count == 1)
    }

    @Test func aDictionaryFileThatIsNotOneIsNamed() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mecab-broken-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for file in ["sys.dic", "unk.dic", "char.bin", "matrix.bin"] {
            try FileManager.default.createSymbolicLink(atPath: directory + "/" + file, withDestinationPath: Self.dictionary!.directory + "/" + file)
        }
        try FileManager.default.removeItem(atPath: directory + "/unk.dic")
        try Data(repeating: 7, count: 4096).write(to: URL(fileURLWithPath: directory + "/unk.dic"))
        let error = try #require(throws: SpladeError.self) { try MeCabTagger(dictionary: MeCabDictionary(directory: directory)) }
        #expect(error.kind == .badInput)
        #expect(error.location == directory + "/unk.dic")
    }
}
