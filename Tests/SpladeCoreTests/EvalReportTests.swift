import Foundation
import Testing
@testable import SpladeCore

/// The three renderings of a report: table, JSON and SVG.
struct EvalReportTests {
    func report(perQuery: Bool = false) -> EvaluationReport {
        var qrels = Qrels()
        for query in ["q1", "q2", "q3"] { qrels.add(query: query, document: "rel", level: 1) }
        func run(_ name: String, relevantFirst: Set<String>) -> Run {
            Run(name: name, queries: Dictionary(uniqueKeysWithValues: ["q1", "q2", "q3"].map { query in
                (ExactID(query), [Run.Entry(document: "other", score: 1, rank: 1),
                         Run.Entry(document: "rel", score: relevantFirst.contains(query) ? 2 : 0, rank: 2)])
            }))
        }
        return EvaluationReport(runs: [run("base<&>", relevantFirst: ["q1"]), run("better", relevantFirst: ["q1", "q2", "q3"])],
                                qrels: qrels, metrics: [Metric(.reciprocalRank, cutoff: 10), Metric(.precision, cutoff: 1)],
                                options: EvaluationOptions(), settings: ComparisonSettings(trials: 1000, seed: 3), perQuery: perQuery)
    }

    @Test func tableMarksTheBestRunPerColumn() {
        let lines = report().table().split(separator: "\n").map(String.init)
        #expect(lines[0] == "run      queries  MRR@10      P@1")
        #expect(lines[1] == "base<&>        3  0.6667   0.3333")
        #expect(lines[2] == "better         3  1.0000*  1.0000*")
        #expect(lines[3] == "* best per column")
        #expect(lines.contains("better  MRR@10        3     +0.3333    0.1835           0.5075"))
    }

    /// Means over different queries are not compared: a run that answers only the query it gets right has the higher
    /// mean, and no run is marked best (in the table and in the JSON report).
    @Test func runsOverDifferentQueriesHaveNoBestMarked() throws {
        var qrels = Qrels()
        for query in ["q1", "q2"] { qrels.add(query: query, document: "rel", level: 1) }
        let entries = [Run.Entry(document: "rel", score: 2, rank: 1)], wrong = [Run.Entry(document: "other", score: 2, rank: 1)]
        let full = Run(name: "full", queries: [ExactID("q1"): entries, ExactID("q2"): wrong])
        let partial = Run(name: "partial", queries: [ExactID("q1"): entries])
        let report = EvaluationReport(runs: [full, partial], qrels: qrels, metrics: [Metric(.reciprocalRank, cutoff: 10)],
                                      options: EvaluationOptions(), settings: ComparisonSettings(trials: 100, seed: 3))
        let lines = report.table().split(separator: "\n").map(String.init)
        #expect(lines[1] == "full           2  0.5000" && lines[2] == "partial        1  1.0000", "\(lines)")
        #expect(lines[3].hasPrefix("no best marked: the runs' means are over different queries"))
        guard case .array(let runs) = try JSON.parse(report.json())["runs"] else { return }
        #expect(runs.allSatisfy { run in if case .array(let best)? = run["best"] { best.isEmpty } else { false } })
        let zeros = EvaluationReport(runs: [full, partial], qrels: qrels, metrics: [Metric(.reciprocalRank, cutoff: 10)],
                                     options: EvaluationOptions(missingAsZero: true), settings: ComparisonSettings(trials: 100, seed: 3))
        #expect(zeros.bestRuns == [[0, 1]])
    }

    @Test func jsonHasMeansComparisonsAndOptionallyPerQueryValues() throws {
        let value = try JSON.parse(report(perQuery: true).json())
        guard case .array(let runs) = value["runs"], case .array(let comparisons) = value["comparisons"] else {
            Issue.record("runs or comparisons missing")
            return
        }
        #expect(runs.count == 2)
        #expect(runs[1]["name"]?.stringValue == "better")
        #expect(runs[1]["means"]?["MRR@10"]?.doubleValue == 1)
        #expect(runs[0]["per_query"]?["q2"]?["P@1"]?.doubleValue == 0)
        #expect(value["options"]?["tie_break"]?.stringValue == "docno")
        #expect(value["baseline"]?.stringValue == "base<&>")
        #expect(comparisons.count == 2)
        #expect(comparisons[1]["metric"]?.stringValue == "P@1")
        #expect(abs((comparisons[1]["mean_difference"]?.doubleValue ?? 0) - 2.0 / 3) < 1e-12)
        #expect(comparisons[1]["p_t_test"]?.doubleValue != nil)
        #expect(try JSON.parse(report().json())["runs"]?.typeName == "array")
        guard case .array(let plain) = try JSON.parse(report().json())["runs"] else { return }
        #expect(plain[0]["per_query"] == nil)
    }

    @Test func svgDrawsABarPerRunAndMetricAndEscapesNames() {
        let svg = report().svg()
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        #expect(svg.hasSuffix("</svg>\n"))
        #expect(svg.contains("base&lt;&amp;&gt;"))
        #expect(!svg.contains("base<&>"))
        // 2 metrics × 2 runs of mean bars, 2 legend swatches, and the 2 queries "better" wins.
        #expect(svg.components(separatedBy: "<rect ").count - 1 == 1 + 4 + 2 + 2)
        #expect(svg.contains("better 2, worse 0, equal 1"))
    }

    @Test func fixedPointFormatting() {
        #expect(FixedPoint.format(0.64410476, decimals: 4) == "0.6441")
        #expect(FixedPoint.format(0.70195, decimals: 3) == "0.702")
        #expect(FixedPoint.format(-0.00001, decimals: 4) == "0.0000")
        #expect(FixedPoint.format(-1.5, decimals: 2) == "-1.50")
        #expect(FixedPoint.format(12, decimals: 0) == "12")
        #expect(FixedPoint.pValue(0.00002) == "<0.0001")
        #expect(FixedPoint.pValue(nil) == "n/a")
    }
}
