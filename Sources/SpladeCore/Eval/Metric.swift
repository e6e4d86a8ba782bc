/// A ranking measure with an optional cutoff k, named as people write it (`nDCG@10`, `MRR@10`,
/// `MAP`, `Recall@100`, `P@10`, `Success@10`, `Rprec`, `bpref`, `Judged@10`) or as trec_eval does (`ndcg_cut_10`,
/// `recip_rank`, `map_cut_10`, `P_10`, `recall_100`, `success_10`).
public struct Metric: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, CaseIterable, Sendable {
        case ndcg = "nDCG"
        case reciprocalRank = "MRR"
        case averagePrecision = "MAP"
        case recall = "Recall"
        case precision = "P"
        case success = "Success"
        case rPrecision = "Rprec"
        case bpref
        case judged = "Judged"

        /// Lower-case spellings accepted for the kind (the first is the canonical one).
        var aliases: [String] {
            switch self {
            case .ndcg: return ["ndcg"]
            case .reciprocalRank: return ["mrr", "rr", "recip_rank"]
            case .averagePrecision: return ["map", "ap"]
            case .recall: return ["recall", "r"]
            case .precision: return ["p", "precision"]
            case .success: return ["success", "hit", "hits"]
            case .rPrecision: return ["rprec", "r-prec", "r-precision"]
            case .bpref: return ["bpref"]
            case .judged: return ["judged"]
            }
        }

        /// Precision, recall and success are only defined at a depth.
        var needsCutoff: Bool { self == .recall || self == .precision || self == .success }
        /// R-precision and bpref set their own depth (R) or read the whole ranking, as trec_eval's.
        var takesCutoff: Bool { self != .rPrecision && self != .bpref }
    }

    public var kind: Kind
    /// Only the first k documents count; nil: the whole ranking.
    public var cutoff: Int?

    public init(_ kind: Kind, cutoff: Int? = nil) {
        self.kind = kind
        self.cutoff = cutoff
    }

    public static let defaults: [Metric] = [
        Metric(.ndcg, cutoff: 10), Metric(.reciprocalRank, cutoff: 10), Metric(.averagePrecision), Metric(.recall, cutoff: 100),
    ]

    public var description: String { cutoff.map { "\(kind.rawValue)@\($0)" } ?? kind.rawValue }

    /// Parses `name@k`, `name_cut_k` or `name_k` (case-insensitive).
    public init(parsing text: String) throws(SpladeError) {
        let lower = text.lowercased()
        var base = lower
        var cutoffText: Substring?
        if let at = lower.firstIndex(of: "@") {
            base = String(lower[..<at])
            cutoffText = lower[lower.index(after: at)...]
        } else if let underscore = lower.lastIndex(of: "_"), lower[lower.index(after: underscore)...].allSatisfy(\.isNumber),
                  underscore != lower.index(before: lower.endIndex) {
            base = String(lower[..<underscore])
            if base.hasSuffix("_cut") { base.removeLast(4) }
            cutoffText = lower[lower.index(after: underscore)...]
        }
        guard let kind = Kind.allCases.first(where: { $0.aliases.contains(base) }) else {
            throw SpladeError(.usage, "unknown metric \"\(text)\"",
                              hint: "known metrics: nDCG@k, MRR@k, MAP, MAP@k, Recall@k, P@k, Success@k, Judged@k (k optional for nDCG, MRR, MAP, Judged), Rprec, bpref")
        }
        var cutoff: Int?
        if let cutoffText {
            guard let k = Int(cutoffText), k >= 1 else {
                let tooLarge = !cutoffText.isEmpty && cutoffText.allSatisfy(\.isASCII) && cutoffText.contains { $0 != "0" }
                throw SpladeError(.usage, "metric \"\(text)\": the cutoff must be a positive integer"
                                  + (tooLarge ? " of at most \(Int.max)" : ""))
            }
            guard kind.takesCutoff else { throw SpladeError(.usage, "metric \"\(text)\": \(kind.rawValue) takes no cutoff") }
            cutoff = k
        }
        if kind.needsCutoff && cutoff == nil {
            throw SpladeError(.usage, "metric \"\(text)\" needs a cutoff, e.g. \(kind.rawValue)@10")
        }
        self.init(kind, cutoff: cutoff)
    }

    /// Parses a comma-separated list (`nDCG@10,MRR@10`); an empty name (`--metrics ""`, a stray comma) is an error.
    public static func parseList(_ text: String) throws(SpladeError) -> [Metric] {
        var metrics: [Metric] = []
        for name in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = name.filter { $0 != " " }
            guard !name.isEmpty else { throw SpladeError(.usage, "an empty metric name in \"\(text)\"") }
            metrics.append(try Metric(parsing: name))
        }
        return metrics
    }
}
