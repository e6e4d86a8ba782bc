/// How documents with equal scores are ordered.
public enum TieBreak: String, CaseIterable, Sendable {
    /// trec_eval 9.x: by document id, descending (byte order), whatever the run's order. trec_eval
    /// keeps scores as C floats, so scores equal in single precision tie too.
    case docno
    /// By document id, ascending: the MS MARCO evaluator, which ir_measures uses for RR@k. Scores are
    /// compared in double precision, as that Python evaluator compares them.
    case docnoAscending = "docno-asc"
    /// The run's own order: its rank column (JSON "rank"; else the input order), ascending, as most
    /// Python evaluations (and the published JQaRA numbers) keep it; scores in double precision, as there.
    case rank
}

public struct EvaluationOptions: Sendable {
    public var tieBreak: TieBreak
    /// Judged queries missing from the run count as 0 in every metric (trec_eval -c, ir_measures);
    /// otherwise only queries in both the qrels and the run are averaged (trec_eval's default).
    public var missingAsZero: Bool
    public var ndcg: NDCGVariant
    /// A different tie-break for the measures ir_measures computes itself rather than through pytrec_eval:
    /// MRR@k (its MS MARCO evaluator) and Judged (nil: `tieBreak`).
    public var ownMeasuresTieBreak: TieBreak?
    /// The lowest level that counts as relevant (≥ 1): trec_eval's -l, pytrec_eval's relevance_level.
    public var relevanceLevel: Int
    /// Rankings condensed to the documents judged at a level ≥ 0, as trec_eval -J (pytrec_eval's
    /// judged_docs_only_flag) condenses them: unjudged documents, and negative levels, are dropped.
    public var judgedOnly: Bool
    /// Only the first this many documents of each ranking are evaluated, the rest dropped before `judgedOnly`
    /// condenses it (trec_eval -M; nil: all).
    public var maxRetrieved: Int?

    public init(tieBreak: TieBreak = .docno, missingAsZero: Bool = false, ndcg: NDCGVariant = .trecEval,
                ownMeasuresTieBreak: TieBreak? = nil, relevanceLevel: Int = 1, judgedOnly: Bool = false, maxRetrieved: Int? = nil) {
        self.tieBreak = tieBreak
        self.missingAsZero = missingAsZero
        self.ndcg = ndcg
        self.ownMeasuresTieBreak = ownMeasuresTieBreak
        self.relevanceLevel = relevanceLevel
        self.judgedOnly = judgedOnly
        self.maxRetrieved = maxRetrieved
    }

    /// ir_measures' defaults: judged queries missing from the run count as 0; its RR@k comes from the MS MARCO
    /// evaluator and its Judged from its own code (both: ties by docno ascending, scores in double precision),
    /// everything else (RR without a cutoff too) from pytrec_eval.
    public static let irMeasures = EvaluationOptions(missingAsZero: true, ownMeasuresTieBreak: .docnoAscending)

    func tieBreak(for metric: Metric) -> TieBreak {
        let ownMeasure = metric.kind == .reciprocalRank && metric.cutoff != nil || metric.kind == .judged
        return ownMeasure ? ownMeasuresTieBreak ?? tieBreak : tieBreak
    }
}

/// The metrics of one run: a value per evaluated query and metric, and their means.
public struct RunEvaluation: Sendable {
    public var name: String
    public var metrics: [Metric]
    /// The evaluated queries, sorted (byte order).
    public var queries: [String]
    /// `values[q][m]`: metric m of query q.
    public var values: [[Double]]
    /// Mean over `queries` per metric (0 when no query was evaluated).
    public var means: [Double]

    public func mean(of metric: Metric) -> Double? {
        metrics.firstIndex(of: metric).map { means[$0] }
    }
}

public enum Evaluator {
    public static func evaluate(_ run: Run, qrels: Qrels, metrics: [Metric],
                                options: EvaluationOptions = EvaluationOptions()) -> RunEvaluation {
        // Run queries without judgments are never evaluated; judged queries without results only
        // with missingAsZero.
        let evaluated = qrels.queries.keys.filter { options.missingAsZero || run.queries[$0] != nil }
            .sorted { $0.text.utf8.lexicographicallyPrecedes($1.text.utf8) }
        var values: [[Double]] = []
        values.reserveCapacity(evaluated.count)
        let tieBreaks = Set(metrics.map(options.tieBreak(for:)))
        for query in evaluated {
            let judgments = qrels.queries[query]!
            let entries = run.queries[query] ?? []
            // The relevance levels down each ranking the metrics need (usually one).
            var scorers: [TieBreak: QueryMetrics] = [:]
            for tieBreak in tieBreaks {
                var ranked = ranking(entries, tieBreak: tieBreak).prefix(options.maxRetrieved ?? .max)
                    .map { judgments.levels[ExactID($0.document)] ?? QueryMetrics.unjudged }
                if options.judgedOnly { ranked.removeAll { $0 < 0 } }
                scorers[tieBreak] = QueryMetrics(ranked: ranked, judgments: judgments, ndcg: options.ndcg,
                                                 relevanceLevel: options.relevanceLevel)
            }
            values.append(metrics.map { scorers[options.tieBreak(for: $0)]!.value($0) })
        }
        let means = metrics.indices.map { m in
            evaluated.isEmpty ? 0 : values.reduce(0) { $0 + $1[m] } / Double(evaluated.count)
        }
        return RunEvaluation(name: run.name, metrics: metrics, queries: evaluated.map(\.text), values: values, means: means)
    }

    /// Score descending; ties by document id (descending as trec_eval, or ascending) or by the run's rank.
    static func ranking(_ entries: [Run.Entry], tieBreak: TieBreak) -> [Run.Entry] {
        switch tieBreak {
        case .docno:
            return entries.sorted { a, b in
                let (x, y) = (Float(a.score), Float(b.score))
                return x != y ? x > y : b.document.utf8.lexicographicallyPrecedes(a.document.utf8)
            }
        case .docnoAscending:
            return entries.sorted { a, b in
                a.score != b.score ? a.score > b.score : a.document.utf8.lexicographicallyPrecedes(b.document.utf8)
            }
        case .rank:
            // Stable on the input order for equal ranks: sort (score, rank, position).
            return entries.indices.sorted { i, j in
                let a = entries[i], b = entries[j]
                if a.score != b.score { return a.score > b.score }
                return a.rank != b.rank ? a.rank < b.rank : i < j
            }.map { entries[$0] }
        }
    }
}
