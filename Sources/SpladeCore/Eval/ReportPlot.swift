extension EvaluationReport {
    /// An SVG chart: the mean of every metric per run as grouped bars and, for each run other than
    /// the baseline, its per-query differences from the baseline on the first metric, sorted (bars
    /// above zero are queries it wins, below the ones it loses).
    public func svg() -> String {
        var chart = SVGChart(width: 760)
        chart.meanBars(self)
        for evaluation in evaluations.indices where evaluation != baselineIndex {
            chart.differenceBars(self, run: evaluation)
        }
        return chart.document()
    }
}

/// Builds the SVG top to bottom, one panel after the other.
struct SVGChart {
    let width: Double
    private var body = ""
    private var height = 10.0
    private let margin = (left: 56.0, right: 16.0)
    /// Tableau 10: distinguishable, also in grey-scale print.
    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"]

    init(width: Double) { self.width = width }

    func document() -> String {
        """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(width))" height="\(n(height))" \
        viewBox="0 0 \(n(width)) \(n(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        \(body)</svg>

        """
    }

    private var plotWidth: Double { width - margin.left - margin.right }

    /// Grouped bars on a 0–1 axis: one group per metric, one bar per run, value on top, legend below.
    mutating func meanBars(_ report: EvaluationReport) {
        let top = height + 24, plotHeight = 220.0
        let runs = report.evaluations.count
        title("Mean per metric", y: height + 16)
        axis(top: top, plotHeight: plotHeight, ticks: [0, 0.2, 0.4, 0.6, 0.8, 1.0], low: 0, high: 1)
        let groupWidth = plotWidth / Double(max(report.metrics.count, 1))
        let barWidth = groupWidth * 0.8 / Double(runs)
        for (m, metric) in report.metrics.enumerated() {
            let groupLeft = margin.left + Double(m) * groupWidth + groupWidth * 0.1
            for (r, evaluation) in report.evaluations.enumerated() {
                let value = min(max(evaluation.means[m], 0), 1)
                let x = groupLeft + Double(r) * barWidth
                let y = top + plotHeight * (1 - value)
                body += "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(barWidth * 0.92))\" height=\"\(n(top + plotHeight - y))\" fill=\"\(Self.palette[r % Self.palette.count])\"><title>\(escape(evaluation.name)) \(escape(metric.description)) \(FixedPoint.format(evaluation.means[m], decimals: 4))</title></rect>\n"
                if barWidth >= 28 {
                    body += "<text x=\"\(n(x + barWidth * 0.46))\" y=\"\(n(y - 3))\" text-anchor=\"middle\" font-size=\"10\">\(FixedPoint.format(evaluation.means[m], decimals: 3))</text>\n"
                }
            }
            body += "<text x=\"\(n(groupLeft + groupWidth * 0.4))\" y=\"\(n(top + plotHeight + 16))\" text-anchor=\"middle\">\(escape(metric.description))</text>\n"
        }
        var legendY = top + plotHeight + 36
        for (r, evaluation) in report.evaluations.enumerated() {
            body += "<rect x=\"\(n(margin.left))\" y=\"\(n(legendY - 10))\" width=\"12\" height=\"12\" fill=\"\(Self.palette[r % Self.palette.count])\"/>"
            body += "<text x=\"\(n(margin.left + 18))\" y=\"\(n(legendY))\">\(escape(evaluation.name))\(r == report.baselineIndex && runs > 1 ? " (baseline)" : "")</text>\n"
            legendY += 18
        }
        height = legendY + 4
    }

    /// One bar per paired query: run − baseline on the first metric, sorted from best to worst.
    mutating func differenceBars(_ report: EvaluationReport, run: Int) {
        guard let metric = report.metrics.first else { return }
        let evaluation = report.evaluations[run]
        let differences = Comparisons.perQueryDifferences(evaluation, report.baseline, metric: metric)
            .map(\.difference).sorted(by: >)
        let top = height + 30, plotHeight = 160.0
        let wins = differences.filter { $0 > 0 }.count, losses = differences.filter { $0 < 0 }.count
        title("\(metric) per query: \(evaluation.name) − \(report.baseline.name) (better \(wins), worse \(losses), equal \(differences.count - wins - losses))",
              y: height + 20)
        let extent = max(differences.map(abs).max() ?? 0, 0.05)
        axis(top: top, plotHeight: plotHeight, ticks: [-extent, -extent / 2, 0, extent / 2, extent], low: -extent, high: extent)
        let zeroY = top + plotHeight / 2
        let step = plotWidth / Double(max(differences.count, 1))
        let color = Self.palette[run % Self.palette.count]
        for (i, d) in differences.enumerated() where d != 0 {
            let y = zeroY - d / extent * plotHeight / 2
            body += "<rect x=\"\(n(margin.left + Double(i) * step))\" y=\"\(n(min(y, zeroY)))\" width=\"\(n(max(step, 0.5)))\" height=\"\(n(abs(y - zeroY)))\" fill=\"\(color)\"/>\n"
        }
        body += "<text x=\"\(n(margin.left + plotWidth / 2))\" y=\"\(n(top + plotHeight + 16))\" text-anchor=\"middle\">\(differences.count) queries, sorted by difference</text>\n"
        height = top + plotHeight + 26
    }

    private mutating func title(_ text: String, y: Double) {
        body += "<text x=\"\(n(margin.left))\" y=\"\(n(y))\" font-weight=\"bold\">\(escape(text))</text>\n"
    }

    /// Horizontal grid lines (the zero line darker) labelled on the left.
    private mutating func axis(top: Double, plotHeight: Double, ticks: [Double], low: Double, high: Double) {
        for tick in ticks {
            let y = top + plotHeight * (high - tick) / (high - low)
            body += "<line x1=\"\(n(margin.left))\" y1=\"\(n(y))\" x2=\"\(n(width - margin.right))\" y2=\"\(n(y))\" stroke=\"\(tick == 0 ? "#444" : "#ddd")\"/>"
            body += "<text x=\"\(n(margin.left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\" font-size=\"10\">\(FixedPoint.format(tick, decimals: 2))</text>\n"
        }
    }

    /// Coordinates with two decimals: enough for a screen, short in the file.
    private func n(_ value: Double) -> String { FixedPoint.format(value, decimals: 2) }

    private func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
