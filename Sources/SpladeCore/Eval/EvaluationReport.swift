/// Everything one `splade-eval` invocation found: each run's metrics and, with several runs, the
/// paired tests of every run against the baseline. Rendered as a table, JSON or an SVG chart.
public struct EvaluationReport: Sendable {
    public var evaluations: [RunEvaluation]
    /// Index of the baseline in `evaluations`.
    public var baselineIndex: Int
    public var comparisons: [Comparison]
    public var options: EvaluationOptions
    public var settings: ComparisonSettings
    /// Include every query's values, not only the means.
    public var perQuery: Bool

    /// Evaluates every run against `qrels` and compares each non-baseline run with the baseline.
    public init(runs: [Run], qrels: Qrels, metrics: [Metric], options: EvaluationOptions,
                baselineIndex: Int = 0, settings: ComparisonSettings = ComparisonSettings(), perQuery: Bool = false) {
        let evaluations = runs.map { Evaluator.evaluate($0, qrels: qrels, metrics: metrics, options: options) }
        self.evaluations = evaluations
        self.baselineIndex = baselineIndex
        self.comparisons = evaluations.indices.filter { $0 != baselineIndex }.flatMap {
            Comparisons.compare(evaluations[$0], against: evaluations[baselineIndex], settings: settings)
        }
        self.options = options
        self.settings = settings
        self.perQuery = perQuery
    }

    public var metrics: [Metric] { evaluations.first?.metrics ?? [] }
    public var baseline: RunEvaluation { evaluations[baselineIndex] }

    /// Whether every run's means are over the same queries. Without --missing-as-zero each run is averaged over the
    /// judged queries it answers, and a run that answers only easy ones would otherwise be marked best.
    public var meansAreComparable: Bool { evaluations.allSatisfy { $0.queries == evaluations[0].queries } }

    /// For each metric, the indices of the runs with the highest mean (all of them on a tie); none when the means are
    /// over different queries.
    public var bestRuns: [[Int]] {
        guard meansAreComparable else { return metrics.map { _ in [] } }
        return metrics.indices.map { m in
            let best = evaluations.map { $0.means[m] }.max() ?? 0
            return evaluations.indices.filter { evaluations[$0].means[m] == best }
        }
    }
}
