/// One forward and backward pass of BertForMaskedLM with SPLADE pooling, on the CPU, for training.
///
/// Sequences are packed without padding, as in inference: with a padding mask, padded positions
/// contribute nothing to the pooled vectors nor, through attention, to the real ones, so their
/// gradients are zero and leaving them out changes no result. The forward pass keeps what the
/// backward pass needs (layer inputs, projections, attention probabilities, normalised values,
/// GELU inputs, and each vocabulary entry's argmax token), so gradients cost no recomputation.
public final class BertTrainingPass {
    /// Dropout as BERT applies it in training: after the embeddings, on the attention probabilities,
    /// and on each block's output before its residual sum. Masks come from `seed`.
    public struct Dropout: Sendable {
        public var hidden: Float, attention: Float, seed: UInt64
        public init(hidden: Float, attention: Float, seed: UInt64) {
            self.hidden = hidden
            self.attention = attention
            self.seed = seed
        }
    }

    let config: BertConfig
    let weights: BertWeights
    let sequences: [[Int32]]
    let offsets: [Int]
    let threads: Int

    private struct LayerCache {
        var input: [Float], qkv: [Float], probabilities: [Float], context: [Float]
        /// Keep-masks scaled by 1/(1 − p); empty without dropout.
        var attentionMask: [Float] = [], attentionOutputMask: [Float] = [], outputMask: [Float] = []
        var norm1: [Float], inverseStd1: [Float], afterAttention: [Float]
        var intermediate: [Float], activated: [Float]
        var norm2: [Float], inverseStd2: [Float]
    }

    let dropout: Dropout?
    private var random: SeededRandom
    private var embeddingNorm: [Float] = [], embeddingInverseStd: [Float] = [], embeddingMask: [Float] = []
    private var layers: [LayerCache] = []
    private var encoded: [Float] = []
    private var transformInput: [Float] = [], transformNorm: [Float] = [], transformInverseStd: [Float] = []
    private var transformed: [Float] = []
    /// Per sequence and vocabulary entry: the largest logit and the (packed) row it came from.
    private var maxLogits: [[Float]] = [], argmaxRows: [[Int32]] = []
    /// First offset of each sequence's attention probabilities (heads × L × L each).
    private var probabilityOffsets: [Int] = []

    public init(config: BertConfig, weights: BertWeights, sequences: [[Int32]], threads: Int, dropout: Dropout? = nil) {
        self.dropout = dropout
        random = SeededRandom(seed: dropout?.seed ?? 0)
        self.config = config
        self.weights = weights
        self.sequences = sequences
        var offsets = [0]
        for s in sequences { offsets.append(offsets.last! + s.count) }
        self.offsets = offsets
        self.threads = threads
    }

    var tokenCount: Int { offsets.last! }

    /// A keep-mask of `count` entries for probability p (empty when p = 0).
    private func dropoutMask(_ count: Int, probability p: Float) -> [Float] {
        guard p > 0 else { return [] }
        let keep = 1 / (1 - p)
        return (0..<count).map { _ in random.nextUnitFloat() < p ? 0 : keep }
    }

    private static func apply(_ mask: [Float], to values: inout [Float]) {
        guard !mask.isEmpty else { return }
        for i in values.indices { values[i] *= mask[i] }
    }

    // MARK: Forward

