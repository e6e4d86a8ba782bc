/// How sparse one stream of vectors is: the L0 (non-zero entries per vector) distribution, the mean
/// non-zero weight, and how many vectors use each vocabulary entry (for the expected FLOPs).
public struct SparsityStatistics: Sendable {
    /// The stream's name in reports (its path, or `<stdin>`).
    public var name: String
    public var vectors: Int
    /// Mean, median and 95th percentile of the vectors' L0; nil without vectors. The percentiles
    /// interpolate linearly between order statistics, as numpy's default (`np.percentile(l0, 95)`).
    public var l0Mean: Double?
    public var l0Median: Double?
    public var l0P95: Double?
    /// The mean of all non-zero weights of all vectors pooled (not a mean of per-vector means);
    /// nil when no vector has one.
    public var meanWeight: Double?
    /// The vocabulary entries some vector has a non-zero weight on, ascending, and how many
    /// vectors do, in the same order.
    public var entries: [Int32]
    public var entryVectors: [Int]

    /// How many distinct vocabulary entries the stream uses.
    public var entriesUsed: Int { entries.count }

    /// The statistics of every vector `reader` has left.
    public init(reading reader: VectorReader) throws(SpladeError) {
        var accumulator = SparsityAccumulator()
        while let record = try reader.next() { accumulator.add(record.vector) }
        self = accumulator.statistics(name: reader.name)
    }

    init(name: String, vectors: Int, l0: [Int32], weightSum: Double, nonZero: Int, entries: [Int32], entryVectors: [Int]) {
        self.name = name
        self.vectors = vectors
        let sorted = l0.sorted().map(Double.init)
        l0Mean = sorted.isEmpty ? nil : sorted.reduce(0, +) / Double(sorted.count)
        l0Median = Self.percentile(sorted, 0.5)
        l0P95 = Self.percentile(sorted, 0.95)
        meanWeight = nonZero == 0 ? nil : weightSum / Double(nonZero)
        self.entries = entries
        self.entryVectors = entryVectors
    }

    /// The `q` quantile (0…1) of ascending `sorted` values, numpy's default "linear" method: the
    /// value at virtual index q·(n−1), interpolated between its neighbours the way numpy's `_lerp`
    /// does (from the upper neighbour when the fraction is ≥ 0.5), so results agree to the last bit.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let virtual = q * Double(sorted.count - 1)
        let lower = Int(virtual.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        let t = virtual - Double(lower)
        let a = sorted[lower], b = sorted[upper]
        let difference = b - a
        return t >= 0.5 ? b - difference * (1 - t) : a + difference * t
    }

    /// The expected FLOPs of a query–document dot product: Σ_j p_q(j)·p_d(j), the expected number of
    /// multiplications (entries both vectors use) of a random query with a random document, as the
    /// SPLADE papers define it. Nil when either side has no vectors.
    public static func expectedFLOPs(queries: SparsityStatistics, documents: SparsityStatistics) -> Double? {
        guard queries.vectors > 0, documents.vectors > 0 else { return nil }
        // Σ_j c_q(j)·c_d(j) / (N_q·N_d): integer products, exact in a Double up to 2^53.
        var sum = 0.0
        var i = 0, k = 0
        while i < queries.entries.count, k < documents.entries.count {
            let q = queries.entries[i], d = documents.entries[k]
            if q == d {
                sum += Double(queries.entryVectors[i]) * Double(documents.entryVectors[k])
                i += 1
                k += 1
            } else if q < d {
                i += 1
            } else {
                k += 1
            }
        }
        return sum / (Double(queries.vectors) * Double(documents.vectors))
    }
}

/// Collects `SparsityStatistics` one vector at a time.
public struct SparsityAccumulator: Sendable {
    /// Vocabulary entries below this are counted in an array, any above (JSON ids with no
    /// vocabulary to bound them) in a dictionary, so a stray huge id costs no huge allocation.
    static let denseLimit: Int32 = 1 << 22

    private var l0: [Int32] = []
    private var weightSum = 0.0
    private var nonZero = 0
    private var dense: [Int] = []
    private var sparse: [Int32: Int] = [:]

