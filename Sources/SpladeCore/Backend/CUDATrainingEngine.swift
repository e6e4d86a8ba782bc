#if CUDA
import CSpladeCUDA

/// The training step on a CUDA GPU. Parameters, gradients and Adam moments stay in GPU memory, and a
/// micro-batch's activations stay there from the forward pass to the backward pass; only the SPLADE
/// vectors (down) and their gradients (up) cross to the host, where the objective is computed.
/// Mirrors BertTrainingPass step by step, with the same dropout masks (splade_cuda_dropout draws
/// SeededRandom's stream in the same order, and draws it again in the backward pass instead of storing
/// it), so the CPU engine is its oracle (CUDAPathTests). With `bfloat16` (--precision bf16, the reference
/// trainer's `bf16: true`) every product multiplies bfloat16 copies, as torch.autocast does (and attention's
/// context, dV, dQ and dK come out in bfloat16, as from PyTorch's fused attention there), while the master
/// weights, gradients, moments and every other step stay float32.
final class CUDATrainingEngine: TrainingEngine {
    let config: BertConfig
    private let weights, gradients, firstMoments, secondMoments: DeviceBertWeights
    private let settings: AdamW.Settings
    /// bfloat16 products (refreshed after every change of the weights), or nil for float32.
    private let bf16: CUDAOps.BFloat16?
    private var steps = 0
    /// BertWeights with empty tensors: the shapes of transfers (tied or untied decoder), without a host copy.
    private let template: BertWeights
    private let scratch = DeviceScratch<Float>()
    /// The micro-batch's arrays on the GPU (DeviceBatch).
    private let uploads = DeviceScratch<UInt8>()
    /// What bf16 training keeps in bfloat16 only between forward and backward: QKV, the attention context, and the
    /// feed-forward block's intermediate product and its GELU.
    private let savedHalves = DeviceScratch<UInt16>()
    /// Each vocabulary entry's argmax row, per sequence, between forward and backward.
    private let rowScratch = DeviceScratch<Int32>()
    /// The micro-batch between forward and backward (its arrays in `uploads` until the next forward), and its vectors
    /// (their entries are where gradients flow).
    private var batch: DeviceBatch?
    private var vectors: [SparseVector] = []
    /// The entries with a gradient (sequence·V + column) for the pooling backward.
    private let entryScratch = DeviceScratch<Int64>()
    private var dropout: BertTrainingPass.Dropout?
    /// Values drawn so far from the micro-batch's dropout stream, and where each mask starts in it.
    private var drawn: UInt64 = 0
    private var masks: [String: CUDAOps.DropoutMask] = [:]

    init(config: BertConfig, weights: BertWeights, optimizer: AdamW.Settings, device: Int,
         bfloat16: Bool = false) throws(SpladeError) {
        try CUDADevice.initialize(device: device)
        self.config = config
        settings = optimizer
        self.weights = try DeviceBertWeights(weights)
        gradients = try DeviceBertWeights(weights, zeroed: true)
        firstMoments = try DeviceBertWeights(weights, zeroed: true)
        secondMoments = try DeviceBertWeights(weights, zeroed: true)
        bf16 = bfloat16 ? CUDAOps.BFloat16(weights: try DeviceBF16Weights(self.weights)) : nil
        var shapes = weights
        shapes.forEachParameter { values, _ in values = [] }
        template = shapes
    }

    // MARK: Forward

    /// Buffer `name` of layer `layer` (or of the head, layer -1) of the current micro-batch.
    private func saved(_ name: String, layer: Int = -1, _ count: Int) throws(SpladeError) -> UnsafeMutablePointer<Float> {
        try scratch("\(name)#\(layer)", count)
    }

    /// The hidden states entering layer i (i = layers: the encoder's output).
    private func hidden(_ i: Int) throws(SpladeError) -> UnsafeMutablePointer<Float> {
        try saved("hidden", layer: i, batch!.packing.tokens * config.hiddenSize)
    }

    /// A new dropout mask `name` of `count` entries (nil when p = 0), drawn next from the micro-batch's stream
    /// as BertTrainingPass draws its masks, and remembered for the backward pass.
    private func newMask(_ name: String, layer: Int = -1, _ count: Int, probability p: Float) -> CUDAOps.DropoutMask? {
        guard let dropout, p > 0 else { return nil }
        let mask = CUDAOps.DropoutMask(seed: dropout.seed, counter: drawn, probability: p)
        masks["\(name)#\(layer)"] = mask
        drawn += UInt64(count)
        return mask
    }

