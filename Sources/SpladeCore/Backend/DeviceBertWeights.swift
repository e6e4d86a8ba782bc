#if CUDA
import CSpladeCUDA

/// BertWeights in GPU memory, one buffer per tensor: the parameters of the GPU encoder and trainer,
/// and (`zeros(like:)`) their gradients and Adam moments.
final class DeviceBertWeights {
    struct Layer {
        let qkvWeight, qkvBias, attentionOutputWeight, attentionOutputBias, attentionNormWeight, attentionNormBias: DeviceBuffer<Float>
        let intermediateWeight, intermediateBias, outputWeight, outputBias, outputNormWeight, outputNormBias: DeviceBuffer<Float>
    }
    let word, position, tokenType, embeddingNormWeight, embeddingNormBias: DeviceBuffer<Float>
    let layers: [Layer]
    let transformWeight, transformBias, transformNormWeight, transformNormBias: DeviceBuffer<Float>
    /// nil when the decoder is tied to the word embeddings.
    let untiedDecoder: DeviceBuffer<Float>?
    let decoderBias: DeviceBuffer<Float>
    var decoder: DeviceBuffer<Float> { untiedDecoder ?? word }

    /// Uploads `weights`.
    convenience init(_ weights: BertWeights) throws(SpladeError) {
        try self.init(weights) { values throws(SpladeError) in try DeviceBuffer(values) }
    }

    /// Zeroed tensors of `weights`' shapes (gradients, moments).
    static func zeros(like weights: BertWeights) throws(SpladeError) -> DeviceBertWeights {
        try DeviceBertWeights(weights) { values throws(SpladeError) in
            let buffer = try DeviceBuffer<Float>(count: values.count)
            try buffer.zero()
            return buffer
        }
    }

    private init(_ w: BertWeights, _ make: ([Float]) throws(SpladeError) -> DeviceBuffer<Float>) throws(SpladeError) {
        var layers: [Layer] = []
        for l in w.layers {
            layers.append(Layer(
                qkvWeight: try make(l.qkvWeight), qkvBias: try make(l.qkvBias),
                attentionOutputWeight: try make(l.attentionOutputWeight), attentionOutputBias: try make(l.attentionOutputBias),
                attentionNormWeight: try make(l.attentionNormWeight), attentionNormBias: try make(l.attentionNormBias),
                intermediateWeight: try make(l.intermediateWeight), intermediateBias: try make(l.intermediateBias),
                outputWeight: try make(l.outputWeight), outputBias: try make(l.outputBias),
                outputNormWeight: try make(l.outputNormWeight), outputNormBias: try make(l.outputNormBias)))
        }
        self.layers = layers
        word = try make(w.wordEmbeddings)
        position = try make(w.positionEmbeddings)
        tokenType = try make(w.tokenTypeEmbeddings)
        embeddingNormWeight = try make(w.embeddingNormWeight)
        embeddingNormBias = try make(w.embeddingNormBias)
        transformWeight = try make(w.transformWeight)
        transformBias = try make(w.transformBias)
        transformNormWeight = try make(w.transformNormWeight)
        transformNormBias = try make(w.transformNormBias)
        untiedDecoder = try w.untiedDecoder.map { values throws(SpladeError) in try make(values) }
        decoderBias = try make(w.decoderBias)
    }

    /// Every tensor with its weight-decay flag, in the order of BertWeights.forEachParameter (so the
    /// two line up for transfers; `WeightTransferTests` checks that a round trip is the identity).
    var tensors: [(buffer: DeviceBuffer<Float>, decays: Bool)] {
        var list: [(DeviceBuffer<Float>, Bool)] = [(word, true), (position, true), (tokenType, true),
                                                   (embeddingNormWeight, false), (embeddingNormBias, false)]
        for l in layers {
            list += [(l.qkvWeight, true), (l.qkvBias, false), (l.attentionOutputWeight, true), (l.attentionOutputBias, false),
                     (l.attentionNormWeight, false), (l.attentionNormBias, false), (l.intermediateWeight, true),
                     (l.intermediateBias, false), (l.outputWeight, true), (l.outputBias, false), (l.outputNormWeight, false),
                     (l.outputNormBias, false)]
        }
        list += [(transformWeight, true), (transformBias, false), (transformNormWeight, false), (transformNormBias, false)]
        if let untiedDecoder { list.append((untiedDecoder, true)) }
        list.append((decoderBias, false))
        return list
    }

    /// The tensors copied back into a BertWeights of the same shapes as `like`.
    func download(like: BertWeights) throws(SpladeError) -> BertWeights {
        var result = like
        try pair(&result) { values, buffer throws(SpladeError) in values = try buffer.download() }
        return result
    }

    /// Overwrites every tensor with `weights` (same shapes).
    func upload(_ weights: BertWeights) throws(SpladeError) {
        var copy = weights
        try pair(&copy) { values, buffer throws(SpladeError) in try buffer.upload(values) }
    }

    /// Runs `transfer` on each host tensor of `weights` with its buffer, in order, up to the first error.
    private func pair(_ weights: inout BertWeights,
                      _ transfer: (inout [Float], DeviceBuffer<Float>) throws(SpladeError) -> Void) throws(SpladeError) {
        let buffers = tensors
        var index = 0, failure: SpladeError?
        weights.forEachParameter { values, _ in
            defer { index += 1 }
            guard failure == nil else { return }
            do throws(SpladeError) { try transfer(&values, buffers[index].buffer) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func zero() throws(SpladeError) {
        for tensor in tensors { try tensor.buffer.zero() }
    }
}
#endif