    public init() {}

    public mutating func add(_ vector: SparseVector) {
        var count: Int32 = 0
        for (index, value) in zip(vector.indices, vector.values) where value != 0 {
            count += 1
            weightSum += Double(value)
            if index < Self.denseLimit {
                let slot = Int(index)
                if slot >= dense.count {
                    let size = min(max(slot + 1, 2 * dense.count), Int(Self.denseLimit))
                    dense.append(contentsOf: repeatElement(0, count: size - dense.count))
                }
                dense[slot] += 1
            } else {
                sparse[index, default: 0] += 1
            }
        }
        nonZero += Int(count)
        l0.append(count)
    }

    public func statistics(name: String) -> SparsityStatistics {
        var entries: [Int32] = [], entryVectors: [Int] = []
        for (slot, vectors) in dense.enumerated() where vectors > 0 {
            entries.append(Int32(slot))
            entryVectors.append(vectors)
        }
        for index in sparse.keys.sorted() {
            entries.append(index)
            entryVectors.append(sparse[index]!)
        }
        return SparsityStatistics(name: name, vectors: l0.count, l0: l0, weightSum: weightSum, nonZero: nonZero,
                                  entries: entries, entryVectors: entryVectors)
    }
}

/// What `splade-eval --queries --documents` reports: each stream's statistics and, with both, the
/// expected FLOPs of their products. Rendered as a table or JSON.
public struct SparsityReport: Sendable {
    public var queries: SparsityStatistics?
    public var documents: SparsityStatistics?

    public init(queries: SparsityStatistics?, documents: SparsityStatistics?) {
        self.queries = queries
        self.documents = documents
    }

    /// Nil unless both streams are given and hold vectors.
    public var expectedFLOPs: Double? {
        guard let queries, let documents else { return nil }
        return SparsityStatistics.expectedFLOPs(queries: queries, documents: documents)
    }

    private var streams: [(kind: String, statistics: SparsityStatistics)] {
        [("queries", queries), ("documents", documents)].compactMap { kind, statistics in statistics.map { (kind, $0) } }
    }

    /// One row per stream, then the expected FLOPs when both are given.
    public func table() -> String {
        func number(_ value: Double?, _ decimals: Int) -> String { value.map { FixedPoint.format($0, decimals: decimals) } ?? "n/a" }
        var rows = [["", "file", "vectors", "L0 mean", "L0 median", "L0 p95", "mean weight", "entries used"]]
        for (kind, s) in streams {
            rows.append([kind, s.name, String(s.vectors), number(s.l0Mean, 2), number(s.l0Median, 2), number(s.l0P95, 2),
                         number(s.meanWeight, 4), String(s.entriesUsed)])
        }
        var out = EvaluationReport.layout(rows, leftAligned: 2)
        if queries != nil && documents != nil {
            out += "\nexpected FLOPs per query-document product: \(number(expectedFLOPs, 4)) (Σ_j p_q(j)·p_d(j))\n"
        }
        return out
    }

    /// `{"queries":{"file","vectors","l0":{"mean","median","p95"},"mean_weight","entries_used"},
    /// "documents":{…},"expected_flops":…}`: each stream only when given, `expected_flops` only with
    /// both; statistics that need a vector (or a non-zero weight) are null without one.
    public func json() -> [UInt8] {
        func number(_ value: Double?) -> JSONValue { value.map { .number("\($0)") } ?? .null }
        var members: [(key: String, value: JSONValue)] = streams.map { kind, s in
            (kind, .object([
                ("file", .string(s.name)), ("vectors", .number(String(s.vectors))),
                ("l0", .object([("mean", number(s.l0Mean)), ("median", number(s.l0Median)), ("p95", number(s.l0P95))])),
                ("mean_weight", number(s.meanWeight)), ("entries_used", .number(String(s.entriesUsed))),
            ]))
        }
        if queries != nil && documents != nil { members.append(("expected_flops", number(expectedFLOPs))) }
        var w = JSONWriter()
        w.appendValue(.object(members))
        w.appendRaw("\n")
        return w.bytes
    }
}