    /// The forward pass's dropout mask `name` (nil when p = 0).
    private func mask(_ name: String, layer: Int = -1) -> CUDAOps.DropoutMask? { masks["\(name)#\(layer)"] }

    func forward(_ sequences: [[Int32]], dropout: BertTrainingPass.Dropout?) throws(SpladeError) -> [[Float]] {
        let c = config, h = c.hiddenSize, inner = c.intermediateSize, v = c.vocabularySize, w = weights
        let batch = try DeviceBatch(sequences, config: c, uploads: uploads)
        self.batch = batch
        self.dropout = dropout
        drawn = 0
        masks = [:]
        let t = batch.packing.tokens, pHidden = dropout?.hidden ?? 0, pAttention = dropout?.attention ?? 0
        let probabilityCount = batch.probabilityCount

        let x0 = try hidden(0)
        try batch.embed(w, into: x0)
        try CUDAOps.layerNorm(x0, rows: t, cols: h, weight: w.embeddingNormWeight, bias: w.embeddingNormBias,
                              epsilon: c.layerNormEpsilon, normalized: try saved("norm", t * h), inverseStd: try saved("inverse", t))
        try newMask("mask", t * h, probability: pHidden)?.apply(x0, count: t * h)
        for (i, layer) in w.layers.enumerated() {
            let x = try hidden(i), probabilities = try saved("probabilities", layer: i, probabilityCount)
            let attentionMask = newMask("attentionMask", layer: i, batch.probabilityDrawCount, probability: pAttention)
            let attentionDropout = try attentionMask.map { m throws(SpladeError) in (m, try scratch("dropped", probabilityCount)) }
            let after = try saved("afterAttention", layer: i, t * h)
            if let bf16 {  // QKV as autocast's Linear writes it, in bfloat16, which is all attention reads
                let qkv = try savedHalves("qkv#\(i)", t * 3 * h), context = try savedHalves("context#\(i)", t * h)
                try CUDAOps.linear(try bf16.copy(x, count: t * h, "input"), rows: t, inputs: h, weight: layer.qkvWeight,
                                   bias: layer.qkvBias, outputs: 3 * h, into: qkv, bf16: bf16)
                try CUDAOps.attention(qkv: qkv, batch: batch, probabilities: probabilities, context: context,
                                      dropout: attentionDropout, bf16: bf16)
                try CUDAOps.linear(UnsafePointer(context), rows: t, inputs: h, weight: layer.attentionOutputWeight,
                                   bias: layer.attentionOutputBias, outputs: h, into: after, bf16: bf16)
            } else {
                let qkv = try saved("qkv", layer: i, t * 3 * h), context = try saved("context", layer: i, t * h)
                try CUDAOps.linear(x, rows: t, inputs: h, weight: layer.qkvWeight, bias: layer.qkvBias, outputs: 3 * h, into: qkv)
                try CUDAOps.attention(qkv: qkv, batch: batch, probabilities: probabilities, context: context,
                                      dropout: attentionDropout)
                try CUDAOps.linear(context, rows: t, inputs: h, weight: layer.attentionOutputWeight,
                                   bias: layer.attentionOutputBias, outputs: h, into: after)
            }
            try newMask("attentionOutputMask", layer: i, t * h, probability: pHidden)?.apply(after, count: t * h)
            try CUDAOps.layerNorm(after, rows: t, cols: h, residual: x, weight: layer.attentionNormWeight,
                                  bias: layer.attentionNormBias, epsilon: c.layerNormEpsilon,
                                  normalized: try saved("norm1", layer: i, t * h), inverseStd: try saved("inverse1", layer: i, t))
            let out = try hidden(i + 1)
            if let bf16 {  // the intermediate product as autocast's Linear writes it, in bfloat16, and its GELU
                let intermediate = try savedHalves("intermediate#\(i)", t * inner)
                let activated = try savedHalves("activated#\(i)", t * inner)
                try CUDAOps.linear(try bf16.copy(after, count: t * h, "input"), rows: t, inputs: h,
                                   weight: layer.intermediateWeight, bias: layer.intermediateBias, outputs: inner,
                                   into: intermediate, bf16: bf16)
                try CUDAOps.check(splade_cuda_gelu_bf16(intermediate, t * inner, activated), "GELU (bf16)")
                try CUDAOps.linear(UnsafePointer(activated), rows: t, inputs: inner, weight: layer.outputWeight,
                                   bias: layer.outputBias, outputs: h, into: out, bf16: bf16)
            } else {
                let intermediate = try saved("intermediate", layer: i, t * inner)
                try CUDAOps.linear(after, rows: t, inputs: h, weight: layer.intermediateWeight, bias: layer.intermediateBias,
                                   outputs: inner, into: intermediate)
                let activated = try saved("activated", layer: i, t * inner)
                try CUDAOps.check(splade_cuda_copy_device(activated, intermediate, t * inner * MemoryLayout<Float>.stride), "copy")
                try CUDAOps.check(splade_cuda_gelu_forward(activated, t * inner), "GELU")
                try CUDAOps.linear(activated, rows: t, inputs: inner, weight: layer.outputWeight, bias: layer.outputBias,
                                   outputs: h, into: out)
            }
            try newMask("outputMask", layer: i, t * h, probability: pHidden)?.apply(out, count: t * h)
            try CUDAOps.layerNorm(out, rows: t, cols: h, residual: after, weight: layer.outputNormWeight,
                                  bias: layer.outputNormBias, epsilon: c.layerNormEpsilon,
                                  normalized: try saved("norm2", layer: i, t * h), inverseStd: try saved("inverse2", layer: i, t))
        }
        let transformInput = try saved("transformInput", t * h), transformed = try saved("transformed", t * h)
        try CUDAOps.linear(try hidden(w.layers.count), rows: t, inputs: h, weight: w.transformWeight, bias: w.transformBias,
                           outputs: h, into: transformInput, bf16: bf16)
        try CUDAOps.check(splade_cuda_copy_device(transformed, transformInput, t * h * MemoryLayout<Float>.stride), "copy")
        try CUDAOps.check(splade_cuda_gelu_forward(transformed, t * h), "GELU")
        try CUDAOps.layerNorm(transformed, rows: t, cols: h, weight: w.transformNormWeight, bias: w.transformNormBias,
                              epsilon: c.layerNormEpsilon, normalized: try saved("transformNorm", t * h),
                              inverseStd: try saved("transformInverse", t))
        let s = sequences.count, maxima = try saved("maxima", s * v), argmax = try rowScratch("argmax", s * v)
        if let bf16 {  // the logits in bfloat16, as autocast's decoder writes them
            try batch.pool(transformed: try bf16.copy(transformed, count: t * h, "input"), weights: w,
                           logits: try bf16.scratch("logits", batch.logitRowsPerChunk * v), maxima: maxima, argmax: argmax,
                           bf16: bf16)
        } else {
            try batch.pool(transformed: transformed, weights: w, logits: try scratch("logits", batch.logitRowsPerChunk * v),
                           maxima: maxima, argmax: argmax)
        }
        vectors = try batch.sparseVectors(maxima: maxima, scratch: scratch, indexScratch: rowScratch)
        return vectors.map { $0.dense(size: v) }
    }

