#if CUDA
import CSpladeCUDA
import Foundation

/// BertMaskedLM's SPLADE forward pass on a CUDA GPU: the same packed [T, H] layout (no padding),
/// cuBLAS for every product (attention as one strided-batched product per sequence over its heads),
/// libsplade_cuda's kernels for the rest. Float32 throughout; mirrors BertMaskedLM step by step.
/// Not yet run on a GPU: CUDAEncoderTests compares it with the ja-tiny fixtures where one is present.
public final class CUDABertEncoder {
    public let config: BertConfig
    let logitRowsPerChunk = 128

    private struct Layer {
        let qkvWeight, qkvBias, attentionOutputWeight, attentionOutputBias, attentionNormWeight, attentionNormBias: DeviceBuffer<Float>
        let intermediateWeight, intermediateBias, outputWeight, outputBias, outputNormWeight, outputNormBias: DeviceBuffer<Float>
    }
    private let layers: [Layer]
    private let word, position, tokenType, embeddingNormWeight, embeddingNormBias: DeviceBuffer<Float>
    private let transformWeight, transformBias, transformNormWeight, transformNormBias, decoder, decoderBias: DeviceBuffer<Float>
    /// Scratch, grown as batches need.
    private var scratch: [String: DeviceBuffer<Float>] = [:]

    public init(config: BertConfig, weights w: BertWeights, device: Int = 0) throws(SpladeError) {
        try CUDADevice.initialize(device: device)
        self.config = config
        func up(_ values: [Float]) throws(SpladeError) -> DeviceBuffer<Float> { try DeviceBuffer(values) }
        var layers: [Layer] = []
        for l in w.layers {
            layers.append(Layer(
                qkvWeight: try up(l.qkvWeight), qkvBias: try up(l.qkvBias),
                attentionOutputWeight: try up(l.attentionOutputWeight), attentionOutputBias: try up(l.attentionOutputBias),
                attentionNormWeight: try up(l.attentionNormWeight), attentionNormBias: try up(l.attentionNormBias),
                intermediateWeight: try up(l.intermediateWeight), intermediateBias: try up(l.intermediateBias),
                outputWeight: try up(l.outputWeight), outputBias: try up(l.outputBias),
                outputNormWeight: try up(l.outputNormWeight), outputNormBias: try up(l.outputNormBias)))
        }
        self.layers = layers
        word = try up(w.wordEmbeddings)
        position = try up(w.positionEmbeddings)
        tokenType = try up(w.tokenTypeEmbeddings)
        embeddingNormWeight = try up(w.embeddingNormWeight)
        embeddingNormBias = try up(w.embeddingNormBias)
        transformWeight = try up(w.transformWeight)
        transformBias = try up(w.transformBias)
        transformNormWeight = try up(w.transformNormWeight)
        transformNormBias = try up(w.transformNormBias)
        decoder = w.untiedDecoder == nil ? word : try up(w.decoderWeight)
        decoderBias = try up(w.decoderBias)
    }

    public convenience init(directory: String, device: Int = 0) throws(SpladeError) {
        let config = try BertConfig.load(directory + "/config.json")
        try self.init(config: config, weights: try BertWeights.load(directory: directory, config: config), device: device)
    }

    private func buffer(_ name: String, _ count: Int) throws(SpladeError) -> UnsafeMutablePointer<Float> {
        if let existing = scratch[name], existing.count >= count { return existing.pointer }
        scratch[name] = nil
        let grown = try DeviceBuffer<Float>(count: max(count, 1024))
        scratch[name] = grown
        return grown.pointer
    }

    private func check(_ status: Int32, _ what: String) throws(SpladeError) { try CUDADevice.check(status, what) }

    /// Y[rows×out] = X·Wᵀ + b, as Linear.forward.
    private func linear(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, _ weight: DeviceBuffer<Float>,
                        _ bias: DeviceBuffer<Float>, outputs: Int, into y: UnsafeMutablePointer<Float>) throws(SpladeError) {
        try check(splade_cuda_fill_rows(y, bias.pointer, Int32(rows), Int32(outputs)), "bias")
        try check(splade_cuda_sgemm(0, 1, Int32(rows), Int32(outputs), Int32(inputs), 1, x, Int32(inputs), weight.pointer,
                                    Int32(inputs), 1, y, Int32(outputs)), "linear")
    }

    private func norm(_ x: UnsafeMutablePointer<Float>, rows: Int, residual: UnsafePointer<Float>?,
                      _ weight: DeviceBuffer<Float>, _ bias: DeviceBuffer<Float>) throws(SpladeError) {
        try check(splade_cuda_layernorm_forward(x, Int32(rows), Int32(config.hiddenSize), residual, weight.pointer,
                                                bias.pointer, config.layerNormEpsilon, nil, nil), "LayerNorm")
    }

