import Foundation
import Testing
@testable import SpladeCore

/// Every metric on small rankings worked out by hand.
struct EvalMetricTests {
    let tolerance = 1e-12

    /// q1 judgments: a=2, b=1, c=0, d=1, e=-1 (R = 3; ideal gains 2, 1, 1).
    func qrels() -> Qrels {
        var qrels = Qrels()
        for (document, level) in [("a", 2), ("b", 1), ("c", 0), ("d", 1), ("e", -1)] {
            qrels.add(query: "q1", document: document, level: level)
        }
        qrels.add(query: "q2", document: "x", level: 1)
        return qrels
    }

    /// q1 ranking: c (0), a (2), e (−1), f (unjudged), b (1).
    func run(_ entries: [(String, Double, Int)] = [("c", 5, 1), ("a", 4, 2), ("e", 3, 3), ("f", 2, 4), ("b", 1, 5)]) -> Run {
        Run(name: "r", queries: ["q1": entries.map { Run.Entry(document: $0.0, score: $0.1, rank: $0.2) }])
    }

    func values(_ names: String, run: Run? = nil, options: EvaluationOptions = EvaluationOptions()) throws -> [Double] {
        let evaluation = Evaluator.evaluate(run ?? self.run(), qrels: qrels(), metrics: try Metric.parseList(names), options: options)
        return evaluation.values[0]
    }

    @Test func graded_nDCG_asTrecEval() throws {
        let dcg3 = 2 / log2(3.0)
        let dcg5 = dcg3 + 1 / log2(6.0)
        let ideal3 = 2 + 1 / log2(3.0) + 1 / log2(4.0)
        let v = try values("nDCG@3,nDCG@5,nDCG")
        #expect(abs(v[0] - dcg3 / ideal3) < tolerance)
        #expect(abs(v[1] - dcg5 / ideal3) < tolerance)
        #expect(abs(v[2] - dcg5 / ideal3) < tolerance)
        // Cut at 1, the ideal is cut too: gain 2 at rank 1.
        #expect(try values("nDCG@1")[0] == 0)
    }

    @Test func jmtebNDCGHasBinaryGainAndAnUncutIdeal() throws {
        let dcg = 1 / log2(3.0)
        let idealAll = 1 + 1 / log2(3.0) + 1 / log2(4.0)
        let v = try values("nDCG@2", options: EvaluationOptions(ndcg: .jmteb))
        #expect(abs(v[0] - dcg / idealAll) < tolerance)
    }

    @Test func reciprocalRankPrecisionRecallSuccess() throws {
        let v = try values("MRR@1,MRR@10,MRR,P@2,P@10,Recall@2,Recall@5,Success@1,Success@2")
        #expect(v == [0, 0.5, 0.5, 0.5, 0.2, 1.0 / 3, 2.0 / 3, 0, 1])
    }

    @Test func averagePrecisionDividesByAllRelevant() throws {
        let v = try values("MAP,MAP@2,MAP@1")
        #expect(abs(v[0] - (1.0 / 2 + 2.0 / 5) / 3) < tolerance)
        #expect(abs(v[1] - (1.0 / 2) / 3) < tolerance)
        #expect(v[2] == 0)
    }

    /// A relevance level of 2 (trec_eval -l 2): levels below it are not relevant for every metric but trec_eval's
    /// nDCG, which keeps the graded gain. Expected values: pytrec_eval-terrier 0.5.11, relevance_level=1, 2 and 3,
    /// on judgments a=3 b=1 c=2 d=0 e=1 f=2 and the ranking b c d x e a.
    @Test func relevanceLevelAsPytrecEval() throws {
        var judged = Qrels()
        for (document, level) in [("a", 3), ("b", 1), ("c", 2), ("d", 0), ("e", 1), ("f", 2)] {
            judged.add(query: "q1", document: document, level: level)
        }
        let ranking = Run(name: "r", queries: ["q1": [("a", 0.1), ("b", 0.9), ("c", 0.8), ("d", 0.7), ("x", 0.6), ("e", 0.5)]
                .enumerated().map { Run.Entry(document: $1.0, score: $1.1, rank: $0 + 1) }])
        let metrics = try Metric.parseList("P@3,MAP,MAP@3,nDCG,nDCG@3,Recall@3,MRR,Success@1")
        let expected: [Int: [Double]] = [
            1: [0.666667, 0.653333, 0.4, 0.611465, 0.429859, 0.4, 1.0, 1.0],
            2: [0.333333, 0.277778, 0.166667, 0.611465, 0.429859, 0.333333, 0.5, 0.0],
            3: [0.0, 0.166667, 0.0, 0.611465, 0.429859, 0.0, 0.166667, 0.0],
        ]
        for (level, values) in expected {
            let evaluation = Evaluator.evaluate(ranking, qrels: judged, metrics: metrics,
                                                options: EvaluationOptions(relevanceLevel: level))
            for (metric, (value, want)) in zip(metrics, zip(evaluation.values[0], values)) {
                #expect(abs(value - want) < 5e-7, "\(metric) at level \(level): \(value), pytrec_eval \(want)")
            }
        }
        // JMTEB's binary nDCG counts what the level counts: at 3 only a (rank 6) is relevant, the ideal one document.
        let jmteb = Evaluator.evaluate(ranking, qrels: judged, metrics: [Metric(.ndcg, cutoff: 10)],
                                       options: EvaluationOptions(ndcg: .jmteb, relevanceLevel: 3))
        #expect(abs(jmteb.values[0][0] - 1 / log2(7.0)) < tolerance)
    }

