#if CUDA
import CSpladeCUDA
import Dispatch

/// BertMaskedLM's SPLADE forward pass on a CUDA GPU: the same packed [T, H] layout (no padding),
/// cuBLAS for every product (attention as grouped products over every head of every sequence, or in bf16 over
/// sequences of similar lengths as batched products over them padded alike, the SPLADE head as chunks of up to 2048
/// packed rows), libsplade_cuda's kernels for the rest. Float32
/// throughout (TF32 products with --precision tf32), or with bf16 bfloat16 products and activations as under
/// torch.autocast; mirrors BertMaskedLM step by step.
/// CUDAPathTests compares it with the ja-tiny fixtures (on a GPU, or on the host emulation of the C API).
public final class CUDABertEncoder: DeviceEncoding {
    public let config: BertConfig
    public var usesHostCores: Bool { false }
    public private(set) var waitingSeconds = 0.0

    private let weights: DeviceBertWeights
    /// bfloat16 products, with --precision bf16.
    private let bf16: CUDAOps.BFloat16?
    private let scratch = DeviceScratch<Float>(), indexScratch = DeviceScratch<Int32>()
    /// Each batch's arrays on the GPU (DeviceBatch).
    private let uploads = DeviceScratch<UInt8>()

    public init(config: BertConfig, weights w: BertWeights, device: Int = 0, bfloat16: Bool = false) throws(SpladeError) {
        try CUDADevice.initialize(device: device)
        self.config = config
        weights = try DeviceBertWeights(w)
        bf16 = bfloat16 ? CUDAOps.BFloat16(weights: try DeviceBF16Weights(weights)) : nil
    }

    public convenience init(directory: String, device: Int = 0, bfloat16: Bool = false) throws(SpladeError) {
        let config = try BertConfig.load(directory + "/config.json")
        try self.init(config: config, weights: try BertWeights.load(directory: directory, config: config), device: device,
                      bfloat16: bfloat16)
    }

    /// SPLADE vectors of `sequences` (token ids with [CLS] and [SEP]), in order.
    public func splade(_ sequences: [[Int32]]) throws(SpladeError) -> [SparseVector] {
        let batch = try DeviceBatch(sequences, config: config, uploads: uploads)
        guard batch.packing.tokens > 0 else { return sequences.map { _ in SparseVector() } }
        let maxima = try scratch("maxima", sequences.count * config.vocabularySize)
        if let bf16 {
            try forward(batch, maxima: maxima, bf16: bf16)
        } else {
            try forward(batch, maxima: maxima)
        }
        return try waiting { () throws(SpladeError) in
            try batch.sparseVectors(maxima: maxima, scratch: scratch, indexScratch: indexScratch)
        }
    }