    private func add(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) throws(SpladeError) {
        try CUDAOps.check(splade_cuda_add(y, x, count), "add")
    }

    /// `source` ⊙ mask in `destination`, or `source` itself without a mask.
    private func masked(_ source: UnsafeMutablePointer<Float>, _ mask: CUDAOps.DropoutMask?, count: Int,
                        into destination: UnsafeMutablePointer<Float>) throws(SpladeError) -> UnsafeMutablePointer<Float> {
        guard let mask else { return source }
        try mask.apply(source, count: count, into: destination)
        return destination
    }

    // MARK: Backward

    func backward(_ dVectors: [[Float]]) throws(SpladeError) {
        guard let batch else { preconditionFailure("backward without a forward pass") }
        defer { (self.batch, vectors) = (nil, []) }
        let c = config, h = c.hiddenSize, inner = c.intermediateSize, v = c.vocabularySize, w = weights, g = gradients
        let t = batch.packing.tokens
        let probabilityCount = batch.probabilityCount
        // SPLADE pooling and the decoder: a sparse update through each active entry's argmax row. Only the entries
        // of the vectors (weight > 0, where the pooling has a gradient) that have a gradient cross to the GPU.
        var entries: [Int64] = [], entryGradients: [Float] = []
        for (s, vector) in vectors.enumerated() {
            for j in vector.indices where dVectors[s][Int(j)] != 0 {
                entries.append(Int64(s * v) + Int64(j))
                entryGradients.append(dVectors[s][Int(j)])
            }
        }
        let deviceEntries = try entryScratch("entries", entries.count), dWeights = try scratch("dVectors", entries.count)
        if !entries.isEmpty {
            try DeviceBuffer.upload(entries, to: deviceEntries)
            try DeviceBuffer.upload(entryGradients, to: dWeights)
        }
        let dx = try scratch("dx", t * h)
        try CUDAOps.check(splade_cuda_zero(dx, t * h * MemoryLayout<Float>.stride), "zero")
        let maxima = try saved("maxima", dVectors.count * v), rows = try rowScratch("argmax", dVectors.count * v)
        try CUDAOps.check(splade_cuda_splade_pool_backward(deviceEntries, dWeights, Int32(entries.count), Int32(v), Int32(h), maxima,
                                                           rows, w.decoder.pointer, try saved("transformed", t * h), dx,
                                                           g.decoder.pointer, g.decoderBias.pointer), "pooling backward")
        try CUDAOps.layerNormBackward(dx, rows: t, cols: h, normalized: try saved("transformNorm", t * h),
                                      inverseStd: try saved("transformInverse", t), weight: w.transformNormWeight, dx: dx,
                                      dWeight: g.transformNormWeight, dBias: g.transformNormBias)
        try CUDAOps.check(splade_cuda_gelu_backward(dx, try saved("transformInput", t * h), t * h, dx), "GELU backward")
        let dNext = try scratch("dNext", t * h)
        try CUDAOps.linearBackward(dx, rows: t, inputs: h, outputs: h, x: try hidden(w.layers.count), weight: w.transformWeight,
                                   dx: dNext, dWeight: g.transformWeight, dBias: g.transformBias, bf16: bf16)
        // dNext: the gradient of the current layer's output; dx, dAfter, dMasked, dInner, dQKV: scratch.
        let dAfter = try scratch("dAfter", t * h), dMasked = try scratch("dMasked", t * h)
        let dInner = try scratch("dInner", t * inner), dQKV = try scratch("dQKV", t * 3 * h)
        for i in stride(from: w.layers.count - 1, through: 0, by: -1) {
            let layer = w.layers[i], gl = g.layers[i]
            // Feed-forward block: dNext becomes dSum2 in place.
            try CUDAOps.layerNormBackward(dNext, rows: t, cols: h, normalized: try saved("norm2", layer: i, t * h),
                                          inverseStd: try saved("inverse2", layer: i, t), weight: layer.outputNormWeight,
                                          dx: dNext, dWeight: gl.outputNormWeight, dBias: gl.outputNormBias)
            let dOutput = try masked(dNext, mask("outputMask", layer: i), count: t * h,
                                     into: dMasked)
            if let bf16 {
                let activated = UnsafePointer(try savedHalves("activated#\(i)", t * inner))
                try CUDAOps.linearBackward(dOutput, rows: t, inputs: inner, outputs: h, x: activated, weight: layer.outputWeight,
                                           dx: dInner, dWeight: gl.outputWeight, dBias: gl.outputBias, bf16: bf16)
                try CUDAOps.check(splade_cuda_gelu_backward_bf16(dInner, try savedHalves("intermediate#\(i)", t * inner), t * inner,
                                                                 dInner), "GELU backward")
            } else {
                let activated = try saved("activated", layer: i, t * inner)
                try CUDAOps.linearBackward(dOutput, rows: t, inputs: inner, outputs: h, x: activated, weight: layer.outputWeight,
                                           dx: dInner, dWeight: gl.outputWeight, dBias: gl.outputBias)
                try CUDAOps.check(splade_cuda_gelu_backward(dInner, try saved("intermediate", layer: i, t * inner), t * inner,
                                                            dInner), "GELU backward")
            }
            try CUDAOps.linearBackward(dInner, rows: t, inputs: h, outputs: inner, x: try saved("afterAttention", layer: i, t * h),
                                       weight: layer.intermediateWeight, dx: dAfter, dWeight: gl.intermediateWeight,
                                       dBias: gl.intermediateBias, bf16: bf16)
            try add(dAfter, dNext, t * h)
            // Attention block: dAfter becomes dSum1 in place.
            try CUDAOps.layerNormBackward(dAfter, rows: t, cols: h, normalized: try saved("norm1", layer: i, t * h),
                                          inverseStd: try saved("inverse1", layer: i, t), weight: layer.attentionNormWeight,
                                          dx: dAfter, dWeight: gl.attentionNormWeight, dBias: gl.attentionNormBias)
            let dAttentionOutput = try masked(dAfter, mask("attentionOutputMask", layer: i),
                                              count: t * h, into: dMasked)
            let probabilities = try saved("probabilities", layer: i, probabilityCount)
            let dScores = try scratch("dScores", probabilityCount), dropped = try scratch("dropped", probabilityCount)
            if let bf16 {
                let context = UnsafePointer(try savedHalves("context#\(i)", t * h))
                try CUDAOps.linearBackward(dAttentionOutput, rows: t, inputs: h, outputs: h, x: context,
                                           weight: layer.attentionOutputWeight, dx: dx, dWeight: gl.attentionOutputWeight,
                                           dBias: gl.attentionOutputBias, bf16: bf16)
                try CUDAOps.attentionBackward(dContext: dx, qkv: try savedHalves("qkv#\(i)", t * 3 * h), batch: batch,
                                              probabilities: probabilities,
                                              mask: mask("attentionMask", layer: i), dQKV: dQKV, scratch: dScores, dropped: dropped,
                                              bf16: bf16)
            } else {
                try CUDAOps.linearBackward(dAttentionOutput, rows: t, inputs: h, outputs: h, x: try saved("context", layer: i, t * h),
                                           weight: layer.attentionOutputWeight, dx: dx, dWeight: gl.attentionOutputWeight,
                                           dBias: gl.attentionOutputBias)
                try CUDAOps.attentionBackward(dContext: dx, qkv: try saved("qkv", layer: i, t * 3 * h), batch: batch, probabilities: probabilities,
                                              mask: mask("attentionMask", layer: i), dQKV: dQKV, scratch: dScores, dropped: dropped)
            }
            try CUDAOps.linearBackward(dQKV, rows: t, inputs: h, outputs: 3 * h, x: try hidden(i), weight: layer.qkvWeight,
                                       dx: dNext, dWeight: gl.qkvWeight, dBias: gl.qkvBias, bf16: bf16)
            try add(dNext, dAfter, t * h)
        }
        try mask("mask")?.apply(dNext, count: t * h)
        try CUDAOps.layerNormBackward(dNext, rows: t, cols: h, normalized: try saved("norm", t * h),
                                      inverseStd: try saved("inverse", t), weight: w.embeddingNormWeight, dx: dNext,
                                      dWeight: g.embeddingNormWeight, dBias: g.embeddingNormBias)
        try CUDAOps.check(splade_cuda_embed_backward(batch.ids, batch.positions, Int32(t), Int32(h), dNext,
                                                     g.word.pointer, g.position.pointer, g.tokenType.pointer), "embeddings backward")
    }

