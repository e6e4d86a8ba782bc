#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Token-count documents turned into BM25 impact vectors, so a lexical baseline lives in the same
/// index format (and the same search) as SPLADE vectors:
///
///     w(t, d) = idf(t) · tf (k1 + 1) / (tf + k1 (1 − b + b · |d| / avgdl))
///     idf(t)  = ln(1 + (N − df + 0.5) / (df + 0.5))          (Lucene's BM25, always positive)
///
/// A query then scores Σ_t qtf(t) · w(t, d) — BM25 with each query token counted once per occurrence.
///
/// The documents' term counts go into a `DocumentSpool` (spilled beyond its memory limit) while the
/// collection's statistics (lengths, document frequencies) are gathered; `weigh` then turns the counts into
/// weights, batch by batch, once N, df and avgdl are known.
public struct BM25Collection {
    public let documents: DocumentSpool
    private var lengths: [Int32] = []
    private var documentFrequency: [Int32]

    public init(vocabularySize: Int, documents: DocumentSpool) {
        precondition(documents.count == 0)
        self.documents = documents
        documentFrequency = [Int32](repeating: 0, count: vocabularySize)
    }

    public var count: Int { documents.count }

    /// Adds a document's token ids; `ignored` (e.g. [CLS] and [SEP]) are neither counted nor indexed.
    public mutating func append(id: JSONValue, tokens: [Int32], ignoring ignored: Set<Int32>) throws(SpladeError) {
        let kept = tokens.filter { !ignored.contains($0) }.sorted()
        var indices: [Int32] = [], counts: [Float] = []
        for token in kept {
            if indices.last == token { counts[counts.count - 1] += 1 } else { indices.append(token); counts.append(1) }
        }
        for token in indices { documentFrequency[Int(token)] += 1 }
        lengths.append(Int32(kept.count))
        try documents.append(id: id, vector: SparseVector(indices: indices, values: counts))
    }

    /// Replaces every document's term counts by its BM25 weights and returns the average length they were
    /// computed with.
    public func weigh(k1: Double, b: Double) throws(SpladeError) -> Double {
        let n = Double(count)
        let averageLength = count == 0 ? 0 : Double(lengths.reduce(0) { $0 + Int($1) }) / n
        let idf = documentFrequency.map { df in log(1 + (n - Double(df) + 0.5) / (Double(df) + 0.5)) }
        try documents.reweight { document, term, count in
            let tf = Double(count)
            let norm = k1 * (1 - b + b * Double(lengths[document]) / max(averageLength, 1e-9))
            return Float(idf[Int(term)] * tf * (k1 + 1) / (tf + norm))
        }
        return averageLength
    }
}
