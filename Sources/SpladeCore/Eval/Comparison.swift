/// One run against the baseline on one metric, over the queries both runs were evaluated on.
public struct Comparison: Sendable {
    public var run: String
    public var baseline: String
    public var metric: Metric
    public var pairedQueries: Int
    /// Mean of run − baseline over the paired queries.
    public var meanDifference: Double
    /// Two-sided paired t-test; nil with fewer than two paired queries.
    public var tTestP: Double?
    public var randomizationP: Double
}

public struct ComparisonSettings: Sendable {
    public var trials: Int
    public var seed: UInt64

    public init(trials: Int = 10_000, seed: UInt64 = 42) {
        self.trials = trials
        self.seed = seed
    }
}

public enum Comparisons {
    /// Compares `run` with `baseline` on every metric they share (the same seed for each metric,
    /// so each p-value is reproducible on its own).
    public static func compare(_ run: RunEvaluation, against baseline: RunEvaluation,
                               settings: ComparisonSettings = ComparisonSettings()) -> [Comparison] {
        run.metrics.enumerated().compactMap { m, metric in
            guard baseline.metrics.contains(metric) else { return nil }
            let differences = perQueryDifferences(run, baseline, metric: metric).map(\.difference)
            return Comparison(
                run: run.name, baseline: baseline.name, metric: metric, pairedQueries: differences.count,
                meanDifference: differences.isEmpty ? 0 : differences.reduce(0, +) / Double(differences.count),
                tTestP: PairedTests.tTest(differences),
                randomizationP: PairedTests.randomizationTest(differences, trials: settings.trials, seed: settings.seed))
        }
    }

    /// run − baseline per query evaluated in both (both query lists are sorted, so a merge walk).
    public static func perQueryDifferences(_ run: RunEvaluation, _ baseline: RunEvaluation,
                                           metric: Metric) -> [(query: String, difference: Double)] {
        guard let r = run.metrics.firstIndex(of: metric), let b = baseline.metrics.firstIndex(of: metric) else { return [] }
        var result: [(query: String, difference: Double)] = []
        var i = 0, j = 0
        while i < run.queries.count && j < baseline.queries.count {
            let a = run.queries[i], c = baseline.queries[j]
            if a.utf8.elementsEqual(c.utf8) {  // bytes, as the lists are sorted (not String's canonical equivalence)
                result.append((a, run.values[i][r] - baseline.values[j][b]))
                i += 1
                j += 1
            } else if a.utf8.lexicographicallyPrecedes(c.utf8) {
                i += 1
            } else {
                j += 1
            }
        }
        return result
    }
}