    /// `body`, which begins by waiting for the GPU (reading a result of the work queued), timed into waitingSeconds.
    private func waiting<Result>(_ body: () throws(SpladeError) -> Result) throws(SpladeError) -> Result {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { waitingSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        return try body()
    }

    /// As on the CPU, hidden states that overflowed float32 are an error (the pooling kernels would pass their NaN
    /// over, leaving empty vectors): their sum of squares is then not finite.
    private func checkFinite(_ hidden: UnsafeMutablePointer<Float>, count: Int) throws(SpladeError) {
        var sum = 0.0
        try waiting { () throws(SpladeError) in
            try CUDAOps.check(splade_cuda_sum_squares(hidden, count, &sum), "checking the hidden states")
        }
        guard sum.isFinite else { throw BertMaskedLM.overflowingActivations }
    }

    /// The float32 pass (TF32 products with --precision tf32), into each sequence's maximal logits.
    private func forward(_ batch: DeviceBatch, maxima: UnsafeMutablePointer<Float>) throws(SpladeError) {
        let c = config, h = c.hiddenSize, v = c.vocabularySize, inner = c.intermediateSize, w = weights, t = batch.packing.tokens
        var x = try scratch("hidden", t * h), r = try scratch("residual", t * h)
        let qkv = try scratch("qkv", t * 3 * h), context = try scratch("context", t * h)
        let intermediate = try scratch("intermediate", t * inner)
        let probabilities = try scratch("probabilities", batch.probabilityCount)
        try batch.embed(w, into: x)
        try CUDAOps.layerNorm(x, rows: t, cols: h, weight: w.embeddingNormWeight, bias: w.embeddingNormBias,
                              epsilon: c.layerNormEpsilon)
        for layer in w.layers {
            try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.qkvWeight, bias: layer.qkvBias, outputs: 3 * h, into: qkv)
            try CUDAOps.attention(qkv: qkv, batch: batch, probabilities: probabilities, context: context, dropout: nil)
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
        try checkFinite(x, count: t * h)
        // MLM transform into r, then the logits a chunk of rows at a time, reduced to running maxima.
        try CUDAOps.linear(x, rows: t, inputs: h, weight: w.transformWeight, bias: w.transformBias, outputs: h, into: r)
        try CUDAOps.check(splade_cuda_gelu_forward(r, t * h), "GELU")
        try CUDAOps.layerNorm(r, rows: t, cols: h, weight: w.transformNormWeight, bias: w.transformNormBias,
                              epsilon: c.layerNormEpsilon)
        try batch.pool(transformed: r, weights: w, logits: try scratch("logits", batch.logitRowsPerChunk * v), maxima: maxima,
                       argmax: nil)
    }

    /// The bf16 pass, as under torch.autocast: what only products read stays in bfloat16 (each LayerNorm's output
    /// also rounded into a copy; QKV, the attention scores, probabilities and context; the feed-forward activations;
    /// the logits), while the residual stream, LayerNorm and the products feeding it (the attention output and the
    /// feed-forward output, the MLM transform) are float32. No float32 copy is converted on the way.
    private func forward(_ batch: DeviceBatch, maxima: UnsafeMutablePointer<Float>, bf16: CUDAOps.BFloat16) throws(SpladeError) {
        let c = config, h = c.hiddenSize, v = c.vocabularySize, inner = c.intermediateSize, w = weights, t = batch.packing.tokens
        let halves = bf16.scratch
        var x = try scratch("hidden", t * h), r = try scratch("residual", t * h)
        let xHalf = try halves("hidden", t * h)
        let qkv = try halves("qkv", batch.attentionRows * 3 * h), context = try halves("context", t * h)
        let intermediate = try halves("intermediate", t * inner)
        let probabilities = try halves("probabilities", max(batch.probabilityCount, batch.paddedScoreCount))
        let paddedContext = try batch.paddedLength.map { p throws(SpladeError) in
            try halves("padded context", batch.packing.lengths.count * p * h)
        }
        try batch.embed(w, into: x)
        try CUDAOps.layerNorm(x, rows: t, cols: h, weight: w.embeddingNormWeight, bias: w.embeddingNormBias,
                              epsilon: c.layerNormEpsilon, copy: xHalf)
        for layer in w.layers {
            try CUDAOps.linear(xHalf, rows: t, inputs: h, weight: layer.qkvWeight, bias: layer.qkvBias, outputs: 3 * h,
                               into: qkv, bf16: bf16)
            if let p = batch.paddedLength, let paddedContext {
                try CUDAOps.paddedAttention(qkv: qkv, batch: batch, length: p, scores: probabilities, padded: paddedContext,
                                            context: context)
            } else {
                try CUDAOps.attention(qkv: qkv, batch: batch, probabilities: probabilities, context: context)
            }
            try CUDAOps.linear(context, rows: t, inputs: h, weight: layer.attentionOutputWeight, bias: layer.attentionOutputBias,
                               outputs: h, into: r, bf16: bf16)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.attentionNormWeight,
                                  bias: layer.attentionNormBias, epsilon: c.layerNormEpsilon, copy: xHalf)
            swap(&x, &r)
            try CUDAOps.linear(xHalf, rows: t, inputs: h, weight: layer.intermediateWeight, bias: layer.intermediateBias,
                               outputs: inner, into: intermediate, bf16: bf16)
            try CUDAOps.check(splade_cuda_gelu_bf16(intermediate, t * inner, intermediate), "GELU (bf16)")
            try CUDAOps.linear(intermediate, rows: t, inputs: inner, weight: layer.outputWeight, bias: layer.outputBias,
                               outputs: h, into: r, bf16: bf16)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.outputNormWeight, bias: layer.outputNormBias,
                                  epsilon: c.layerNormEpsilon, copy: xHalf)
            swap(&x, &r)
        }
        try checkFinite(x, count: t * h)
        try CUDAOps.linear(xHalf, rows: t, inputs: h, weight: w.transformWeight, bias: w.transformBias, outputs: h, into: r,
                           bf16: bf16)
        try CUDAOps.check(splade_cuda_gelu_forward(r, t * h), "GELU")
        try CUDAOps.layerNorm(r, rows: t, cols: h, weight: w.transformNormWeight, bias: w.transformNormBias,
                              epsilon: c.layerNormEpsilon, copy: xHalf)
        try batch.pool(transformed: xHalf, weights: w, logits: try halves("logits", batch.logitRowsPerChunk * v), maxima: maxima,
                       argmax: nil, bf16: bf16)
    }
}
#endif