    /// The SPLADE vector of every sequence, dense [V] each: w_j = log(1 + relu(max_i z_ij)).
    public func forward() -> [[Float]] {
        let c = config, t = tokenCount, h = c.hiddenSize, inner = c.intermediateSize
        var x = [Float](repeating: 0, count: t * h)
        embeddingNorm = [Float](repeating: 0, count: t * h)
        embeddingInverseStd = [Float](repeating: 0, count: t)
        for (s, sequence) in sequences.enumerated() {
            for (i, id) in sequence.enumerated() {
                let row = (offsets[s] + i) * h
                for j in 0..<h {
                    x[row + j] = weights.wordEmbeddings[Int(id) * h + j] + weights.positionEmbeddings[i * h + j]
                        + weights.tokenTypeEmbeddings[j]
                }
            }
        }
        layerNorm(&x, weights.embeddingNormWeight, weights.embeddingNormBias, residual: nil,
                  normalized: &embeddingNorm, inverseStd: &embeddingInverseStd)
        embeddingMask = dropoutMask(t * h, probability: dropout?.hidden ?? 0)
        Self.apply(embeddingMask, to: &x)
        probabilityOffsets = [0]
        for s in sequences.indices {
            let length = offsets[s + 1] - offsets[s]
            probabilityOffsets.append(probabilityOffsets.last! + c.heads * length * length)
        }
        layers = []
        for layer in weights.layers {
            var cache = LayerCache(input: x, qkv: [], probabilities: [Float](repeating: 0, count: probabilityOffsets.last!),
                                   context: [Float](repeating: 0, count: t * h), norm1: [Float](repeating: 0, count: t * h),
                                   inverseStd1: [Float](repeating: 0, count: t), afterAttention: [],
                                   intermediate: [], activated: [], norm2: [Float](repeating: 0, count: t * h),
                                   inverseStd2: [Float](repeating: 0, count: t))
            cache.qkv = linear(x, layer.qkvWeight, layer.qkvBias, inputs: h, outputs: 3 * h)
            cache.attentionMask = dropoutMask(probabilityOffsets.last!, probability: dropout?.attention ?? 0)
            attention(&cache)
            var sum = linear(cache.context, layer.attentionOutputWeight, layer.attentionOutputBias, inputs: h, outputs: h)
            cache.attentionOutputMask = dropoutMask(t * h, probability: dropout?.hidden ?? 0)
            Self.apply(cache.attentionOutputMask, to: &sum)
            layerNorm(&sum, layer.attentionNormWeight, layer.attentionNormBias, residual: x,
                      normalized: &cache.norm1, inverseStd: &cache.inverseStd1)
            cache.afterAttention = sum
            cache.intermediate = linear(sum, layer.intermediateWeight, layer.intermediateBias, inputs: h, outputs: inner)
            cache.activated = cache.intermediate
            cache.activated.withUnsafeMutableBufferPointer { GELU.forward($0.baseAddress!, count: $0.count, threads: threads) }
            var out = linear(cache.activated, layer.outputWeight, layer.outputBias, inputs: inner, outputs: h)
            cache.outputMask = dropoutMask(t * h, probability: dropout?.hidden ?? 0)
            Self.apply(cache.outputMask, to: &out)
            layerNorm(&out, layer.outputNormWeight, layer.outputNormBias, residual: cache.afterAttention,
                      normalized: &cache.norm2, inverseStd: &cache.inverseStd2)
            layers.append(cache)
            x = out
        }
        encoded = x
        transformInput = linear(x, weights.transformWeight, weights.transformBias, inputs: h, outputs: h)
        var activated = transformInput
        activated.withUnsafeMutableBufferPointer { GELU.forward($0.baseAddress!, count: $0.count, threads: threads) }
        transformNorm = [Float](repeating: 0, count: t * h)
        transformInverseStd = [Float](repeating: 0, count: t)
        layerNorm(&activated, weights.transformNormWeight, weights.transformNormBias, residual: nil,
                  normalized: &transformNorm, inverseStd: &transformInverseStd)
        transformed = activated
        return pool()
    }

    /// Logits a sequence at a time, reduced to each column's maximum and the row holding it.
    private func pool() -> [[Float]] {
        let v = config.vocabularySize, h = config.hiddenSize
        maxLogits = []
        argmaxRows = []
        var vectors: [[Float]] = []
        for s in sequences.indices {
            let rows = offsets[s + 1] - offsets[s]
            let logits = transformed.withUnsafeBufferPointer { t in
                linear(Array(t[(offsets[s] * h)..<(offsets[s + 1] * h)]), weights.decoderWeight, weights.decoderBias,
                       inputs: h, outputs: v)
            }
            var maximum = [Float](repeating: -.infinity, count: v), argmax = [Int32](repeating: -1, count: v)
            for r in 0..<rows {
                for j in 0..<v where logits[r * v + j] > maximum[j] {
                    maximum[j] = logits[r * v + j]
                    argmax[j] = Int32(offsets[s] + r)
                }
            }
            vectors.append(maximum.map { SpladePooling.weight(maxLogit: $0) })
            maxLogits.append(maximum)
            argmaxRows.append(argmax)
        }
        return vectors
    }

    // MARK: Backward

