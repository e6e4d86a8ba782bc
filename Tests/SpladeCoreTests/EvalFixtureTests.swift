import Testing
@testable import SpladeCore

/// Parity with the reference evaluations: ../shared/fixtures/ja-tiny/eval/expected.json (pytrec_eval
/// per query and mean, ir_measures means) and the report's JQaRA row.
@Suite(.enabled(if: Fixtures.available, "needs ../shared/fixtures"))
struct EvalFixtureTests {
    /// The reference values are doubles computed with the same formulas; only summation order may
    /// differ, far below this.
    let tolerance = 1e-9

    func expected() throws -> JSONValue {
        var text = ""
        let reader = try LineReader(path: Fixtures.path("ja-tiny/eval/expected.json"))
        while let line = try reader.next() { text += String(decoding: line.bytes, as: UTF8.self) + "\n" }
        return try JSON.parse(text)
    }

    func members(_ value: JSONValue?) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = value else { return [] }
        return members
    }

    func fixtureInputs() throws -> (Qrels, Run) {
        (try Qrels(path: Fixtures.path("ja-tiny/eval/qrels.trec")),
         try Run(path: Fixtures.path("ja-tiny/eval/run.trec"), name: "run"))
    }

    @Test func trecEvalPerQueryAndMeans() throws {
        let expected = try expected()
        let aggregate = members(expected["aggregate_trec_eval"])
        let metrics = try aggregate.map { try Metric(parsing: $0.key) }
        let (qrels, run) = try fixtureInputs()
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: metrics)

        let perQuery = members(expected["per_query_trec_eval"])
        #expect(evaluation.queries == perQuery.map(\.key).sorted())
        for (query, values) in perQuery {
            let row = try #require(evaluation.queries.firstIndex(of: query))
            for (m, (name, value)) in members(values).enumerated() {
                #expect(metrics[m] == (try Metric(parsing: name)))
                let reference = try #require(value.doubleValue)
                #expect(abs(evaluation.values[row][m] - reference) <= tolerance, "\(query) \(name)")
            }
        }
        for (m, (name, value)) in aggregate.enumerated() {
            let reference = try #require(value.doubleValue)
            #expect(abs(evaluation.means[m] - reference) <= tolerance, "\(name)")
        }
    }

    /// ir_measures counts judged queries missing from the run as 0; its RR@k (the MS MARCO
    /// evaluator) breaks ties by docno ascending, which the fixture's ties expose.
    @Test func irMeasuresMeans() throws {
        let aggregate = members(try expected()["aggregate_ir_measures"])
        let metrics = try aggregate.map { try Metric(parsing: $0.key) }
        let (qrels, run) = try fixtureInputs()
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: metrics, options: .irMeasures)
        #expect(evaluation.queries.count == qrels.queries.count)
        for (m, (name, value)) in aggregate.enumerated() {
            let reference = try #require(value.doubleValue)
            #expect(abs(evaluation.means[m] - reference) <= tolerance, "\(name)")
        }
        // With trec_eval's ties, the reciprocal rank differs on this fixture.
        let trecTies = Evaluator.evaluate(run, qrels: qrels, metrics: [Metric(.reciprocalRank, cutoff: 10)],
                                          options: EvaluationOptions(missingAsZero: true))
        #expect(abs(trecTies.means[0] - 0.33260582010582) > 1e-4)
    }

    func jqara(_ tieBreak: TieBreak) throws -> [String: [Double]] {
        let qrels = try Qrels(path: Fixtures.data("jqara/qrels.trec"))
        let metrics = [Metric(.ndcg, cutoff: 10), Metric(.reciprocalRank, cutoff: 10)]
        var means: [String: [Double]] = [:]
        for name in ["japanese-splade-base-v1", "bm25"] {
            let run = try Run(path: Fixtures.data("jqara/run.\(name).trec.zst"), name: name)
            let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: metrics, options: EvaluationOptions(tieBreak: tieBreak))
            #expect(evaluation.queries.count == 1667)
            means[name] = evaluation.means
        }
        return means
    }

    /// The report's row (4 decimals) comes from ranking ties in the run's own order.
    @Test func jqaraReportRowWithRunOrderTies() throws {
        let means = try jqara(.rank)
        #expect(FixedPoint.format(means["japanese-splade-base-v1"]![0], decimals: 4) == "0.6441")
        #expect(FixedPoint.format(means["japanese-splade-base-v1"]![1], decimals: 4) == "0.8616")
        #expect(FixedPoint.format(means["bm25"]![0], decimals: 4) == "0.4580")
        #expect(FixedPoint.format(means["bm25"]![1], decimals: 4) == "0.7020")
    }

    /// trec_eval's own tie-breaking (docno descending): nDCG@10 as pytrec_eval's ndcg_cut_10, MRR@10
    /// as recip_rank on the ranking cut at 10.
    @Test func jqaraWithTrecEvalTies() throws {
        let means = try jqara(.docno)
        #expect(abs(means["japanese-splade-base-v1"]![0] - 0.6443183105273107) <= tolerance)
        #expect(abs(means["japanese-splade-base-v1"]![1] - 0.8618309671399055) <= tolerance)
        #expect(abs(means["bm25"]![0] - 0.45803296554748046) <= tolerance)
        #expect(abs(means["bm25"]![1] - 0.7019846030793847) <= tolerance)
    }

    /// BM25's scores have more digits than a C float: trec_eval (pytrec_eval 0.5) ties those equal
    /// in single precision, which moves MAP in the 8th decimal.
    @Test func jqaraBM25MAPAsPytrecEval() throws {
        let qrels = try Qrels(path: Fixtures.data("jqara/qrels.trec"))
        let run = try Run(path: Fixtures.data("jqara/run.bm25.trec.zst"), name: "bm25")
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: [Metric(.averagePrecision), Metric(.reciprocalRank)])
        #expect(abs(evaluation.means[0] - 0.3986426117091392) <= tolerance)
        #expect(abs(evaluation.means[1] - 0.7059892004169795) <= tolerance)
    }
}
