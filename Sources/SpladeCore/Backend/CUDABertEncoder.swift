#if CUDA
import CSpladeCUDA

/// BertMaskedLM's SPLADE forward pass on a CUDA GPU: the same packed [T, H] layout (no padding),
/// cuBLAS for every product (attention as grouped products over every head of every sequence, the
/// SPLADE head as chunks of up to 2048 packed rows), libsplade_cuda's kernels for the rest. Float32
/// throughout (TF32 products with --precision tf32, bfloat16 ones with bf16); mirrors BertMaskedLM step by step.
/// CUDAPathTests compares it with the ja-tiny fixtures (on a GPU, or on the host emulation of the C API).
public final class CUDABertEncoder: SpladeEncoding {
    public let config: BertConfig
    public var usesHostCores: Bool { false }

    private let weights: DeviceBertWeights
    /// bfloat16 products, with --precision bf16.
    private let bf16: CUDAOps.BFloat16?
    private let scratch = DeviceScratch<Float>(), indexScratch = DeviceScratch<Int32>()

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
        let c = config, h = c.hiddenSize, v = c.vocabularySize, inner = c.intermediateSize, w = weights
        let batch = try DeviceBatch(sequences, config: c)
        let t = batch.packing.tokens
        guard t > 0 else { return sequences.map { _ in SparseVector() } }
        var x = try scratch("hidden", t * h), r = try scratch("residual", t * h)
        let qkv = try scratch("qkv", t * 3 * h), context = try scratch("context", t * h)
        let intermediate = try scratch("intermediate", t * inner)
        let probabilities = try scratch("probabilities", batch.probabilityCount)
        try batch.embed(w, into: x)
        try CUDAOps.layerNorm(x, rows: t, cols: h, weight: w.embeddingNormWeight, bias: w.embeddingNormBias,
                              epsilon: c.layerNormEpsilon)
        for layer in w.layers {
            try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.qkvWeight, bias: layer.qkvBias, outputs: 3 * h, into: qkv,
                               bf16: bf16)
            try CUDAOps.attention(qkv: qkv, batch: batch, probabilities: probabilities, context: context, dropout: nil, bf16: bf16,
                                  keepProbabilities: false)
            try CUDAOps.linear(context, rows: t, inputs: h, weight: layer.attentionOutputWeight, bias: layer.attentionOutputBias,
                               outputs: h, into: r, bf16: bf16)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.attentionNormWeight,
                                  bias: layer.attentionNormBias, epsilon: c.layerNormEpsilon)
            swap(&x, &r)
            try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.intermediateWeight, bias: layer.intermediateBias,
                               outputs: inner, into: intermediate, bf16: bf16)
            try CUDAOps.geluLinear(intermediate, rows: t, inputs: inner, weight: layer.outputWeight, bias: layer.outputBias,
                                   outputs: h, into: r, bf16: bf16)
            try CUDAOps.layerNorm(r, rows: t, cols: h, residual: x, weight: layer.outputNormWeight, bias: layer.outputNormBias,
                                  epsilon: c.layerNormEpsilon)
            swap(&x, &r)
        }
        // MLM transform into r, then the logits a chunk of rows at a time, reduced to running maxima.
        try CUDAOps.linear(x, rows: t, inputs: h, weight: w.transformWeight, bias: w.transformBias, outputs: h, into: r,
                           bf16: bf16)
        try CUDAOps.check(splade_cuda_gelu_forward(r, t * h), "GELU")
        try CUDAOps.layerNorm(r, rows: t, cols: h, weight: w.transformNormWeight, bias: w.transformNormBias,
                              epsilon: c.layerNormEpsilon)
        let maxima = try scratch("maxima", sequences.count * v)
        try batch.pool(transformed: r, weights: w, logits: try scratch("logits", batch.logitRowsPerChunk * v), maxima: maxima,
                       argmax: nil, bf16: bf16)
        return try batch.sparseVectors(maxima: maxima, scratch: scratch, indexScratch: indexScratch)
    }
}
#endif