    /// Gradients of every parameter given ∂L/∂w for each sequence's SPLADE vector (dense [V] each).
    /// The decoder is tied to the word embeddings, so both paths add into `wordEmbeddings`.
    public func backward(_ dVectors: [[Float]]) -> BertWeights {
        let c = config, t = tokenCount, h = c.hiddenSize, inner = c.intermediateSize, v = c.vocabularySize
        var g = BertWeights.zeros(like: weights)
        var dDecoder = [Float](repeating: 0, count: weights.untiedDecoder == nil ? 0 : v * h)
        // SPLADE pooling and the decoder: only each active column's argmax row gets a gradient,
        // ∂w_j/∂z_ij = 1/(1 + z_ij), so the decoder's backward is a sparse update.
        var dTransformed = [Float](repeating: 0, count: t * h)
        let decoder = weights.decoderWeight
        for s in sequences.indices {
            for j in 0..<v where maxLogits[s][j] > 0 && dVectors[s][j] != 0 {
                let gradient = dVectors[s][j] / (1 + maxLogits[s][j])
                let row = Int(argmaxRows[s][j])
                g.decoderBias[j] += gradient
                for k in 0..<h {
                    dTransformed[row * h + k] += gradient * decoder[j * h + k]
                    let update = gradient * transformed[row * h + k]
                    if weights.untiedDecoder == nil { g.wordEmbeddings[j * h + k] += update } else { dDecoder[j * h + k] += update }
                }
            }
        }
        if weights.untiedDecoder != nil { g.untiedDecoder = dDecoder }
        var dActivated = layerNormBackward(dTransformed, normalized: transformNorm, inverseStd: transformInverseStd,
                                           weight: weights.transformNormWeight, dWeight: &g.transformNormWeight,
                                           dBias: &g.transformNormBias)
        geluBackward(&dActivated, input: transformInput)
        var dx = linearBackward(dActivated, x: encoded, weights.transformWeight, inputs: h, outputs: h,
                                dWeight: &g.transformWeight, dBias: &g.transformBias)
        for index in stride(from: layers.count - 1, through: 0, by: -1) {
            let layer = weights.layers[index], cache = layers[index]
            var lg = g.layers[index]
            defer { g.layers[index] = lg }
            // Feed-forward block.
            let dSum2 = layerNormBackward(dx, normalized: cache.norm2, inverseStd: cache.inverseStd2, weight: layer.outputNormWeight,
                                          dWeight: &lg.outputNormWeight, dBias: &lg.outputNormBias)
            var dOutput = dSum2
            Self.apply(cache.outputMask, to: &dOutput)
            var dActivatedInner = linearBackward(dOutput, x: cache.activated, layer.outputWeight, inputs: inner, outputs: h,
                                                 dWeight: &lg.outputWeight, dBias: &lg.outputBias)
            geluBackward(&dActivatedInner, input: cache.intermediate)
            var dAfterAttention = linearBackward(dActivatedInner, x: cache.afterAttention, layer.intermediateWeight,
                                                 inputs: h, outputs: inner, dWeight: &lg.intermediateWeight,
                                                 dBias: &lg.intermediateBias)
            for i in 0..<(t * h) { dAfterAttention[i] += dSum2[i] }
            // Attention block.
            let dSum1 = layerNormBackward(dAfterAttention, normalized: cache.norm1, inverseStd: cache.inverseStd1,
                                          weight: layer.attentionNormWeight, dWeight: &lg.attentionNormWeight,
                                          dBias: &lg.attentionNormBias)
            var dAttentionOutput = dSum1
            Self.apply(cache.attentionOutputMask, to: &dAttentionOutput)
            let dContext = linearBackward(dAttentionOutput, x: cache.context, layer.attentionOutputWeight, inputs: h, outputs: h,
                                          dWeight: &lg.attentionOutputWeight,
                                          dBias: &lg.attentionOutputBias)
            let dQKV = attentionBackward(dContext, cache: cache)
            var dInput = linearBackward(dQKV, x: cache.input, layer.qkvWeight, inputs: h, outputs: 3 * h,
                                        dWeight: &lg.qkvWeight, dBias: &lg.qkvBias)
            for i in 0..<(t * h) { dInput[i] += dSum1[i] }
            dx = dInput
        }
        Self.apply(embeddingMask, to: &dx)
        let dEmbedded = layerNormBackward(dx, normalized: embeddingNorm, inverseStd: embeddingInverseStd,
                                          weight: weights.embeddingNormWeight, dWeight: &g.embeddingNormWeight,
                                          dBias: &g.embeddingNormBias)
        for (s, sequence) in sequences.enumerated() {
            for (i, id) in sequence.enumerated() {
                let row = (offsets[s] + i) * h
                for j in 0..<h {
                    let d = dEmbedded[row + j]
                    g.wordEmbeddings[Int(id) * h + j] += d
                    g.positionEmbeddings[i * h + j] += d
                    g.tokenTypeEmbeddings[j] += d
                }
            }
        }
        return g
    }

