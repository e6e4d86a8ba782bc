/// Makes training rows from retrieval runs: the positives are a query's relevant documents (qrels
/// level ≥ 1), the negatives the documents the runs rank highest that are not judged relevant —
/// the "hard negatives" a retriever confuses with the answer.
///
/// Each run is ordered by score (ties by its own rank) and its first `skip` ranks are passed over
/// (unjudged relevant documents gather there). Several runs are merged in turns, one candidate from
/// each, so that every retriever contributes; a document is taken once.
///
/// Labels are 1 and 0, or, given teacher scores (a run file of reranker scores), the teacher's
/// score, with the thresholds of `selection` applied as in score filtering; candidates the teacher
/// did not score are passed over and counted.
public struct HardNegativeMiner: Sendable {
    public struct Settings: Sendable {
        /// Ranks skipped at the top of each run.
        public var skip: Int
        /// Negatives taken per query at most.
        public var maxNegatives: Int
        public var selection: CandidateSelection

        public init(skip: Int = 0, maxNegatives: Int = 30, selection: CandidateSelection = CandidateSelection()) {
            self.skip = skip
            self.maxNegatives = maxNegatives
            self.selection = selection
        }
    }

    public let settings: Settings
    public let collection: DocumentCollection
    /// Per run: its name and, per query, its documents best first with their input lines (for diagnostics).
    let rankings: [(name: String, queries: [ExactID: [(document: ExactID, line: Int)]])]
    let judgments: [ExactID: QueryJudgments]
    /// The qrels file (`-`: standard input), for diagnostics.
    let qrelsPath: String
    /// Query → document → teacher score.
    let teacher: [ExactID: [ExactID: Double]]?

    public init(runs: [Run], qrels: Qrels, qrelsPath: String, collection: DocumentCollection,
                teacherScores: Run?, settings: Settings) {
        self.settings = settings
        self.collection = collection
        self.rankings = runs.map { run in
            (run.name, run.queries.mapValues { entries in
                entries.sorted { $0.score != $1.score ? $0.score > $1.score : $0.rank < $1.rank }.map { (ExactID($0.document), $0.line) }
            })
        }
        self.judgments = qrels.queries
        self.qrelsPath = qrelsPath
        self.teacher = teacherScores.map { scores in
            scores.queries.mapValues { entries in
                Dictionary(entries.map { (ExactID($0.document), $0.score) }, uniquingKeysWith: { first, _ in first })
            }
        }
    }

    /// The training row of one query, or why it has none (a query the runs and qrels do not know is dropped as
    /// such: when every query is, their ids do not match), with what happened to its candidates.
    public func row(queryId: String, query: String) throws(SpladeError) -> (RowOutcome, CandidateCounts) {
        var counts = CandidateCounts()
        let queryId = ExactID(queryId)
        guard judgments[queryId] != nil || rankings.contains(where: { $0.queries[queryId] != nil }) else {
            return (.dropped(.unknownQuery), counts)
        }
        let levels = judgments[queryId]?.levels ?? [:]
        // Most relevant first; equal levels in document order, so the output does not depend on hashing.
        let relevant = levels.filter { $0.value >= 1 }
            .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.text.utf8.lexicographicallyPrecedes($1.key.text.utf8) }
        var positives: [TrainingRow.Candidate] = []
        for (document, _) in relevant {
            let text = try self.text(of: document) { Qrels.location(ofQuery: queryId.text, document: document.text, in: qrelsPath) }
            guard let score = label(queryId, document, positive: true, counts: &counts) else { continue }
            positives.append(.init(text: text, score: score))
        }

        var negatives: [TrainingRow.Candidate] = []
        var taken = Set<ExactID>()
        var cursors = Array(repeating: settings.skip, count: rankings.count)
        var active = true
        while active && negatives.count < settings.maxNegatives {
            active = false
            for (r, ranking) in rankings.enumerated() where negatives.count < settings.maxNegatives {
                guard let documents = ranking.queries[queryId], cursors[r] < documents.count else { continue }
                active = true
                let (document, line) = documents[cursors[r]]
                cursors[r] += 1
                if (levels[document] ?? 0) >= 1 { continue }
                guard taken.insert(document).inserted else { counts.duplicates += 1; continue }
                let text = try self.text(of: document) { "\(ranking.name):\(line)" }
                guard let score = label(queryId, document, positive: false, counts: &counts) else { continue }
                negatives.append(.init(text: text, score: score))
            }
        }
        return (settings.selection.outcome(TrainingRow(query: query, positives: positives, negatives: negatives)), counts)
    }

    /// The label of a candidate, or nil when the teacher did not score it or its score is on the
    /// wrong side of the threshold.
    private func label(_ queryId: ExactID, _ document: ExactID, positive: Bool, counts: inout CandidateCounts) -> Double? {
        guard let teacher else {
            if positive { counts.positives += 1 } else { counts.negatives += 1 }
            return positive ? 1 : 0
        }
        guard let score = teacher[queryId]?[document] else {
            counts.unscored += 1
            return nil
        }
        let kept = positive ? settings.selection.keepsPositive(score) : settings.selection.keepsNegative(score)
        guard kept else {
            counts.undecided += 1
            return nil
        }
        if positive { counts.positives += 1 } else { counts.negatives += 1 }
        return score
    }

    /// `source`: where the document was named (`FILE:LINE`), worked out only for the error.
    private func text(of document: ExactID, source: () -> String) throws(SpladeError) -> String {
        guard let text = collection.text(of: document.text) else {
            throw SpladeError(.badInput, "document \(document) is not in the collection \(collection.name)", location: source())
        }
        return text
    }
}
