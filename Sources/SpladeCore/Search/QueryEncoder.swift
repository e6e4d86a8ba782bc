/// Query texts → sparse vectors, the way documents were encoded: the SPLADE model (as
/// splade-encode does), or the tokenizer only ("inference-free": every token occurrence weighs 1,
/// so a repeated token weighs its count; [CLS] and [SEP] are left out). The tokenizer-only mode is
/// also the query side of a BM25 index.
public final class QueryEncoder {
    public enum Mode {
        case model(any SpladeEncoding)
        case tokens
    }

    public let tokenizer: Tokenizer
    public let mode: Mode
    public let maxLength: Int
    public let batchSize: Int
    private let sessions: [TokenizerSession]

    public init(tokenizer: Tokenizer, mode: Mode, maxLength: Int, batchSize: Int, threads: Int) throws(SpladeError) {
        self.tokenizer = tokenizer
        self.mode = mode
        self.maxLength = maxLength
        self.batchSize = batchSize
        sessions = try (0..<max(1, threads)).map { _ throws(SpladeError) in try tokenizer.makeSession() }
    }

    /// The vectors of `inputs` (texts, or token ids from splade-tokenize), in order.
    public func encode(_ inputs: [EncoderInput]) throws(SpladeError) -> [SparseVector] {
        let maxLength = self.maxLength
        let tokenized = orderedParallelMap(inputs, workers: sessions) { session, input in
            Result { () throws(SpladeError) in try input.tokenIds(session: session, maxLength: maxLength) }
        }
        var sequences: [[Int32]] = []
        for result in tokenized { sequences.append(try result.get()) }
        switch mode {
        case .model(let model):
            return try model.splade(sequences, batchSize: batchSize)
        case .tokens:
            return sequences.map { Self.tokenCounts($0, ignoring: [tokenizer.clsId, tokenizer.sepId]) }
        }
    }

    /// Each distinct token with its number of occurrences.
    static func tokenCounts(_ ids: [Int32], ignoring ignored: Set<Int32>) -> SparseVector {
        var counts: [Int32: Float] = [:]
        for id in ids where !ignored.contains(id) { counts[id, default: 0] += 1 }
        let sorted = counts.keys.sorted()
        return SparseVector(indices: sorted, values: sorted.map { counts[$0]! })
    }
}
