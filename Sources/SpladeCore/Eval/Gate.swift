/// A `--fail-under` condition: every run's mean of `metric` must be at least `threshold`.
public struct Gate: Sendable {
    public var metric: Metric
    public var threshold: Double

    public init(metric: Metric, threshold: Double) {
        self.metric = metric
        self.threshold = threshold
    }

    /// Parses `METRIC=THRESHOLD`, e.g. `nDCG@10=0.6`.
    public init(parsing text: String) throws(SpladeError) {
        let parts = text.split(separator: "=", omittingEmptySubsequences: false)
        guard parts.count == 2, let threshold = Double(parts[1]), threshold.isFinite else {
            throw SpladeError(.usage, "gate \"\(text)\" is not METRIC=THRESHOLD", hint: "e.g. --fail-under nDCG@10=0.6")
        }
        self.init(metric: try Metric(parsing: String(parts[0])), threshold: threshold)
    }

    /// Parses a comma-separated list (`nDCG@10=0.6,MRR@10=0.8`). An empty item is an error: `--fail-under "$GATE"`
    /// with the variable unset must not turn the gate off.
    public static func parseList(_ text: String) throws(SpladeError) -> [Gate] {
        var gates: [Gate] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = item.filter { $0 != " " }
            guard !item.isEmpty else { throw SpladeError(.usage, "an empty gate in \"\(text)\"", hint: "e.g. --fail-under nDCG@10=0.6") }
            gates.append(try Gate(parsing: item))
        }
        return gates
    }

    /// One message per run whose mean falls below the threshold (a run without the metric fails).
    public func failures(in evaluations: [RunEvaluation]) -> [String] {
        evaluations.compactMap { evaluation in
            let mean = evaluation.mean(of: metric)
            if let mean, mean >= threshold { return nil }
            // Six decimals: a mean a hair under the threshold must not print as equal to it.
            let shown = mean.map { FixedPoint.format($0, decimals: 6) } ?? "not computed"
            return "\(evaluation.name): \(metric) \(shown) is under \(threshold)"
        }
    }
}
