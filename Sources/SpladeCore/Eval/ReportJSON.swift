extension EvaluationReport {
    /// The report as one JSON object (shortest round-trip numbers, so nothing is lost):
    /// `{"metrics":[…],"options":{…},"runs":[{"name","queries","means":{…},"best":[…],"per_query":{…}}],
    /// "baseline":…,"significance":{"trials","seed"},"comparisons":[{"run","baseline","metric","queries",
    /// "mean_difference","p_t_test","p_randomization"}]}` (`per_query` only with `perQuery`; `baseline`,
    /// `significance` and `comparisons` only with several runs).
    public func json() -> [UInt8] {
        var w = JSONWriter()
        w.appendRaw("{\"metrics\":")
        w.appendValue(.array(metrics.map { .string($0.description) }))
        w.appendRaw(",\"options\":{\"tie_break\":")
        w.appendString(options.tieBreak.rawValue)
        w.appendRaw(",\"missing_as_zero\":")
        w.appendValue(.bool(options.missingAsZero))
        w.appendRaw(",\"ndcg\":")
        w.appendString(options.ndcg.rawValue)
        w.appendRaw(",\"relevance_level\":")
        w.appendInt(options.relevanceLevel)
        w.appendRaw(",\"judged_only\":")
        w.appendValue(.bool(options.judgedOnly))
        if let maxRetrieved = options.maxRetrieved {
            w.appendRaw(",\"max_retrieved\":")
            w.appendInt(maxRetrieved)
        }
        if let ownMeasuresTieBreak = options.ownMeasuresTieBreak {
            w.appendRaw(",\"mrr_at_k_and_judged_tie_break\":")
            w.appendString(ownMeasuresTieBreak.rawValue)
        }
        w.appendRaw("},\"runs\":[")
        let best = bestRuns
        for (r, evaluation) in evaluations.enumerated() {
            if r > 0 { w.appendRaw(",") }
            w.appendRaw("{\"name\":")
            w.appendString(evaluation.name)
            w.appendRaw(",\"queries\":")
            w.appendInt(evaluation.queries.count)
            w.appendRaw(",\"means\":")
            w.appendValue(.object(zip(metrics, evaluation.means).map { ($0.description, Self.number($1)) }))
            w.appendRaw(",\"best\":")
            w.appendValue(.array(metrics.indices.filter { best[$0].contains(r) }.map { .string(metrics[$0].description) }))
            if perQuery {
                w.appendRaw(",\"per_query\":")
                w.appendValue(.object(zip(evaluation.queries, evaluation.values).map { query, values in
                    (query, .object(zip(metrics, values).map { ($0.description, Self.number($1)) }))
                }))
            }
            w.appendRaw("}")
        }
        w.appendRaw("]")
        if evaluations.count > 1 {
            w.appendRaw(",\"baseline\":")
            w.appendString(baseline.name)
            w.appendRaw(",\"significance\":{\"trials\":")
            w.appendInt(settings.trials)
            w.appendRaw(",\"seed\":")
            w.appendValue(.number(String(settings.seed)))
            w.appendRaw("},\"comparisons\":")
            w.appendValue(.array(comparisons.map { c in
                .object([("run", .string(c.run)), ("baseline", .string(c.baseline)),
                         ("metric", .string(c.metric.description)), ("queries", .number(String(c.pairedQueries))),
                         ("mean_difference", Self.number(c.meanDifference)),
                         ("p_t_test", c.tTestP.map(Self.number) ?? .null),
                         ("p_randomization", Self.number(c.randomizationP))])
            }))
        }
        w.appendRaw("}\n")
        return w.bytes
    }

    /// Swift's shortest round-trip form is valid JSON for finite values (`0.5`, `1.0`, `1e-05`).
    private static func number(_ value: Double) -> JSONValue { .number("\(value)") }
}