    /// SPLADE vectors of `sequences` (token ids with [CLS] and [SEP]), in order.
    public func splade(_ sequences: [[Int32]]) throws(SpladeError) -> [SparseVector] {
        let c = config, h = c.hiddenSize, v = c.vocabularySize, inner = c.intermediateSize
        var offsets = [0], ids: [Int32] = [], positions: [Int32] = []
        for sequence in sequences {
            guard sequence.count <= c.maxPositions else {
                throw SpladeError(.usage, "a sequence of \(sequence.count) tokens exceeds the model's \(c.maxPositions) positions")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= v }) {
                throw SpladeError(.badInput, "token id \(bad) is outside the model's vocabulary of \(v)")
            }
            ids += sequence
            positions += (0..<sequence.count).map { Int32($0) }
            offsets.append(offsets.last! + sequence.count)
        }
        let t = offsets.last!
        guard t > 0 else { return sequences.map { _ in SparseVector() } }
        let tokenIDs = try DeviceBuffer(ids), tokenPositions = try DeviceBuffer(positions)
        var x = try buffer("hidden", t * h), r = try buffer("residual", t * h)
        let qkv = try buffer("qkv", t * 3 * h), context = try buffer("context", t * h)
        let intermediate = try buffer("intermediate", t * inner)
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        let scores = try buffer("scores", c.heads * longest * longest)
        try check(splade_cuda_embed(tokenIDs.pointer, tokenPositions.pointer, Int32(t), Int32(h), word.pointer,
                                    position.pointer, tokenType.pointer, x), "embeddings")
        try norm(x, rows: t, residual: nil, embeddingNormWeight, embeddingNormBias)
        let d = h / c.heads, scale = 1 / Float(d).squareRoot()
        for layer in layers {
            try linear(x, rows: t, inputs: h, layer.qkvWeight, layer.qkvBias, outputs: 3 * h, into: qkv)
            for s in sequences.indices {
                let start = offsets[s], length = offsets[s + 1] - start
                let q = qkv + start * 3 * h, l = Int32(length), ll = Int64(length * length)
                // scores_head = scale · Q_head K_headᵀ, for all heads at once; then softmax; then P V.
                try check(splade_cuda_sgemm_strided_batched(0, 1, l, l, Int32(d), scale, q, Int32(3 * h), Int64(d),
                                                            q + h, Int32(3 * h), Int64(d), 0, scores, l, ll,
                                                            Int32(c.heads)), "attention scores")
                try check(splade_cuda_softmax_rows(scores, Int32(c.heads * length), l), "softmax")
                try check(splade_cuda_sgemm_strided_batched(0, 0, l, Int32(d), l, 1, scores, l, ll, q + 2 * h,
                                                            Int32(3 * h), Int64(d), 0, context + start * h, Int32(h),
                                                            Int64(d), Int32(c.heads)), "attention context")
            }
            try linear(context, rows: t, inputs: h, layer.attentionOutputWeight, layer.attentionOutputBias, outputs: h, into: r)
            try norm(r, rows: t, residual: x, layer.attentionNormWeight, layer.attentionNormBias)
            swap(&x, &r)
            try linear(x, rows: t, inputs: h, layer.intermediateWeight, layer.intermediateBias, outputs: inner, into: intermediate)
            try check(splade_cuda_gelu_forward(intermediate, t * inner), "GELU")
            try linear(intermediate, rows: t, inputs: inner, layer.outputWeight, layer.outputBias, outputs: h, into: r)
            try norm(r, rows: t, residual: x, layer.outputNormWeight, layer.outputNormBias)
            swap(&x, &r)
        }
        // MLM transform into r, then the logits a chunk of rows at a time, reduced to running maxima.
        try linear(x, rows: t, inputs: h, transformWeight, transformBias, outputs: h, into: r)
        try check(splade_cuda_gelu_forward(r, t * h), "GELU")
        try norm(r, rows: t, residual: nil, transformNormWeight, transformNormBias)
        let logits = try buffer("logits", logitRowsPerChunk * v)
        let running = try buffer("running", v), weights = try buffer("weights", v)
        let argmax = try DeviceBuffer<Int32>(count: v)
        var vectors: [SparseVector] = []
        for s in sequences.indices {
            try check(splade_cuda_splade_max_reset(running, argmax.pointer, Int32(v)), "pooling")
            var start = offsets[s]
            while start < offsets[s + 1] {
                let rows = min(logitRowsPerChunk, offsets[s + 1] - start)
                try linear(r + start * h, rows: rows, inputs: h, decoder, decoderBias, outputs: v, into: logits)
                try check(splade_cuda_splade_max_accumulate(logits, Int32(rows), Int32(v), Int32(start), running,
                                                            argmax.pointer), "pooling")
                start += rows
            }
            try check(splade_cuda_splade_weights(running, Int32(v), weights), "pooling")
            var dense = [Float](repeating: 0, count: v)
            let status = dense.withUnsafeMutableBytes { splade_cuda_copy_to_host($0.baseAddress, weights, $0.count) }
            try check(status, "copying the vector")
            var vector = SparseVector()
            for j in 0..<v where dense[j] > 0 {
                vector.indices.append(Int32(j))
                vector.values.append(dense[j])
            }
            vectors.append(vector)
        }
        return vectors
    }
}
#endif
