/// A sparse vector over a vocabulary: ascending token ids and their (positive) weights.
public struct SparseVector: Sendable, Equatable {
    public var indices: [Int32]
    public var values: [Float]

    public init(indices: [Int32] = [], values: [Float] = []) {
        precondition(indices.count == values.count)
        self.indices = indices
        self.values = values
    }

    public var count: Int { indices.count }

    /// The vector as `size` floats, zero where it has no entry.
    public func dense(size: Int) -> [Float] {
        var dense = [Float](repeating: 0, count: size)
        for (i, v) in zip(indices, values) { dense[Int(i)] = v }
        return dense
    }

    /// Keeps the `k` largest weights (ties: the smaller id), still in id order.
    public func topK(_ k: Int) -> SparseVector {
        guard k < count else { return self }
        let keep = (0..<count).sorted { values[$0] != values[$1] ? values[$0] > values[$1] : indices[$0] < indices[$1] }
            .prefix(k).sorted()
        return SparseVector(indices: keep.map { indices[$0] }, values: keep.map { values[$0] })
    }

    /// Drops weights below `threshold`.
    public func thresholded(_ threshold: Float) -> SparseVector {
        let keep = (0..<count).filter { values[$0] >= threshold }
        return SparseVector(indices: keep.map { indices[$0] }, values: keep.map { values[$0] })
    }
}
