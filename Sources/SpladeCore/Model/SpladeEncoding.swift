/// What turns token sequences into SPLADE vectors: `BertMaskedLM` on the CPU or, in a build with the
/// package trait CUDA, `CUDABertEncoder` on a GPU. `ComputeDevice.makeEncoder` picks one.
public protocol SpladeEncoding: AnyObject {
    var config: BertConfig { get }
    /// Whether the arithmetic runs on the host's cores (the CPU encoder, which uses them all): then
    /// reading and tokenizing the next input while it encodes would only compete with it.
    var usesHostCores: Bool { get }
    /// SPLADE vectors of one batch of sequences (token ids with [CLS] and [SEP]), in order.
    func splade(_ sequences: [[Int32]]) throws(SpladeError) -> [SparseVector]
}

/// An encoder whose arithmetic runs on another device (`CUDABertEncoder`), which the host queues work for.
public protocol DeviceEncoding: SpladeEncoding {
    /// Seconds the host has spent reading results back (the synchronising reads, which wait for the work queued
    /// before them, and turning what they read into vectors), over all batches so far; the rest of the encoding
    /// time it spent preparing and queueing work, during which the device idles unless enough work is queued.
    var waitingSeconds: Double { get }
}

extension SpladeEncoding {
    /// SPLADE vectors of any number of sequences, in their order, computed in batches of at most
    /// `batchSize` sequences of similar length (sorted by length, longest first), which keeps
    /// attention's per-sequence products and the scratch buffers even.
    public func splade(_ sequences: [[Int32]], batchSize: Int) throws(SpladeError) -> [SparseVector] {
        let order = sequences.indices.sorted { sequences[$0].count > sequences[$1].count }
        var result = [SparseVector](repeating: SparseVector(), count: sequences.count)
        var start = 0
        while start < order.count {
            let batch = Array(order[start..<min(order.count, start + max(1, batchSize))])
            let vectors = try splade(batch.map { sequences[$0] })
            for (i, vector) in zip(batch, vectors) { result[i] = vector }
            start += batch.count
        }
        return result
    }
}
