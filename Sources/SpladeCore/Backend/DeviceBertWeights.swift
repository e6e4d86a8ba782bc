#if CUDA
import CSpladeCUDA

/// A tensor inside a DeviceBertWeights' storage (valid while that lives).
struct DeviceTensor {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    func upload(_ values: [Float]) throws(SpladeError) {
        precondition(values.count == count)
        try DeviceBuffer.upload(values, to: pointer)
    }

    func download() throws(SpladeError) -> [Float] { try DeviceBuffer.download(pointer, count: count) }
}

/// BertWeights in GPU memory: the parameters of the GPU encoder and trainer, and their gradients and
/// Adam moments. One allocation holds every tensor, those with weight decay first, so that zeroing,
/// clipping and AdamW are one or two launches over the whole model rather than one per tensor.
final class DeviceBertWeights {
    struct Layer {
        let qkvWeight, qkvBias, attentionOutputWeight, attentionOutputBias, attentionNormWeight, attentionNormBias: DeviceTensor
        let intermediateWeight, intermediateBias, outputWeight, outputBias, outputNormWeight, outputNormBias: DeviceTensor
    }
    let word, position, tokenType, embeddingNormWeight, embeddingNormBias: DeviceTensor
    let layers: [Layer]
    let transformWeight, transformBias, transformNormWeight, transformNormBias: DeviceTensor
    /// nil when the decoder is tied to the word embeddings.
    let untiedDecoder: DeviceTensor?
    let decoderBias: DeviceTensor
    var decoder: DeviceTensor { untiedDecoder ?? word }

    private let storage: DeviceBuffer<Float>
    /// The whole storage, and its two parts: the tensors with weight decay and those without.
    let all, decaying, notDecaying: DeviceTensor
    /// Every tensor with its weight-decay flag, in the order of BertWeights.forEachParameter (so the
    /// two line up for transfers; CUDAPathTests checks that a round trip is the identity).
    let tensors: [(tensor: DeviceTensor, decays: Bool)]

    /// `weights` uploaded, or (`zeroed`) zero tensors of its shapes.
    init(_ weights: BertWeights, zeroed: Bool = false) throws(SpladeError) {
        var shapes: [(count: Int, decays: Bool)] = []
        var copy = weights
        copy.forEachParameter { values, decays in shapes.append((values.count, decays)) }
        let decayingCount = shapes.filter(\.decays).reduce(0) { $0 + $1.count }
        let total = shapes.reduce(0) { $0 + $1.count }
        storage = try DeviceBuffer<Float>(count: total)
        let base = storage.pointer
        all = DeviceTensor(pointer: base, count: total)
        decaying = DeviceTensor(pointer: base, count: decayingCount)
        notDecaying = DeviceTensor(pointer: base + decayingCount, count: total - decayingCount)
        var offsets = (decaying: 0, notDecaying: decayingCount)
        tensors = shapes.map { shape in
            let offset = shape.decays ? offsets.decaying : offsets.notDecaying
            if shape.decays { offsets.decaying += shape.count } else { offsets.notDecaying += shape.count }
            return (DeviceTensor(pointer: base + offset, count: shape.count), shape.decays)
        }
        // The named tensors, in forEachParameter's order.
        var views = tensors.map(\.tensor).makeIterator()
        func next() -> DeviceTensor { views.next()! }
        word = next()
        position = next()
        tokenType = next()
        embeddingNormWeight = next()
        embeddingNormBias = next()
        layers = weights.layers.map { _ in
            Layer(qkvWeight: next(), qkvBias: next(), attentionOutputWeight: next(), attentionOutputBias: next(),
                  attentionNormWeight: next(), attentionNormBias: next(), intermediateWeight: next(), intermediateBias: next(),
                  outputWeight: next(), outputBias: next(), outputNormWeight: next(), outputNormBias: next())
        }
        transformWeight = next()
        transformBias = next()
        transformNormWeight = next()
        transformNormBias = next()
        untiedDecoder = weights.untiedDecoder == nil ? nil : next()
        decoderBias = next()
        if zeroed { try zero() } else { try upload(weights) }
    }

    /// The tensors copied back into a BertWeights of the same shapes as `like`.
    func download(like: BertWeights) throws(SpladeError) -> BertWeights {
        var result = like
        try pair(&result) { values, tensor throws(SpladeError) in values = try tensor.download() }
        return result
    }

    /// Overwrites every tensor with `weights` (same shapes).
    func upload(_ weights: BertWeights) throws(SpladeError) {
        var copy = weights
        try pair(&copy) { values, tensor throws(SpladeError) in try tensor.upload(values) }
    }

    /// Runs `transfer` on each host tensor of `weights` with its device tensor, in order, up to the first error.
    private func pair(_ weights: inout BertWeights,
                      _ transfer: (inout [Float], DeviceTensor) throws(SpladeError) -> Void) throws(SpladeError) {
        var index = 0, failure: SpladeError?
        weights.forEachParameter { values, _ in
            defer { index += 1 }
            guard failure == nil else { return }
            do throws(SpladeError) { try transfer(&values, tensors[index].tensor) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    func zero() throws(SpladeError) {
        try CUDADevice.check(splade_cuda_zero(all.pointer, all.count * MemoryLayout<Float>.stride), "zeroing")
    }
}

/// bfloat16 copies of the parameters (--precision bf16), converted in one launch into one allocation at the
/// same offsets. Products read the matrices' copies (every weight matrix and embedding, the decoder among them);
/// encoding's bfloat16-output products also read the biases' copies, as torch.autocast rounds a Linear's bias.
/// The trainer refreshes the copies after each optimizer step; the float32 tensors remain the master weights.
final class DeviceBF16Weights {
    private let source: DeviceBertWeights
    private let storage: DeviceBuffer<UInt16>

    init(_ weights: DeviceBertWeights) throws(SpladeError) {
        source = weights
        storage = try DeviceBuffer<UInt16>(count: weights.all.count)
        try refresh()
    }

    /// Converts the float32 weights again (after they changed).
    func refresh() throws(SpladeError) {
        try CUDAOps.check(splade_cuda_to_bf16(source.all.pointer, source.all.count, storage.pointer), "bfloat16 weights")
    }

    /// The bfloat16 copy of `tensor`, one of the weights' tensors.
    subscript(_ tensor: DeviceTensor) -> UnsafePointer<UInt16> {
        let offset = source.all.pointer.distance(to: tensor.pointer)
        precondition(offset >= 0 && offset + tensor.count <= source.all.count, "not a tensor of these weights")
        return UnsafePointer(storage.pointer + offset)
    }
}
#endif
