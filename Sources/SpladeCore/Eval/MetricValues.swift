#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which nDCG to compute.
public enum NDCGVariant: String, CaseIterable, Sendable {
    /// trec_eval's ndcg_cut: gain = relevance level, ideal ranking from the query's judged levels,
    /// both cut at k.
    case trecEval = "trec_eval"
    /// JMTEB's: binary gain (relevant: level ≥ the relevance level, 1 by default), ideal DCG over all R relevant
    /// documents, not cut at k, so a query with more than k relevant documents cannot reach 1.
    case jmteb
}

/// The value of each metric for one query, from the relevance levels of its ranked documents
/// (ℓ_i at 0-based position i; unjudged: `unjudged`, below every level) and its judgments. A document is
/// relevant when ℓ ≥ L, the relevance level (trec_eval's -l, 1 by default): R counts those. trec_eval's
/// nDCG ignores L (its gain is the level itself, any positive level counts).
struct QueryMetrics {
    /// The level of a document the qrels do not judge: not relevant, and (for bpref) not judged non-relevant.
    static let unjudged = Int.min

    let ranked: [Int]
    let judgments: QueryJudgments
    let ndcg: NDCGVariant
    let relevanceLevel: Int

    func value(_ metric: Metric) -> Double {
        let depth = min(metric.cutoff ?? ranked.count, ranked.count)
        let relevantCount = Double(judgments.relevantCount(atLeast: relevanceLevel))
        switch metric.kind {
        case .ndcg:
            return normalizedDCG(depth: depth, cutoff: metric.cutoff)
        case .reciprocalRank:
            // 1 / rank of the first relevant document among the first k.
            guard let first = ranked[..<depth].firstIndex(where: { $0 >= relevanceLevel }) else { return 0 }
            return 1 / Double(first + 1)
        case .averagePrecision:
            // AP@k = Σ_{i<k, ℓ_i≥L} P@(i+1) / R: trec_eval's map_cut divides by R, not min(R, k).
            guard relevantCount > 0 else { return 0 }
            var hits = 0
            var sum = 0.0
            for i in 0..<depth where ranked[i] >= relevanceLevel {
                hits += 1
                sum += Double(hits) / Double(i + 1)
            }
            return sum / relevantCount
        case .recall:
            guard relevantCount > 0 else { return 0 }
            return Double(hits(depth)) / relevantCount
        case .precision:
            // Divided by k even when fewer documents were retrieved, as trec_eval does.
            return Double(hits(depth)) / Double(metric.cutoff!)
        case .success:
            return hits(depth) > 0 ? 1 : 0
        case .rPrecision:
            // Precision at R: relevant documents among the first R, over R (fewer retrieved: still over R).
            guard relevantCount > 0 else { return 0 }
            return Double(hits(min(Int(relevantCount), ranked.count))) / relevantCount
        case .bpref:
            return binaryPreference()
        case .judged:
            // ir_measures' Judged@k: the share of the first min(k, retrieved) documents the qrels judge, at any level.
            guard depth > 0 else { return 0 }
            return Double(ranked[..<depth].count { $0 != Self.unjudged }) / Double(depth)
        }
    }

    /// bpref (Buckley & Voorhees 2004, as trec_eval computes it): over the relevant documents retrieved,
    /// 1 − min(n, R) / min(N, R), n the judged non-relevant documents (0 ≤ ℓ < L) ranked above it, N all of
    /// them in the judgments; summed and divided by R. Unjudged documents and negative levels count for nothing.
    private func binaryPreference() -> Double {
        let relevantCount = judgments.relevantCount(atLeast: relevanceLevel)
        guard relevantCount > 0 else { return 0 }
        let judgedNonRelevant = judgments.levels.values.reduce(0) { $0 + ((0..<relevanceLevel).contains($1) ? 1 : 0) }
        let denominator = Double(min(judgedNonRelevant, relevantCount))
        var nonRelevantAbove = 0
        var sum = 0.0
        for level in ranked where level >= 0 {
            if level >= relevanceLevel {
                sum += nonRelevantAbove == 0 ? 1 : 1 - Double(min(nonRelevantAbove, relevantCount)) / denominator
            } else {
                nonRelevantAbove += 1
            }
        }
        return sum / Double(relevantCount)
    }

    private func hits(_ depth: Int) -> Int {
        var count = 0
        for i in 0..<depth where ranked[i] >= relevanceLevel { count += 1 }
        return count
    }

    /// DCG@k = Σ_{i<k} g_i / log2(i+2), divided by the DCG of the ideal ranking (0 when that is 0).
    private func normalizedDCG(depth: Int, cutoff: Int?) -> Double {
        var dcg = 0.0
        var ideal = 0.0
        switch ndcg {
        case .trecEval:
            for i in 0..<depth where ranked[i] > 0 { dcg += Double(ranked[i]) / log2(Double(i + 2)) }
            let gains = judgments.idealGains
            for i in 0..<min(cutoff ?? gains.count, gains.count) { ideal += Double(gains[i]) / log2(Double(i + 2)) }
        case .jmteb:
            for i in 0..<depth where ranked[i] >= relevanceLevel { dcg += 1 / log2(Double(i + 2)) }
            for i in 0..<judgments.relevantCount(atLeast: relevanceLevel) { ideal += 1 / log2(Double(i + 2)) }
        }
        return ideal > 0 ? dcg / ideal : 0
    }
}