    /// R-precision and bpref against pytrec_eval-terrier 0.5.11 (relevance_level 1 and 2): judgments a=3 b=1 c=2
    /// d=0 e=1 f=2 g=−1 h=0 and the ranking g b c d x e h a. bpref skips the unjudged x and g's negative level (it
    /// is neither relevant nor judged non-relevant); q2 retrieves nothing relevant, q3 has nothing relevant.
    @Test func rPrecisionAndBprefAsPytrecEval() throws {
        var judged = Qrels()
        for (document, level) in [("a", 3), ("b", 1), ("c", 2), ("d", 0), ("e", 1), ("f", 2), ("g", -1), ("h", 0)] {
            judged.add(query: "q1", document: document, level: level)
        }
        judged.add(query: "q2", document: "a", level: 1)
        judged.add(query: "q3", document: "a", level: 0)
        func entries(_ scored: [(String, Double)]) -> [Run.Entry] {
            scored.enumerated().map { Run.Entry(document: $1.0, score: $1.1, rank: $0 + 1) }
        }
        let ranking = Run(name: "r", queries: [
            "q1": entries([("a", 0.1), ("b", 0.9), ("c", 0.8), ("d", 0.7), ("x", 0.6), ("e", 0.5), ("g", 0.95), ("h", 0.3)]),
            "q2": entries([("z", 1)]), "q3": entries([("a", 1)]),
        ])
        let metrics = try Metric.parseList("Rprec,bpref")
        for (level, q1) in [(1, [0.4, 0.5]), (2, [1.0 / 3, 0.22222222222222224])] {
            let evaluation = Evaluator.evaluate(ranking, qrels: judged, metrics: metrics, options: EvaluationOptions(relevanceLevel: level))
            #expect(evaluation.queries == ["q1", "q2", "q3"])
            #expect(zip(evaluation.values[0], q1).allSatisfy { abs($0 - $1) < tolerance }, "level \(level): \(evaluation.values[0])")
            #expect(evaluation.values[1] == [0, 0] && evaluation.values[2] == [0, 0])
        }
        // Fewer retrieved than R: R-precision still divides by R.
        #expect(try values("Rprec", run: run([("a", 1, 1)]))[0] == 1.0 / 3)
        #expect(throws: SpladeError.self) { try Metric(parsing: "Rprec@10") }
        #expect(throws: SpladeError.self) { try Metric(parsing: "bpref_5") }
        #expect(try Metric(parsing: "R-prec") == Metric(.rPrecision))
    }

    /// Judged@k as ir_measures 0.4 computes it: judged documents (any level, negative too) among the first
    /// min(k, retrieved); ranking c (0), a (2), e (−1), f (unjudged), b (1).
    @Test func judgedShareOfTheTopDocuments() throws {
        #expect(try values("Judged@2,Judged@4,Judged@10,Judged") == [1, 0.75, 0.8, 0.8])
        #expect(try values("Judged@3", run: run([])) == [0])
    }

    /// --judged-only (trec_eval -J): the ranking c a b once the unjudged f and the negative e are dropped; values
    /// from pytrec_eval-terrier 0.5.11 with judged_docs_only_flag.
    @Test func judgedOnlyCondensesTheRanking() throws {
        let v = try values("P@2,MAP,nDCG@3,MRR,Recall@2,bpref,Rprec", options: EvaluationOptions(judgedOnly: true))
        let expected = [0.5, 0.38888888888888884, 0.5627272554209044, 0.5, 1.0 / 3, 0, 2.0 / 3]
        #expect(zip(v, expected).allSatisfy { abs($0 - $1) < tolerance }, "\(v)")
        #expect(try values("P@2,MAP") != Array(v.prefix(2)))  // the full ranking gives other values
    }

