#if CUDA
import CSpladeCUDA

/// A tensor inside a DeviceBertWeights' storage (valid while that lives).
struct DeviceTensor {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    func upload(_ values: [Float]) throws(SpladeError) {
        precondition(values.count == count)
        let status = values.withUnsafeBytes { splade_cuda_copy_to_device(pointer, $0.baseAddress, $0.count) }
        try CUDADevice.check(status, "copying to the GPU")
    }

    func download() throws(SpladeError) -> [Float] {
        var status: Int32 = 0
        let values = [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = splade_cuda_copy_to_host(buffer.baseAddress, pointer, count * MemoryLayout<Float>.stride)
            initialized = count
        }
        try CUDADevice.check(status, "copying from the GPU")
        return values
    }
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

/// bfloat16 copies of the weight matrices the encoder multiplies by (--precision bf16), in one allocation;
/// biases, LayerNorm and embeddings stay in the float32 DeviceBertWeights.
final class DeviceBF16Weights {
    struct Layer {
        let qkv, attentionOutput, intermediate, output: UnsafePointer<UInt16>
    }
    let layers: [Layer]
    let transform, decoder: UnsafePointer<UInt16>
    private let storage: DeviceBuffer<UInt16>

    init(_ w: DeviceBertWeights) throws(SpladeError) {
        let matrices = w.layers.flatMap { [$0.qkvWeight, $0.attentionOutputWeight, $0.intermediateWeight, $0.outputWeight] }
            + [w.transformWeight, w.decoder]
        storage = try DeviceBuffer<UInt16>(count: matrices.reduce(0) { $0 + $1.count })
        var views: [UnsafePointer<UInt16>] = []
        var offset = 0
        for matrix in matrices {
            try CUDAOps.bfloat16(matrix.pointer, count: matrix.count, into: storage.pointer + offset)
            views.append(UnsafePointer(storage.pointer + offset))
            offset += matrix.count
        }
        layers = w.layers.indices.map { i in
            Layer(qkv: views[4 * i], attentionOutput: views[4 * i + 1], intermediate: views[4 * i + 2], output: views[4 * i + 3])
        }
        transform = views[4 * w.layers.count]
        decoder = views[4 * w.layers.count + 1]
    }
}
#endif