    // MARK: Clipping, AdamW, transfers

    func clipGradients(maxNorm: Float) throws(SpladeError) -> Float {
        let all = gradients.all
        var sum = 0.0
        try CUDAOps.check(splade_cuda_sum_squares(all.pointer, all.count, &sum), "gradient norm")
        let norm = Float(sum.squareRoot())
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 { try CUDAOps.check(splade_cuda_scale(all.pointer, all.count, factor), "clipping") }
        return norm
    }

    /// AdamW over the whole model in two launches: the tensors with weight decay, then the others.
    func applyOptimizer(learningRate: Float) throws(SpladeError) {
        steps += 1
        let (stepSize, correction2Root) = AdamW.corrections(settings, learningRate: learningRate, step: steps)
        for (part, decays) in [(\DeviceBertWeights.decaying, true), (\DeviceBertWeights.notDecaying, false)] {
            let p = weights[keyPath: part]
            try CUDAOps.check(splade_cuda_adamw_step(p.pointer, gradients[keyPath: part].pointer, firstMoments[keyPath: part].pointer,
                                                     secondMoments[keyPath: part].pointer, p.count, learningRate, settings.beta1,
                                                     settings.beta2, settings.epsilon, settings.weightDecay, decays ? 1 : 0,
                                                     stepSize, correction2Root), "AdamW")
        }
        try bf16?.weights.refresh()
        try gradients.zero()
    }

    func snapshot() throws(SpladeError) -> (weights: BertWeights, optimizer: AdamW) {
        (try weights.download(like: template),
         AdamW(settings, steps: steps, firstMoments: try firstMoments.download(like: template),
               secondMoments: try secondMoments.download(like: template)))
    }

    func restore(weights w: BertWeights, optimizer: AdamW) throws(SpladeError) {
        try weights.upload(w)
        try firstMoments.upload(optimizer.firstMoments)
        try secondMoments.upload(optimizer.secondMoments)
        try bf16?.weights.refresh()
        steps = optimizer.steps
        try gradients.zero()
    }
}
#endif
