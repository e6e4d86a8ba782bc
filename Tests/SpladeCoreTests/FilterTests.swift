import Foundation
import Testing
@testable import SpladeCore

/// Score filtering of the two input layouts, the collection, up-sampling.
struct FilterTests {
    /// Four documents; the collection has no id field, so ids are line positions.
    static let collection = DocumentCollection(
        texts: ["東京 東京は日本の首都です。", "大阪は関西の都市です。", "京都には寺が多い。", "札幌 札幌は北海道にある。"],
        ids: nil, name: "docs.jsonl")

    func filter(_ json: String, rerankers: [String] = ["a"], strict: Bool = false, minNegatives: Int = 1,
                collection: DocumentCollection? = nil) throws -> (RowOutcome, CandidateCounts) {
        let selection = CandidateSelection(strict: strict, minNegatives: minNegatives)
        return try ScoreFilter(rerankers: rerankers, selection: selection, collection: collection)
            .filter(JSON.parse(json), location: "rows.jsonl:1")
    }

    func keptRow(_ outcome: RowOutcome) throws -> TrainingRow {
        guard case .kept(let row) = outcome else { throw SpladeError(.internalError, "row dropped: \(outcome)") }
        return row
    }

    @Test func embScoresLayoutAveragesRerankersAndResolvesIds() throws {
        let (outcome, counts) = try filter("""
            {"anc":"日本の首都は?","pos_ids":[0],"neg_ids":[1,2],
             "score.a.pos_ids":[0.75],"score.b.pos_ids":[0.65],
             "score.a.neg_ids":[0.25,0.5],"score.b.neg_ids":[0.25,0.25]}
            """, rerankers: ["a", "b"], collection: Self.collection)
        let row = try keptRow(outcome)
        #expect(row.query == "日本の首都は?")
        #expect(row.positives == [.init(text: "東京 東京は日本の首都です。", score: 0.7)])
        #expect(row.negatives == [.init(text: "大阪は関西の都市です。", score: 0.25)])
        #expect(counts.positives == 1 && counts.negatives == 1 && counts.undecided == 1)
    }

    @Test func genericLayoutTakesTexts() throws {
        let (outcome, _) = try filter("""
            {"query":"q","positives":["p1","p2"],"negatives":"n1",
             "score.a.positives":[0.9,0.1],"score.a.negatives":[0.0]}
            """)
        let row = try keptRow(outcome)
        #expect(row.positives.map(\.text) == ["p1"])
        #expect(row.negatives == [.init(text: "n1", score: 0)])
    }

    @Test func thresholdsAreInclusiveUnlessStrict() throws {
        let json = """
            {"query":"q","positives":["at","above"],"negatives":["at","below"],
             "score.a.positives":[0.7,0.71],"score.a.negatives":[0.3,0.29]}
            """
        let inclusive = try keptRow(try filter(json).0)
        #expect(inclusive.positives.map(\.text) == ["at", "above"])
        #expect(inclusive.negatives.map(\.text) == ["at", "below"])
        let strict = try keptRow(try filter(json, strict: true).0)
        #expect(strict.positives.map(\.text) == ["above"])
        #expect(strict.negatives.map(\.text) == ["below"])
    }

    @Test func candidatesArePooledOverColumnsOnce() throws {
        let (outcome, counts) = try filter("""
            {"anc":"q","pos_ids":[0],"pos_ids.original":[0],"neg_ids":[1,2],"neg_ids.bm25":[2,3],
             "score.a.pos_ids":[0.9],"score.a.pos_ids.original":[0.9],
             "score.a.neg_ids":[0.1,0.2],"score.a.neg_ids.bm25":[0.2,0.0]}
            """, collection: Self.collection)
        let row = try keptRow(outcome)
        #expect(row.positives.count == 1)
        #expect(row.negatives.map(\.score) == [0.1, 0.2, 0.0])
        #expect(counts.duplicates == 2)
    }