    @Test func tiesAreBrokenByDocnoDescendingOrByTheRunsRank() throws {
        // a and b tie: trec_eval puts b first (docno descending); the run's rank puts a first.
        let tied = run([("a", 1, 1), ("b", 1, 2)])
        #expect(try values("MRR", run: tied) == [1])
        #expect(try values("nDCG@1", run: tied)[0] == 0.5)
        #expect(try values("nDCG@1", run: tied, options: EvaluationOptions(tieBreak: .rank))[0] == 1)
        #expect(try values("nDCG@1", run: tied, options: EvaluationOptions(tieBreak: .docnoAscending))[0] == 1)
        // trec_eval compares scores in single precision: these tie, and b goes first.
        let nearlyTied = run([("a", 1.00000001, 1), ("b", 1, 2)])
        #expect(try values("nDCG@1", run: nearlyTied)[0] == 0.5)
        #expect(try values("nDCG@1", run: nearlyTied, options: EvaluationOptions(tieBreak: .rank))[0] == 1)
        // ir_measures: MRR@k by docno ascending (b first), the rest as trec_eval (c first), MRR without a
        // cutoff too (ir_measures 0.4.3 takes RR from pytrec_eval, RR@k from the MS MARCO evaluator).
        let bc = run([("b", 1, 1), ("c", 1, 2)])
        #expect(try values("MRR@1,nDCG@1", run: bc, options: .irMeasures) == [1, 0])
        #expect(try values("MRR,MRR@10", run: bc, options: .irMeasures) == [0.5, 1])
        #expect(try values("MRR@1", run: bc) == [0])
        // Judged too is ir_measures' own: a (judged) before z (unjudged) by docno ascending; z first as trec_eval orders.
        let az = run([("z", 1, 1), ("a", 1, 2)])
        #expect(try values("Judged@1", run: az, options: .irMeasures) == [1])
        #expect(try values("Judged@1", run: az) == [0])
        // Equal ranks fall back on the input order.
        let sameRank = run([("b", 1, 1), ("a", 1, 1)])
        #expect(try values("nDCG@1", run: sameRank, options: EvaluationOptions(tieBreak: .rank))[0] == 0.5)
    }

    @Test func queriesCountWhenInBothOrWithMissingAsZero() throws {
        let trec = Evaluator.evaluate(run(), qrels: qrels(), metrics: [Metric(.success, cutoff: 2)])
        #expect(trec.queries == ["q1"])
        #expect(trec.means == [1])
        let all = Evaluator.evaluate(run(), qrels: qrels(), metrics: [Metric(.success, cutoff: 2)],
                                     options: EvaluationOptions(missingAsZero: true))
        #expect(all.queries == ["q1", "q2"])
        #expect(all.values == [[1], [0]])
        #expect(all.means == [0.5])
    }

    /// As pytrec_eval: a query judged but with nothing relevant is evaluated, and scores 0.
    @Test func queriesWithoutRelevantDocumentsCountAsZero() throws {
        var qrels = qrels()
        qrels.add(query: "q3", document: "z", level: 0)
        let run = Run(name: "r", queries: ["q3": [Run.Entry(document: "z", score: 1, rank: 1)]])
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: try Metric.parseList("nDCG@10,MAP,Recall@10,MRR"))
        #expect(evaluation.queries == ["q3"])
        #expect(evaluation.values == [[0, 0, 0, 0]])
    }

    @Test func runQueriesWithoutJudgmentsAreIgnored() throws {
        var queries = run().queries
        queries["unjudged"] = [Run.Entry(document: "a", score: 1, rank: 1)]
        let evaluation = Evaluator.evaluate(Run(name: "r", queries: queries), qrels: qrels(), metrics: [Metric(.ndcg)],
                                            options: EvaluationOptions(missingAsZero: true))
        #expect(evaluation.queries == ["q1", "q2"])
    }

    @Test func metricNames() throws {
        let parsed = try Metric.parseList("nDCG@10, ndcg_cut_10,recip_rank,RR@10,map,AP@100,map_cut_5,P_10,precision@3,R@100,recall_1000,success_1,Hit@5")
        #expect(parsed.map(\.description) == ["nDCG@10", "nDCG@10", "MRR", "MRR@10", "MAP", "MAP@100", "MAP@5", "P@10",
                                              "P@3", "Recall@100", "Recall@1000", "Success@1", "Success@5"])
        for bad in ["ndcg@0", "P", "recall", "bleu@10", "nDCG@x", "success"] {
            #expect(throws: SpladeError.self, "\(bad)") { try Metric(parsing: bad) }
        }
        // A cutoff beyond Int says so, rather than that it is no positive integer.
        let huge = #expect(throws: SpladeError.self) { try Metric(parsing: "Recall@99999999999999999999") }
        #expect(huge?.message == "metric \"Recall@99999999999999999999\": the cutoff must be a positive integer of at most \(Int.max)")
        let zero = #expect(throws: SpladeError.self) { try Metric(parsing: "P@0") }
        #expect(zero?.message == "metric \"P@0\": the cutoff must be a positive integer")
    }

    @Test func gates() throws {
        let gates = try Gate.parseList("nDCG@10=0.6,MRR@10=0.8")
        #expect(gates.map(\.metric.description) == ["nDCG@10", "MRR@10"])
        #expect(gates.map(\.threshold) == [0.6, 0.8])
        for bad in ["nDCG@10", "nDCG@10=x", "=0.5", "nDCG@10=0.5=1"] {
            #expect(throws: SpladeError.self, "\(bad)") { try Gate(parsing: bad) }
        }
        let evaluation = RunEvaluation(name: "r", metrics: [Metric(.ndcg, cutoff: 10)], queries: ["q"], values: [[0.55]], means: [0.55])
        #expect(gates[0].failures(in: [evaluation]) == ["r: nDCG@10 0.550000 is under 0.6"])
        #expect(Gate(metric: Metric(.ndcg, cutoff: 10), threshold: 0.55).failures(in: [evaluation]).isEmpty)
    }
}
