/// Document weights as 8-bit impacts: `impact = min(255, round(w / scale))`, with
/// `scale = (largest weight in the collection) / 255` chosen at build time and stored in the
/// segment header and the manifest. A weight rounds to within `scale / 2`, so a document's score
/// for a query q is off by at most `scale / 2 · Σ q_t` from the float dot product (documents added
/// later keep the index's scale; a larger weight is clamped to 255 and counted).
public struct ImpactScale: Sendable, Equatable {
    public let scale: Float

    public init(scale: Float) { self.scale = scale }

    /// The scale that maps `largestWeight` to 255 (1 for an empty or all-zero collection). Below
    /// 255 × the least float the quotient would underflow to 0: the least float is the scale then.
    public init(largestWeight: Float) {
        scale = largestWeight > 0 ? max(largestWeight / 255, .leastNonzeroMagnitude) : 1
    }

    /// The impact of a weight, and whether it had to be clamped to 255.
    @inline(__always)
    public func impact(_ weight: Float) -> (impact: UInt8, clamped: Bool) {
        let units = (weight / scale).rounded()
        return units >= 255 ? (255, units > 255) : (UInt8(max(0, units)), false)
    }
}

/// A query as integer weights, so that scores are exact integer sums: ties are real ties and the
/// exact search equals brute force over these weights bit for bit. The weights of the terms the index
/// has are scaled so that they sum to about 2^23 (`unit = Σ w / 2^23`): a score is at most
/// 255 · (2^23 + n/2) < 2^32 and fits a UInt32, and the query's rounding error (at most unit/2 per
/// term) is below 10^-7 of that total. Terms no document has are left out first: they add nothing to
/// any score, and a large weight of theirs would coarsen the unit (and round the others away).
public struct QuantizedQuery: Sendable {
    /// Ascending term ids with their integer weights (zeros dropped).
    public let terms: [UInt32]
    public let weights: [UInt32]
    /// The float weight of one integer unit.
    public let unit: Double

    static let totalUnits = Double(1 << 23)

    public init(_ vector: SparseVector) { self.init(vector, indexed: { _ in true }) }

    /// `indexed`: whether a term occurs in the index searched (the others are dropped).
    public init(_ vector: SparseVector, indexed: (Int32) -> Bool) {
        let kept = zip(vector.indices, vector.values).filter { $0.1 > 0 && indexed($0.0) }
        let total = kept.reduce(0.0) { $0 + Double($1.1) }
        unit = total > 0 ? total / Self.totalUnits : 1
        var terms: [UInt32] = [], weights: [UInt32] = []
        for (index, value) in kept {
            let w = UInt32((Double(value) / unit).rounded())
            if w > 0 {
                terms.append(UInt32(index))
                weights.append(w)
            }
        }
        self.terms = terms
        self.weights = weights
    }

    public var isEmpty: Bool { terms.isEmpty }

    /// The float score of an integer score against documents of `scale`.
    @inline(__always)
    public func score(_ integer: UInt32, scale: ImpactScale) -> Double {
        Double(integer) * unit * Double(scale.scale)
    }
}
