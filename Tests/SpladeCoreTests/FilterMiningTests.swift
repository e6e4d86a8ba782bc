import Foundation
import Testing
@testable import SpladeCore

/// Hard-negative mining from runs written here (splade-search's JSON Lines and TREC).
struct FilterMiningTests {
    static let collection = DocumentCollection(texts: (0..<10).map { "doc \($0)" }, ids: (0..<10).map { "d\($0)" },
                                               name: "docs.jsonl")

    func miner(runs: [String], teacher: String? = nil, skip: Int = 0, maxNegatives: Int = 30,
               minNegatives: Int = 1) throws -> HardNegativeMiner {
        var qrels = Qrels()
        qrels.add(query: "q1", document: "d0", level: 1)
        qrels.add(query: "q1", document: "d5", level: 2)
        qrels.add(query: "q1", document: "d1", level: 0)
        qrels.add(query: "q2", document: "d1", level: 0)
        let parsed = try runs.enumerated().map { index, text in
            try Run(path: FilterTestFiles.write(text, name: "run\(index)-\(UUID().uuidString).trec"), name: "run\(index)")
        }
        let scores = try teacher.map { try Run(path: FilterTestFiles.write($0), name: "teacher") }
        return HardNegativeMiner(runs: parsed, qrels: qrels, qrelsPath: "qrels.trec", collection: Self.collection,
                                 teacherScores: scores,
                                 settings: .init(skip: skip, maxNegatives: maxNegatives,
                                                 selection: CandidateSelection(minNegatives: minNegatives)))
    }

    /// A TREC run of q1 over documents, best first.
    static func trec(_ documents: [String]) -> String {
        documents.enumerated().map { "q1 Q0 \($1) \($0 + 1) \(100 - $0) run" }.joined(separator: "\n") + "\n"
    }

    @Test func negativesAreTopRankedNonRelevantDocumentsAfterSkip() throws {
        // JSON Lines in scrambled order: the miner orders by score.
        let run = """
            {"qid":"q1","docno":"d3","score":7.0}
            {"qid":"q1","docno":"d0","score":9.0}
            {"qid":"q1","docno":"d2","score":8.0}
            {"qid":"q1","docno":"d1","score":6.0}
            {"qid":"q1","docno":"d4","score":5.0}
            """
        let (outcome, counts) = try miner(runs: [run], skip: 2).row(queryId: "q1", query: "質問")
        guard case .kept(let row) = outcome else { Issue.record("dropped: \(outcome)"); return }
        #expect(row.query == "質問")
        // Positives: level 2 before level 1; the level-0 judgment is a negative.
        #expect(row.positives == [.init(text: "doc 5", score: 1), .init(text: "doc 0", score: 1)])
        // Ranks 1 and 2 (d0, d2) are skipped; d1, judged 0, is a negative.
        #expect(row.negatives.map(\.text) == ["doc 3", "doc 1", "doc 4"])
        #expect(row.negatives.allSatisfy { $0.score == 0 })
        #expect(counts.positives == 2 && counts.negatives == 3)
    }

    @Test func severalRunsTakeTurnsAndShareNoDocument() throws {
        let mined = try miner(runs: [Self.trec(["d2", "d3", "d4"]), Self.trec(["d2", "d6", "d7"])], maxNegatives: 4)
        let (outcome, counts) = try mined.row(queryId: "q1", query: "q")
        guard case .kept(let row) = outcome else { Issue.record("dropped: \(outcome)"); return }
        #expect(row.negatives.map(\.text) == ["doc 2", "doc 3", "doc 6", "doc 4"])
        #expect(counts.duplicates == 1)
    }

    @Test func teacherScoresLabelAndFilter() throws {
        let teacher = """
            q1 Q0 d0 1 0.95 rr
            q1 Q0 d5 2 0.5 rr
            q1 Q0 d2 3 0.2 rr
            q1 Q0 d3 4 0.6 rr
            """
        let (outcome, counts) = try miner(runs: [Self.trec(["d2", "d3", "d4"])], teacher: teacher)
            .row(queryId: "q1", query: "q")
        guard case .kept(let row) = outcome else { Issue.record("dropped: \(outcome)"); return }
        #expect(row.positives == [.init(text: "doc 0", score: 0.95)])
        #expect(row.negatives == [.init(text: "doc 2", score: 0.2)])
        #expect(counts.undecided == 2 && counts.unscored == 1)
    }

    @Test func queriesWithoutPositivesOrNegativesAreDropped() throws {
        let mined = try miner(runs: [Self.trec(["d2"])], minNegatives: 2)
        #expect(try mined.row(queryId: "q2", query: "q").0 == .dropped(.noPositive))
        #expect(try mined.row(queryId: "q1", query: "q").0 == .dropped(.tooFewNegatives))
        // In neither the runs nor the qrels: most likely an id that does not match theirs.
        #expect(try mined.row(queryId: "Q1", query: "q").0 == .dropped(.unknownQuery))
    }

    /// The error names the run line that lists the document (mining takes a run in score order, not line order).
    @Test func documentsMissingFromTheCollectionAreErrors() throws {
        let run = """
            {"qid":"q1","docno":"d3","score":3.0}
            {"qid":"q1","docno":"x9","score":1.0}
            {"qid":"q1","docno":"d2","score":2.0}
            """
        let error = #expect(throws: SpladeError.self) {
            try miner(runs: [run]).row(queryId: "q1", query: "q")
        }
        #expect(error?.kind == .badInput)
        #expect(error?.location == "run0:2")
        #expect(error?.message == "document x9 is not in the collection docs.jsonl")
    }

    /// A relevant document missing from the collection is named by its qrels line (found again in the file).
    @Test func relevantDocumentsMissingFromTheCollectionNameTheirQrelsLine() throws {
        let path = try FilterTestFiles.write("q1 0 d0 1\n# comment\nq2 0 x7 1\nq1 0 x7 2\n", name: UUID().uuidString + ".trec")
        let miner = HardNegativeMiner(runs: [], qrels: try Qrels(path: path), qrelsPath: path, collection: Self.collection,
                                      teacherScores: nil, settings: .init())
        let error = #expect(throws: SpladeError.self) { try miner.row(queryId: "q1", query: "q") }
        #expect(error?.location == "\(path):4")
        #expect(error?.message == "document x7 is not in the collection docs.jsonl")
    }
}
