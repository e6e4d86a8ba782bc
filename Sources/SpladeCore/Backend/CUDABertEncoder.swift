#if CUDA
import CSpladeCUDA
import Foundation

/// BertMaskedLM's SPLADE forward pass on a CUDA GPU: the same packed [T, H] layout (no padding),
/// cuBLAS for every product (attention as one strided-batched product per sequence over its heads),
/// libsplade_cuda's kernels for the rest. Float32 throughout; mirrors BertMaskedLM step by step.
/// CUDAEncoderTests compares it with the ja-tiny fixtures (on a GPU, or on the host emulation of the C API).
public final class CUDABertEncoder: SpladeEncoding {
    public let config: BertConfig

    private let weights: DeviceBertWeights
    private let scratch = DeviceScratch()

    public init(config: BertConfig, weights w: BertWeights, device: Int = 0) throws(SpladeError) {
        try CUDADevice.initialize(device: device)
        self.config = config
        weights = try DeviceBertWeights(w)
    }

    public convenience init(directory: String, device: Int = 0) throws(SpladeError) {
        let config = try BertConfig.load(directory + "/config.json")
        try self.init(config: config, weights: try BertWeights.load(directory: directory, config: config), device: device)
    }

    /// SPLADE vectors of `sequences` (token ids with [CLS] and [SEP]), in order.
    public func splade(_ sequences: [[Int32]]) throws(SpladeError) -> [SparseVector] {
        let c = config, h = c.hiddenSize, v = c.vocabularySize, inner = c.intermediateSize, w = weights
        let batch = try DeviceBatch(sequences, config: c)
        let t = batch.packing.tokens
        guard t > 0 else { return sequences.map { _ in SparseVector() } }
        var x = try scratch("hidden", t * h), r = try scratch("residual", t * h)
        let qkv = try scratch("qkv", t * 3 * h), context = try scratch("context", t * h)
        let intermediate = try scratch("intermediate", t * inner)
        let scores = try scratch("scores", c.heads * batch.packing.longest * batch.packing.longest)
        try batch.embed(w, into: x)
        try CUDAOps.layerNorm(x, rows: t, cols: h, weight: w.embeddingNormWeight, bias: w.embeddingNormBias,
                              epsilon: c.layerNormEpsilon)
        for layer in w.layers {
            try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.qkvWeight, bias: layer.qkvBias, outputs: 3 * h, into: qkv)
            // One scores buffer serves every sequence in turn (all offsets 0).
            try CUDAOps.attention(qkv: qkv, packing: batch.packing, hidden: h, heads: c.heads, probabilities: scores,
                                  probabilityOffsets: sequences.map { _ in 0 }, context: context, dropout: nil)
            try CUDAOps.linear(context, rows: t, inputs: h, weight: layer.attentionOutputWeight, bias: layer.attentionOutputBias,
                               outputs: h, into: r)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.attentionNormWeight,
                                  bias: layer.attentionNormBias, epsilon: c.layerNormEpsilon)
            swap(&x, &r)
            try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.intermediateWeight, bias: layer.intermediateBias,
                               outputs: inner, into: intermediate)
            try CUDAOps.check(splade_cuda_gelu_forward(intermediate, t * inner), "GELU")
            try CUDAOps.linear(intermediate, rows: t, inputs: inner, weight: layer.outputWeight, bias: layer.outputBias,
                               outputs: h, into: r)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.outputNormWeight, bias: layer.outputNormBias,
                                  epsilon: c.layerNormEpsilon)
            swap(&x, &r)
        }
        // MLM transform into r, then the logits a chunk of rows at a time, reduced to running maxima.
        try CUDAOps.linear(x, rows: t, inputs: h, weight: w.transformWeight, bias: w.transformBias, outputs: h, into: r)
        try CUDAOps.check(splade_cuda_gelu_forward(r, t * h), "GELU")
        try CUDAOps.layerNorm(r, rows: t, cols: h, weight: w.transformNormWeight, bias: w.transformNormBias,
                              epsilon: c.layerNormEpsilon)
        let maxima = try scratch("maxima", sequences.count * v)
        try batch.pool(transformed: r, weights: w, logits: try scratch("logits", batch.logitRowsPerChunk * v), maxima: maxima,
                       argmax: nil)
        let dense = try batch.spladeWeights(maxima: maxima, scratch: try scratch("weights", sequences.count * v))
        return (0..<sequences.count).map { s in
            var vector = SparseVector()
            for j in 0..<v where dense[s * v + j] > 0 {
                vector.indices.append(Int32(j))
                vector.values.append(dense[s * v + j])
            }
            return vector
        }
    }
}

