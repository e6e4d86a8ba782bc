#if CUDA
import CSpladeCUDA

/// The GPU counterparts of SpladeCore/Ops over device pointers (row-major float32, as on the CPU):
/// the steps the GPU encoder and the GPU training pass share. Work is queued in order on one stream,
/// so a scratch buffer may be reused by the next call without waiting.
enum CUDAOps {
    static func check(_ status: Int32, _ what: @autoclosure () -> String) throws(SpladeError) {
        try CUDADevice.check(status, what())
    }

    /// Y[rows×out] = X·Wᵀ + b, as Linear.forward (the bias rows first, then the product added, beta = 1).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: DeviceTensor,
                       bias: DeviceTensor, outputs: Int, into y: UnsafeMutablePointer<Float>) throws(SpladeError) {
        try check(splade_cuda_fill_rows(y, bias.pointer, Int32(rows), Int32(outputs)), "bias")
        try check(splade_cuda_sgemm(0, 1, Int32(rows), Int32(outputs), Int32(inputs), 1, x, Int32(inputs), weight.pointer,
                                    Int32(inputs), 1, y, Int32(outputs)), "linear")
    }

    /// Linear.backward: dX = dY·W (overwritten), dW += dYᵀ·X, db += Σ_rows dY.
    static func linearBackward(_ dy: UnsafePointer<Float>, rows: Int, inputs: Int, outputs: Int, x: UnsafePointer<Float>,
                               weight: DeviceTensor, dx: UnsafeMutablePointer<Float>, dWeight: DeviceTensor,
                               dBias: DeviceTensor) throws(SpladeError) {
        let (r, i, o) = (Int32(rows), Int32(inputs), Int32(outputs))
        try check(splade_cuda_sgemm(0, 0, r, i, o, 1, dy, o, weight.pointer, i, 0, dx, i), "linear backward (input)")
        try check(splade_cuda_sgemm(1, 0, o, i, r, 1, dy, o, x, i, 1, dWeight.pointer, i), "linear backward (weight)")
        try check(splade_cuda_bias_backward(dy, r, o, dBias.pointer), "linear backward (bias)")
    }

    /// LayerNorm of each row in place (after adding `residual`), keeping x̂ and 1/σ when asked.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, residual: UnsafePointer<Float>? = nil,
                          weight: DeviceTensor, bias: DeviceTensor, epsilon: Float,
                          normalized: UnsafeMutablePointer<Float>? = nil,
                          inverseStd: UnsafeMutablePointer<Float>? = nil) throws(SpladeError) {
        try check(splade_cuda_layernorm_forward(x, Int32(rows), Int32(cols), residual, weight.pointer, bias.pointer, epsilon,
                                                normalized, inverseStd), "LayerNorm")
    }

    /// LayerNorm.backward: dX (may alias dY), dγ += Σ dY·x̂, dβ += Σ dY.
    static func layerNormBackward(_ dy: UnsafePointer<Float>, rows: Int, cols: Int, normalized: UnsafePointer<Float>,
                                  inverseStd: UnsafePointer<Float>, weight: DeviceTensor, dx: UnsafeMutablePointer<Float>,
                                  dWeight: DeviceTensor, dBias: DeviceTensor) throws(SpladeError) {
        try check(splade_cuda_layernorm_backward(dy, Int32(rows), Int32(cols), normalized, inverseStd, weight.pointer, dx,
                                                 dWeight.pointer, dBias.pointer), "LayerNorm backward")
    }

    /// The packed layout of a batch: sequence s has rows offsets[s] ..< offsets[s + 1].
    struct Packing {
        let offsets: [Int]
        var lengths: [Int] { zip(offsets.dropFirst(), offsets).map { $0 - $1 } }
        var tokens: Int { offsets.last! }
        var longest: Int { lengths.max() ?? 0 }
    }

    /// Attention.forward for every head of every sequence: P = softmax(QKᵀ/√d) per head into
    /// `probabilities` (sequence s's heads × L × L at probabilityOffsets[s]; offsets may repeat to
    /// reuse one buffer), then context = P V, or (P ⊙ mask) V with dropout (the masked copy in `dropped`,
    /// heads × L² of scratch). Each sequence is two strided-batched products over its heads.
    static func attention(qkv: UnsafePointer<Float>, packing: Packing, hidden h: Int, heads: Int,
                          probabilities: UnsafeMutablePointer<Float>, probabilityOffsets: [Int],
                          context: UnsafeMutablePointer<Float>,
                          dropout: (mask: UnsafePointer<Float>, dropped: UnsafeMutablePointer<Float>)?) throws(SpladeError) {
        let d = h / heads, scale = 1 / Float(d).squareRoot(), stride = Int32(3 * h)
        for (s, length) in packing.lengths.enumerated() {
            let q = qkv + packing.offsets[s] * 3 * h, p = probabilities + probabilityOffsets[s]
            let l = Int32(length), ll = Int64(length * length)
            try check(splade_cuda_sgemm_strided_batched(0, 1, l, l, Int32(d), scale, q, stride, Int64(d), q + h, stride,
                                                        Int64(d), 0, p, l, ll, Int32(heads)), "attention scores")
            try check(splade_cuda_softmax_rows(p, Int32(heads * length), l), "softmax")
            var used = UnsafePointer(p)
            if let dropout {
                let count = heads * length * length
                try check(splade_cuda_copy_device(dropout.dropped, p, count * 4), "attention dropout")
                try check(splade_cuda_multiply(dropout.dropped, dropout.mask + probabilityOffsets[s], count), "attention dropout")
                used = UnsafePointer(dropout.dropped)
            }
            try check(splade_cuda_sgemm_strided_batched(0, 0, l, Int32(d), l, 1, used, l, ll, q + 2 * h, stride, Int64(d), 0,
                                                        context + packing.offsets[s] * h, Int32(h), Int64(d), Int32(heads)),
                      "attention context")
        }
    }

    /// Attention.backward for every head of every sequence, into dQKV (overwritten):
    /// dV = P'ᵀ dC, dP = (dC Vᵀ) ⊙ mask, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = s·dS K, dK = s·dSᵀ Q
    /// (P' = P ⊙ mask; no mask without dropout). `scratch` and `dropped` hold heads × L² floats each.
    static func attentionBackward(dContext: UnsafePointer<Float>, qkv: UnsafePointer<Float>, packing: Packing, hidden h: Int,
                                  heads: Int, probabilities: UnsafePointer<Float>, probabilityOffsets: [Int],
                                  mask: UnsafePointer<Float>?, dQKV: UnsafeMutablePointer<Float>,
                                  scratch: UnsafeMutablePointer<Float>, dropped: UnsafeMutablePointer<Float>) throws(SpladeError) {
        let d = h / heads, scale = 1 / Float(d).squareRoot(), stride = Int32(3 * h), dd = Int64(d)
        for (s, length) in packing.lengths.enumerated() {
            let start = packing.offsets[s], count = heads * length * length
            let q = qkv + start * 3 * h, dq = dQKV + start * 3 * h, dc = dContext + start * h
            let p = probabilities + probabilityOffsets[s]
            let l = Int32(length), ll = Int64(length * length)
            var used = p
            if let mask {
                try check(splade_cuda_copy_device(dropped, p, count * 4), "attention dropout")
                try check(splade_cuda_multiply(dropped, mask + probabilityOffsets[s], count), "attention dropout")
                used = UnsafePointer(dropped)
            }
            try check(splade_cuda_sgemm_strided_batched(1, 0, l, Int32(d), l, 1, used, l, ll, dc, Int32(h), dd, 0,
                                                        dq + 2 * h, stride, dd, Int32(heads)), "attention backward (values)")
            try check(splade_cuda_sgemm_strided_batched(0, 1, l, l, Int32(d), 1, dc, Int32(h), dd, q + 2 * h, stride, dd, 0,
                                                        scratch, l, ll, Int32(heads)), "attention backward (probabilities)")
            if let mask {
                try check(splade_cuda_multiply(scratch, mask + probabilityOffsets[s], count), "attention dropout backward")
            }
            try check(splade_cuda_softmax_backward(p, scratch, Int32(heads * length), l), "softmax backward")
            try check(splade_cuda_sgemm_strided_batched(0, 0, l, Int32(d), l, scale, scratch, l, ll, q + h, stride, dd, 0,
                                                        dq, stride, dd, Int32(heads)), "attention backward (queries)")
            try check(splade_cuda_sgemm_strided_batched(1, 0, l, Int32(d), l, scale, scratch, l, ll, q, stride, dd, 0,
                                                        dq + h, stride, dd, Int32(heads)), "attention backward (keys)")
        }
    }
}

/// Device scratch buffers by name, grown as batches need and kept between them.
final class DeviceScratch {
    private var buffers: [String: DeviceBuffer<Float>] = [:]

    func callAsFunction(_ name: String, _ count: Int) throws(SpladeError) -> UnsafeMutablePointer<Float> {
        if let existing = buffers[name], existing.count >= count { return existing.pointer }
        buffers[name] = nil
        let grown = try DeviceBuffer<Float>(count: max(count, 1024))
        buffers[name] = grown
        return grown.pointer
    }
}
#endif
