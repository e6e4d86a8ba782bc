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

        /// (surface, feature) of each word; nil when libmecab refuses the text.
        func words(_ text: [UInt8]) -> [String]? {
            var text = text
            text.append(0)  // fugashi hands MeCab a C string
            return text.withUnsafeBufferPointer { bytes -> [String]? in
                let base = UnsafeRawPointer(bytes.baseAddress!).assumingMemoryBound(to: CChar.self)
                guard var node = mecab_sparse_tonode2(tagger, base, bytes.count - 1) else { return nil }
                var words: [String] = []
                while true {
                    let stat = Int(node.pointee.stat)
                    if stat != MECAB_BOS_NODE && stat != MECAB_EOS_NODE {
                        let surface = UnsafeRawBufferPointer(start: node.pointee.surface, count: Int(node.pointee.length))
                        words.append(String(decoding: surface, as: UTF8.self) + "\t" + String(cString: node.pointee.feature))
                    }
                    guard let next = node.pointee.next else { break }
                    node = UnsafePointer(next)
                }
                return words
            }
        }
    }

    static let dictionary = TestResources.dictionary.flatMap { try? MeCabDictionary(directory: $0) }

    func ours(_ tagger: MeCabTagger, _ text: [UInt8]) throws -> [String] {
        var words: [String] = []
        try text.withUnsafeBufferPointer { bytes in
            try tagger.forEachWordWithFeature(bytes) { surface, feature in
                words.append(String(decoding: surface, as: UTF8.self) + "\t" + feature)
            }
        }
        return words
    }

    /// Texts that differ, described for the failure message (at most a few).
    func differences(_ texts: [[UInt8]]) throws -> [String] {
        let tagger = try MeCabTagger(dictionary: Self.dictionary!)
        let oracle = Oracle(directory: Self.dictionary!.directory)
        var differing: [String] = []
        for text in texts {
            let expected = oracle.words(text)
            let got = try? ours(tagger, text)
            if expected != got, differing.count < 5 {
                differing.append("\(String(decoding: text, as: UTF8.self).debugDescription): libmecab \(expected ?? []) ours \(got ?? [])")
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

    @Test func textsEndAtTheirFirstNULAndEmptyTextsHaveNoWords() throws {
        let tagger = try MeCabTagger(dictionary: Self.dictionary!)
        #expect(try ours(tagger, Array("東京\0大学".utf8)) == ours(tagger, Array("東京".utf8)))
        #expect(try ours(tagger, []) == [])
        #expect(try ours(tagger, [0, 65]) == [])
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
