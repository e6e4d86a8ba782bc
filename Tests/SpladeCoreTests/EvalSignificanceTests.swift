import Foundation
import Testing
@testable import SpladeCore

struct EvalSignificanceTests {
    /// Two-sided p-values of scipy.stats.ttest_1samp(d, 0) (scipy 1.17).
    @Test func pairedTTestMatchesSciPy() throws {
        let cases: [([Double], Double)] = [
            ([0.1, -0.05, 0.2, 0.0, 0.15, 0.3, -0.1, 0.05], 0.12876171321826999),
            ([1, 2, 3, 4, 5, -1], 0.04565912378141167),
            ([0.5, -0.4], 0.9295534250454455),
            ((1...400).map { sin(Double($0)) * 0.3 + 0.02 }, 0.0517866289546952),
            ((1...400).map { sin(Double($0)) * 0.3 + 0.05 }, 2.5382747506334383e-06),
        ]
        for (differences, reference) in cases {
            let p = try #require(PairedTests.tTest(differences))
            // Relative: the continued fraction converges to ~1e-15; 1e-9 leaves room for lgamma.
            #expect(abs(p - reference) <= 1e-9 * reference, "\(differences.count) pairs: \(p) vs \(reference)")
        }
        #expect(PairedTests.tTest([0.3]) == nil)
        #expect(PairedTests.tTest([0, 0, 0]) == 1)
        #expect(PairedTests.tTest([0.25, 0.25, 0.25]) == 0)
    }

    @Test func randomizationTestIsSeededAndNearTheExactValue() {
        // Ten equal positive differences: only the all-same-sign assignments (2 of 1024) are as extreme.
        let differences = [Double](repeating: 0.1, count: 10)
        let p = PairedTests.randomizationTest(differences, trials: 20_000, seed: 7)
        #expect(abs(p - 2.0 / 1024) < 0.001)
        #expect(p == PairedTests.randomizationTest(differences, trials: 20_000, seed: 7))
        #expect(PairedTests.randomizationTest([0, 0, 0], trials: 100, seed: 1) == 1)
        // Symmetric differences: every assignment is at least as extreme as |Σd| = 0.
        #expect(PairedTests.randomizationTest([0.2, -0.2], trials: 100, seed: 1) == 1)
    }

    @Test func randomizationAgreesWithTheTTestOnALargeSample() {
        let differences = (1...400).map { sin(Double($0)) * 0.3 + 0.02 }
        let p = PairedTests.randomizationTest(differences, trials: 20_000, seed: 42)
        // Both approximate the same null distribution; the t-test gives 0.0518.
        #expect(abs(p - 0.0518) < 0.01)
    }

    @Test func comparisonsPairQueriesEvaluatedInBothRuns() {
        let metric = Metric(.ndcg, cutoff: 10)
        let baseline = RunEvaluation(name: "b", metrics: [metric], queries: ["q1", "q2", "q3"],
                                     values: [[0.5], [0.2], [0.4]], means: [1.1 / 3])
        let run = RunEvaluation(name: "r", metrics: [metric], queries: ["q0", "q2", "q3"],
                                values: [[1], [0.6], [0.3]], means: [1.9 / 3])
        let differences = Comparisons.perQueryDifferences(run, baseline, metric: metric)
        #expect(differences.map(\.query) == ["q2", "q3"])
        let comparison = Comparisons.compare(run, against: baseline, settings: ComparisonSettings(trials: 100, seed: 1))
        #expect(comparison.count == 1)
        #expect(comparison[0].pairedQueries == 2)
        #expect(abs(comparison[0].meanDifference - 0.15) < 1e-12)
    }
}
