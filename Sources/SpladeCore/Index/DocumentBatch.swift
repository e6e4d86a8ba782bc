/// Documents held in memory while an index segment is built: ids and sparse vectors in flat arrays
/// (8 bytes per posting plus the ids), so millions of documents do not cost millions of allocations.
public struct DocumentBatch: Sendable {
    /// Each id: a kind byte (0 string, 1 number) and its UTF-8 text.
    var idBytes: [UInt8] = []
    var idStart: [UInt64] = [0]
    var terms: [UInt32] = []
    var weights: [Float] = []
    var postingStart: [UInt64] = [0]
    /// The largest weight seen: the impact scale of a new index.
    public internal(set) var largestWeight: Float = 0

    public init() {}

    public var count: Int { idStart.count - 1 }
    public var postings: Int { terms.count }

    /// Adds a document; its vector's ids must be ascending (as SparseVector guarantees).
    public mutating func append(id: JSONValue, vector: SparseVector) {
        DocumentId.append(id, to: &idBytes)
        idStart.append(UInt64(idBytes.count))
        for (index, value) in zip(vector.indices, vector.values) where value > 0 {
            terms.append(UInt32(index))
            weights.append(value)
            largestWeight = max(largestWeight, value)
        }
        postingStart.append(UInt64(terms.count))
    }

    /// Rewrites every weight (BM25 turns counts into weights) and recomputes the largest.
    mutating func reweight(_ weight: (_ document: Int, _ term: UInt32, _ value: Float) -> Float) {
        largestWeight = 0
        for d in 0..<count {
            for p in postings(of: d) {
                weights[p] = weight(d, terms[p], weights[p])
                largestWeight = max(largestWeight, weights[p])
            }
        }
    }

    func postings(of document: Int) -> Range<Int> { Int(postingStart[document])..<Int(postingStart[document + 1]) }

    func idRecord(_ document: Int) -> ArraySlice<UInt8> { idBytes[Int(idStart[document])..<Int(idStart[document + 1])] }

    /// Multiplies every weight by `factor` (> 0).
    mutating func scaleWeights(by factor: Float) {
        for p in weights.indices { weights[p] *= factor }
        largestWeight *= factor
    }

    /// The id of a document as the text a run prints.
    public func idText(_ document: Int) -> String {
        DocumentId.text(of: idRecord(document))
    }
}

/// Document ids as stored: a kind byte (0 a JSON string, 1 a JSON number literal) and UTF-8 text,
/// so `"007"` and `7` stay distinct and numbers round-trip exactly.
public enum DocumentId {
    static func append(_ id: JSONValue, to bytes: inout [UInt8]) {
        switch id {
        case .number(let literal): bytes.append(1); bytes.append(contentsOf: literal.utf8)
        case .string(let s): bytes.append(0); bytes.append(contentsOf: s.utf8)
        default: preconditionFailure("document ids are strings or numbers")
        }
    }

    /// The text of a stored id (what a TREC run prints).
    static func text<C: Collection<UInt8>>(of record: C) -> String {
        String(decoding: record.dropFirst(), as: UTF8.self)
    }

    /// The stored id as a JSON value.
    static func value<C: Collection<UInt8>>(of record: C) -> JSONValue {
        record.first == 1 ? .number(text(of: record)) : .string(text(of: record))
    }
}