    @Test func unscoredColumnsAreIgnored() throws {
        // The reference's own output columns (pos_ids.score) and unscored sources are not candidates.
        let (outcome, _) = try filter("""
            {"anc":"q","pos_ids":[0],"pos_ids.score":[0.9],"neg_ids":[1],"neg_ids.me5-large":[2],
             "score.a.pos_ids":[0.9],"score.a.neg_ids":[0.1]}
            """, collection: Self.collection)
        #expect(try keptRow(outcome).negatives.count == 1)
    }

    @Test func aRowWithoutAnyScoresIsDroppedNotAnError() throws {
        let (outcome, _) = try filter(#"{"query":"q","positives":[],"negatives":[]}"#)
        #expect(outcome == .dropped(.unscored))
        // No column scored at all: dropped for that, its candidates counted as without a score.
        let unscored = try filter(#"{"query":"q","pos":["p"],"neg":["n","m"]}"#)
        #expect(unscored.0 == .dropped(.unscored) && unscored.1.unscored == 3, "\(unscored)")
        // A column the rerankers leave out is ignored, as the reference ignores it, and counted.
        let partly = try filter(#"{"query":"q","pos":["p"],"pos.score":[0.9],"neg":["n"],"neg.bm25":["m","o"],"score.a.pos":[0.9],"score.a.neg":[0.1]}"#)
        #expect(partly.0 != .dropped(.unscored) && partly.1.unscored == 2 && partly.1.negatives == 1, "\(partly)")
    }

    @Test func rowsNeedAPositiveAndEnoughNegatives() throws {
        let noPositive = try filter(#"{"query":"q","pos":["p"],"neg":["n"],"score.a.pos":[0.5],"score.a.neg":[0.1]}"#)
        #expect(noPositive.0 == .dropped(.noPositive))
        let fewNegatives = try filter(#"{"query":"q","pos":["p"],"neg":["n"],"score.a.pos":[0.9],"score.a.neg":[0.1]}"#,
                                      minNegatives: 2)
        #expect(fewNegatives.0 == .dropped(.tooFewNegatives))
    }

    @Test(arguments: [
        (#"{"query":"q","pos":["p","p2"],"score.a.pos":[0.9]}"#, ["a"], "\"pos\" has 2 candidates but its scores have 1"),
        (#"{"query":"q","pos":["p"],"score.a.pos":["high"]}"#, ["a"], "\"score.a.pos\"[0] is string, expected a finite number"),
        (#"{"query":"q","pos":["p"],"score.a.pos":[0.9]}"#, ["a", "b"], "missing field \"score.b.pos\""),
        (#"{"query":"q","pos":["p"],"score.a.pos":[0.9],"score.b.pos":[0.9,0.1]}"#, ["a", "b"],
         "\"score.b.pos\" has 2 scores but \"score.a.pos\" has 1"),
        (#"{"pos":["p"],"score.a.pos":[0.9]}"#, ["a"], "missing query field"),
        (#"{"query":"q","pos":[3],"score.a.pos":[0.9]}"#, ["a"], "\"pos\"[0] is number, expected a text"),
        // Ids without --collection would become training texts.
        (#"{"anc":"q","pos_ids":["d0"],"neg_ids.bm25":["d1"],"score.a.pos_ids":[0.9],"score.a.neg_ids.bm25":[0.1]}"#, ["a"],
         "\"pos_ids\" holds document ids (the hpprc/emb-scores layout), not texts"),
        // A misspelt --rerankers name: no column is scored, the row would only be dropped.
        (#"{"query":"q","pos":["p"],"neg":["n"],"score.R.pos":[0.9],"score.R.neg":[0.1]}"#, ["X"],
         "no candidate column (pos, neg) is scored by X"),
    ])
    func badRowsAreErrorsWithTheirLocation(_ json: String, rerankers: [String], message: String) throws {
        let error = #expect(throws: SpladeError.self) { try filter(json, rerankers: rerankers) }
        #expect(error?.kind == .badInput)
        #expect(error?.location == "rows.jsonl:1")
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "")")
    }

    @Test func unknownIdsAreErrors() throws {
        let error = #expect(throws: SpladeError.self) {
            try filter(#"{"anc":"q","pos_ids":[9],"score.a.pos_ids":[0.9]}"#, collection: Self.collection)
        }
        #expect(error?.message == "unknown id 9 in \"pos_ids\" (not in docs.jsonl)")
    }

    @Test func collectionJoinsTitleCutsAndReadsIds() throws {
        let path = try FilterTestFiles.write("""
            {"id":"d1","title":"題","text":"本文です"}
            {"id":7,"text":"\(String(repeating: "あ", count: 20))"}
            """)
        let collection = try DocumentCollection(path: path, maxCharacters: 10)
        #expect(collection.text(of: "d1") == "題 本文です")
        #expect(collection.text(of: "7") == String(repeating: "あ", count: 10))
        #expect(collection.text(of: "0") == nil)

        let repeated = try FilterTestFiles.write("{\"id\":1,\"text\":\"a\"}\n{\"id\":1,\"text\":\"b\"}\n")
        let error = #expect(throws: SpladeError.self) { try DocumentCollection(path: repeated) }
        #expect(error?.location == "\(repeated):2")
    }

    /// Blank lines are not documents; where ids are places, one before a document would leave its id in doubt.
    @Test func blankLinesOfACollection() throws {
        let withIds = try DocumentCollection(path: FilterTestFiles.write("\n{\"id\":\"a\",\"text\":\"x\"}\n \r\n{\"id\":\"b\",\"text\":\"y\"}\n\n"))
        #expect(withIds.text(of: "a") == "x" && withIds.text(of: "b") == "y")
        let trailing = try DocumentCollection(path: FilterTestFiles.write("{\"text\":\"x\"}\n{\"text\":\"y\"}\n\n\n"))
        #expect(trailing.text(of: "1") == "y" && trailing.text(of: "2") == nil)
        let inner = try FilterTestFiles.write("{\"text\":\"x\"}\n\n{\"text\":\"y\"}\n")
        let error = #expect(throws: SpladeError.self) { try DocumentCollection(path: inner) }
        #expect(error?.location == "\(inner):3" && error?.message == "line 2 is blank, in a collection whose ids are the documents' places")
    }

    @Test func upsamplingIsReproducibleAndKeepsEveryRowPerCopy() {
        let order = Upsampling(factor: 3, seed: 7).order(count: 50)
        #expect(order == Upsampling(factor: 3, seed: 7).order(count: 50))
        #expect(order != Upsampling(factor: 3, seed: 8).order(count: 50))
        for copy in 0..<3 {
            #expect(order[(copy * 50)..<((copy + 1) * 50)].sorted() == Array(0..<50))
        }
        #expect(order[0..<50] != order[50..<100], "each copy has its own shuffle")
        // Pinned: the order must not change between releases (reproducible training data).
        #expect(Upsampling(factor: 1, seed: 42).order(count: 6) == [2, 5, 3, 1, 0, 4])
    }

    @Test func trainingRowJSONMatchesTheReferenceFormat() throws {
        let row = TrainingRow(query: "q\"", positives: [.init(text: "p", score: 1)],
                              negatives: [.init(text: "n", score: 0.25)])
        #expect(String(decoding: row.jsonLine, as: UTF8.self)
            == #"{"query":"q\"","positives":["p"],"negatives":["n"],"positives_score":[1.0],"negatives_score":[0.25]}"# + "\n")
    }
}

/// Files written for a test, in the temporary directory.
enum FilterTestFiles {
    static func write(_ contents: String, name: String = UUID().uuidString + ".jsonl") throws -> String {
        let path = NSTemporaryDirectory() + "/" + name
        try contents.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
