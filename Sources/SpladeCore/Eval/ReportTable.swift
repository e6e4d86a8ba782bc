extension EvaluationReport {
    /// The readable report: one row per run (best mean per column marked `*` when there are several
    /// runs over the same queries), the paired tests against the baseline, and with `perQuery` a table per run.
    public func table() -> String {
        var out = ""
        let names = metrics.map(\.description)
        let best = bestRuns
        // With several runs each mean has a mark column: "*" or a space, so the digits line up.
        let marks = evaluations.count > 1
        var rows = [["run", "queries"] + names.map { marks ? $0 + " " : $0 }]
        for (r, evaluation) in evaluations.enumerated() {
            var row = [evaluation.name, String(evaluation.queries.count)]
            for m in metrics.indices {
                let mark = marks ? (best[m].contains(r) ? "*" : " ") : ""
                row.append(FixedPoint.format(evaluation.means[m], decimals: 4) + mark)
            }
            rows.append(row)
        }
        out += Self.layout(rows)
        if evaluations.count > 1 {
            out += meansAreComparable ? "* best per column\n"
                : "no best marked: the runs' means are over different queries (--missing-as-zero counts the missing as 0)\n"
        }

        if !comparisons.isEmpty {
            out += "\npaired tests against \(baseline.name) (two-sided; randomization: \(settings.trials) trials, seed \(settings.seed))\n"
            var rows = [["run", "metric", "queries", "difference", "p t-test", "p randomization"]]
            for c in comparisons {
                rows.append([c.run, c.metric.description, String(c.pairedQueries),
                             (c.meanDifference >= 0 ? "+" : "") + FixedPoint.format(c.meanDifference, decimals: 4),
                             FixedPoint.pValue(c.tTestP), FixedPoint.pValue(c.randomizationP)])
            }
            out += Self.layout(rows, leftAligned: 2)
        }

        if perQuery {
            for evaluation in evaluations {
                out += "\n\(evaluation.name)\n"
                var rows = [["query"] + names]
                for (q, query) in evaluation.queries.enumerated() {
                    rows.append([query] + evaluation.values[q].map { FixedPoint.format($0, decimals: 4) })
                }
                out += Self.layout(rows)
            }
        }
        return out
    }

    /// Columns two spaces apart: the first `leftAligned` (names) on the left, numbers on the right.
    static func layout(_ rows: [[String]], leftAligned: Int = 1) -> String {
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        return rows.map { row in
            var line = row.enumerated().map { c, cell in
                let padding = String(repeating: " ", count: widths[c] - cell.count)
                return c < leftAligned ? cell + padding : padding + cell
            }.joined(separator: "  ")
            while line.last == " " { line.removeLast() }
            return line + "\n"
        }.joined()
    }
}
