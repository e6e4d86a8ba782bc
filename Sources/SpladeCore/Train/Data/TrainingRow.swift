/// One row of the reference trainer's generic training data: a query, its positive and negative
/// texts, and a teacher score for each (the labels of the ranking loss).
///
/// Written as JSON Lines with the field names of the published examples:
/// `{"query":…,"positives":[…],"negatives":[…],"positives_score":[…],"negatives_score":[…]}`.
public struct TrainingRow: Sendable, Equatable {
    public struct Candidate: Sendable, Equatable {
        public var text: String
        public var score: Double
        public init(text: String, score: Double) {
            self.text = text
            self.score = score
        }
    }

    public var query: String
    public var positives: [Candidate]
    public var negatives: [Candidate]

    public init(query: String, positives: [Candidate], negatives: [Candidate]) {
        self.query = query
        self.positives = positives
        self.negatives = negatives
    }

    /// The row as one JSON line, with its newline. Scores are written in Swift's shortest
    /// round-trip form (`0.5`, `1.0`), so they read back exactly.
    public var jsonLine: [UInt8] {
        var json = JSONWriter()
        json.appendRaw("{\"query\":")
        json.appendString(query)
        json.appendRaw(",\"positives\":")
        json.appendValue(.array(positives.map { .string($0.text) }))
        json.appendRaw(",\"negatives\":")
        json.appendValue(.array(negatives.map { .string($0.text) }))
        json.appendRaw(",\"positives_score\":")
        json.appendValue(.array(positives.map { .number("\($0.score)") }))
        json.appendRaw(",\"negatives_score\":")
        json.appendValue(.array(negatives.map { .number("\($0.score)") }))
        json.appendRaw("}\n")
        return json.bytes
    }
}

/// Which candidates a teacher score keeps, and how many a row needs.
public struct CandidateSelection: Sendable {
    /// A positive needs a score ≥ this (> with `strict`).
    public var positiveThreshold: Double
    /// A negative needs a score ≤ this (< with `strict`).
    public var negativeThreshold: Double
    /// The mMARCO variant of the published data: strict comparisons.
    public var strict: Bool
    /// Rows with fewer negatives are dropped: the trainer samples G−1 of them (7 for v1).
    public var minNegatives: Int

    public init(positiveThreshold: Double = 0.7, negativeThreshold: Double = 0.3, strict: Bool = false, minNegatives: Int = 7) {
        self.positiveThreshold = positiveThreshold
        self.negativeThreshold = negativeThreshold
        self.strict = strict
        self.minNegatives = minNegatives
    }

    public func keepsPositive(_ score: Double) -> Bool {
        strict ? score > positiveThreshold : score >= positiveThreshold
    }

    public func keepsNegative(_ score: Double) -> Bool {
        strict ? score < negativeThreshold : score <= negativeThreshold
    }

    /// The row when it has enough candidates, else why it is dropped.
    func outcome(_ row: TrainingRow) -> RowOutcome {
        if row.positives.isEmpty { return .dropped(.noPositive) }
        if row.negatives.count < minNegatives { return .dropped(.tooFewNegatives) }
        return .kept(row)
    }
}

/// Why a row produced no training row.
public enum DropReason: Sendable, CaseIterable {
    case noPositive
    case tooFewNegatives
    /// Filtering: none of the row's candidate columns is scored by the chosen rerankers.
    case unscored
    /// Mining: the query is in neither the runs nor the qrels.
    case unknownQuery
}

public enum RowOutcome: Sendable, Equatable {
    case kept(TrainingRow)
    case dropped(DropReason)
}

/// What happened to the candidates of the rows seen so far (for the summary on standard error).
public struct CandidateCounts: Sendable, Equatable {
    public var positives = 0
    public var negatives = 0
    /// Scored between the thresholds (or a positive scored low, a negative high): neither kept.
    public var undecided = 0
    /// Repeats of a candidate already seen in the row (the id columns overlap).
    public var duplicates = 0
    /// Candidates without a teacher score: in mining, absent from the score file; in filtering, in a column the chosen
    /// rerankers do not score.
    public var unscored = 0

    public init() {}

    public static func += (lhs: inout CandidateCounts, rhs: CandidateCounts) {
        lhs.positives += rhs.positives
        lhs.negatives += rhs.negatives
        lhs.undecided += rhs.undecided
        lhs.duplicates += rhs.duplicates
        lhs.unscored += rhs.unscored
    }
}