/// A batch of sequences on the GPU: their token ids and positions, packed without padding, and where
/// each sequence starts.
struct DeviceBatch {
    let packing: CUDAOps.Packing
    let config: BertConfig
    let ids: DeviceBuffer<Int32>, positions: DeviceBuffer<Int32>, starts: DeviceBuffer<Int32>
    /// Rows of logits computed at once by `pool`: a 256 MiB scratch (2048 rows at a 32k vocabulary,
    /// 268 at 250k), large products that read the decoder once per chunk.
    var logitRowsPerChunk: Int { max(64, min(2048, (1 << 26) / config.vocabularySize)) }

    init(_ sequences: [[Int32]], config c: BertConfig) throws(SpladeError) {
        var offsets = [0], ids: [Int32] = [], positions: [Int32] = []
        for sequence in sequences {
            guard sequence.count <= c.maxPositions else {
                throw SpladeError(.usage, "a sequence of \(sequence.count) tokens exceeds the model's \(c.maxPositions) positions")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
                throw SpladeError(.badInput, "token id \(bad) is outside the model's vocabulary of \(c.vocabularySize)")
            }
            ids += sequence
            positions += (0..<sequence.count).map { Int32($0) }
            offsets.append(offsets.last! + sequence.count)
        }
        packing = CUDAOps.Packing(offsets: offsets)
        config = c
        self.ids = try DeviceBuffer(ids)
        self.positions = try DeviceBuffer(positions)
        starts = try DeviceBuffer(offsets.map { Int32($0) })
    }

    /// x = word + position + token type 0 embeddings, row by row.
    func embed(_ w: DeviceBertWeights, into x: UnsafeMutablePointer<Float>) throws(SpladeError) {
        try CUDAOps.check(splade_cuda_embed(ids.pointer, positions.pointer, Int32(packing.tokens), Int32(config.hiddenSize),
                                            w.word.pointer, w.position.pointer, w.tokenType.pointer, x), "embeddings")
    }

    /// The logits of all packed rows, `logitRowsPerChunk` at a time (a chunk may span sequences), folded
    /// into each sequence's running maxima ([sequences × V]) and, for training, the packed row that holds
    /// each maximum (`argmax`; nil for inference).
    func pool(transformed: UnsafePointer<Float>, weights w: DeviceBertWeights, logits: UnsafeMutablePointer<Float>,
              maxima: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) throws(SpladeError) {
        let v = config.vocabularySize, h = config.hiddenSize, t = packing.tokens, s = packing.lengths.count
        try CUDAOps.check(splade_cuda_splade_max_reset(maxima, argmax, s * v), "pooling")
        var start = 0
        while start < t {
            let rows = min(logitRowsPerChunk, t - start)
            try CUDAOps.linear(transformed + start * h, rows: rows, inputs: h, weight: w.decoder, bias: w.decoderBias, outputs: v,
                               into: logits)
            try CUDAOps.check(splade_cuda_splade_max_segments(logits, Int32(rows), Int32(v), Int32(start), starts.pointer,
                                                              Int32(s), maxima, argmax), "pooling")
            start += rows
        }
    }

    /// w = log(1 + relu(max logit)) of every sequence, copied to the host ([sequences × V]).
    func spladeWeights(maxima: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>) throws(SpladeError) -> [Float] {
        let count = packing.lengths.count * config.vocabularySize
        try CUDAOps.check(splade_cuda_splade_weights(maxima, count, scratch), "pooling")
        var dense = [Float](repeating: 0, count: count)
        let status = dense.withUnsafeMutableBytes { splade_cuda_copy_to_host($0.baseAddress, scratch, $0.count) }
        try CUDAOps.check(status, "copying the vectors")
        return dense
    }
}
#endif