    // MARK: Op wrappers over arrays

    private func linear(_ x: [Float], _ weight: [Float], _ bias: [Float], inputs: Int, outputs: Int) -> [Float] {
        let rows = x.count / inputs
        var y = [Float](repeating: 0, count: rows * outputs)
        x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { b in
            y.withUnsafeMutableBufferPointer { yp in
                Linear.forward(xp.baseAddress!, rows: rows, inputs: inputs, weight: w.baseAddress!, bias: b.baseAddress!,
                               outputs: outputs, into: yp.baseAddress!, threads: threads)
            }
        } } }
        return y
    }

    private func linearBackward(_ dy: [Float], x: [Float], _ weight: [Float], inputs: Int, outputs: Int,
                                dWeight: inout [Float], dBias: inout [Float]) -> [Float] {
        let rows = x.count / inputs
        var dx = [Float](repeating: 0, count: rows * inputs)
        dy.withUnsafeBufferPointer { d in x.withUnsafeBufferPointer { xp in weight.withUnsafeBufferPointer { w in
            dx.withUnsafeMutableBufferPointer { out in dWeight.withUnsafeMutableBufferPointer { dw in
                dBias.withUnsafeMutableBufferPointer { db in
                    Linear.backward(d.baseAddress!, rows: rows, inputs: inputs, outputs: outputs, x: xp.baseAddress!,
                                    weight: w.baseAddress!, dx: out.baseAddress!, dWeight: dw.baseAddress!, dBias: db.baseAddress!)
                }
            } }
        } } }
        return dx
    }

    private func layerNorm(_ x: inout [Float], _ weight: [Float], _ bias: [Float], residual: [Float]?,
                           normalized: inout [Float], inverseStd: inout [Float]) {
        let rows = x.count / config.hiddenSize
        x.withUnsafeMutableBufferPointer { xp in weight.withUnsafeBufferPointer { w in bias.withUnsafeBufferPointer { b in
            normalized.withUnsafeMutableBufferPointer { n in inverseStd.withUnsafeMutableBufferPointer { r in
                if let residual {
                    residual.withUnsafeBufferPointer { res in
                        LayerNorm.forward(xp.baseAddress!, rows: rows, cols: config.hiddenSize, residual: res.baseAddress!,
                                          weight: w.baseAddress!, bias: b.baseAddress!, epsilon: config.layerNormEpsilon,
                                          threads: threads, normalized: n.baseAddress!, inverseStd: r.baseAddress!)
                    }
                } else {
                    LayerNorm.forward(xp.baseAddress!, rows: rows, cols: config.hiddenSize, weight: w.baseAddress!,
                                      bias: b.baseAddress!, epsilon: config.layerNormEpsilon, threads: threads,
                                      normalized: n.baseAddress!, inverseStd: r.baseAddress!)
                }
            } }
        } } }
    }

    private func layerNormBackward(_ dy: [Float], normalized: [Float], inverseStd: [Float], weight: [Float],
                                   dWeight: inout [Float], dBias: inout [Float]) -> [Float] {
        let rows = dy.count / config.hiddenSize
        var dx = [Float](repeating: 0, count: dy.count)
        dy.withUnsafeBufferPointer { d in normalized.withUnsafeBufferPointer { n in inverseStd.withUnsafeBufferPointer { r in
            weight.withUnsafeBufferPointer { w in dx.withUnsafeMutableBufferPointer { out in
                dWeight.withUnsafeMutableBufferPointer { dw in dBias.withUnsafeMutableBufferPointer { db in
                    LayerNorm.backward(d.baseAddress!, rows: rows, cols: config.hiddenSize, normalized: n.baseAddress!,
                                       inverseStd: r.baseAddress!, weight: w.baseAddress!, dx: out.baseAddress!,
                                       dWeight: dw.baseAddress!, dBias: db.baseAddress!)
                } }
            } }
        } } }
        return dx
    }

    private func geluBackward(_ dy: inout [Float], input: [Float]) {
        dy.withUnsafeMutableBufferPointer { d in input.withUnsafeBufferPointer { x in
            GELU.backward(d.baseAddress!, x: x.baseAddress!, count: d.count, dx: d.baseAddress!)
        } }
    }

    private func attention(_ cache: inout LayerCache) {
        let c = config
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        var scratch = [Float](repeating: 0, count: cache.attentionMask.isEmpty ? 0 : longest * longest)
        cache.qkv.withUnsafeBufferPointer { qkv in cache.context.withUnsafeMutableBufferPointer { context in
            cache.probabilities.withUnsafeMutableBufferPointer { probabilities in
                cache.attentionMask.withUnsafeBufferPointer { mask in scratch.withUnsafeMutableBufferPointer { tmp in
                    for s in sequences.indices {
                        let start = offsets[s], length = offsets[s + 1] - offsets[s]
                        for head in 0..<c.heads {
                            let offset = probabilityOffsets[s] + head * length * length
                            Attention.forward(qkv: qkv.baseAddress! + start * 3 * c.hiddenSize, length: length, hidden: c.hiddenSize,
                                              heads: c.heads, head: head, context: context.baseAddress! + start * c.hiddenSize,
                                              scores: probabilities.baseAddress! + offset,
                                              dropout: mask.isEmpty ? nil : (mask.baseAddress! + offset, tmp.baseAddress!))
                        }
                    }
                } }
            }
        } }
    }

    private func attentionBackward(_ dContext: [Float], cache: LayerCache) -> [Float] {
        let c = config
        var dQKV = [Float](repeating: 0, count: tokenCount * 3 * c.hiddenSize)
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        var scratch = [Float](repeating: 0, count: max(1, longest * longest))
        var scratch2 = [Float](repeating: 0, count: cache.attentionMask.isEmpty ? 0 : longest * longest)
        dContext.withUnsafeBufferPointer { dc in cache.qkv.withUnsafeBufferPointer { qkv in
            cache.probabilities.withUnsafeBufferPointer { p in dQKV.withUnsafeMutableBufferPointer { out in
                scratch.withUnsafeMutableBufferPointer { tmp in scratch2.withUnsafeMutableBufferPointer { tmp2 in
                    cache.attentionMask.withUnsafeBufferPointer { mask in
                        for s in sequences.indices {
                            let start = offsets[s], length = offsets[s + 1] - offsets[s]
                            for head in 0..<c.heads {
                                let offset = probabilityOffsets[s] + head * length * length
                                Attention.backward(dContext: dc.baseAddress! + start * c.hiddenSize,
                                                   qkv: qkv.baseAddress! + start * 3 * c.hiddenSize,
                                                   probabilities: p.baseAddress! + offset,
                                                   length: length, hidden: c.hiddenSize, heads: c.heads, head: head,
                                                   dQKV: out.baseAddress! + start * 3 * c.hiddenSize, scratch: tmp.baseAddress!,
                                                   dropoutMask: mask.isEmpty ? nil : mask.baseAddress! + offset,
                                                   scratch2: tmp2.baseAddress)
                            }
                        }
                    }
                } }
            } }
        } }
        return dQKV
    }
}

extension BertWeights {
    /// A zero tensor for every parameter of `weights` (the shape of its gradients).
    static func zeros(like weights: BertWeights) -> BertWeights {
        func z(_ a: [Float]) -> [Float] { [Float](repeating: 0, count: a.count) }
        return BertWeights(
            wordEmbeddings: z(weights.wordEmbeddings), positionEmbeddings: z(weights.positionEmbeddings),
            tokenTypeEmbeddings: z(weights.tokenTypeEmbeddings), embeddingNormWeight: z(weights.embeddingNormWeight),
            embeddingNormBias: z(weights.embeddingNormBias),
            layers: weights.layers.map { l in
                Layer(qkvWeight: z(l.qkvWeight), qkvBias: z(l.qkvBias), attentionOutputWeight: z(l.attentionOutputWeight),
                      attentionOutputBias: z(l.attentionOutputBias), attentionNormWeight: z(l.attentionNormWeight),
                      attentionNormBias: z(l.attentionNormBias), intermediateWeight: z(l.intermediateWeight),
                      intermediateBias: z(l.intermediateBias), outputWeight: z(l.outputWeight), outputBias: z(l.outputBias),
                      outputNormWeight: z(l.outputNormWeight), outputNormBias: z(l.outputNormBias))
            },
            transformWeight: z(weights.transformWeight), transformBias: z(weights.transformBias),
            transformNormWeight: z(weights.transformNormWeight), transformNormBias: z(weights.transformNormBias),
            untiedDecoder: weights.untiedDecoder.map(z), decoderBias: z(weights.decoderBias))
    }
}
