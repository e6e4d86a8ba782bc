#if CUDA
import CSpladeCUDA

/// The GPU counterparts of SpladeCore/Ops over device pointers (row-major float32, as on the CPU):
/// the steps the GPU encoder and the GPU training pass share. Work is queued in order on one stream,
/// so a scratch buffer may be reused by the next call without waiting.
enum CUDAOps {
    static func check(_ status: Int32, _ what: @autoclosure () -> String) throws(SpladeError) {
        try CUDADevice.check(status, what())
    }

    /// bfloat16 products (--precision bf16), as torch.autocast multiplies: the weights' bfloat16 copies, and
    /// bfloat16 copies of the other operands made in `scratch` just before each product (training), or kept in
    /// bfloat16 from the step that made them (encoding); float32 sums, and float32 for the residual stream,
    /// LayerNorm and gradients' accumulation.
    struct BFloat16 {
        let weights: DeviceBF16Weights
        let scratch = DeviceScratch<UInt16>()

        /// `x` rounded to bfloat16 in scratch buffer `name`.
        func copy(_ x: UnsafePointer<Float>, count: Int, _ name: String) throws(SpladeError) -> UnsafePointer<UInt16> {
            let y = try scratch(name, count)
            try check(splade_cuda_to_bf16(x, count, y), "bfloat16")
            return UnsafePointer(y)
        }
    }

    /// Y[rows×out] = X·Wᵀ + b, as Linear.forward (one product with the bias in its epilogue, or the bias rows first
    /// and the product added, beta = 1: splade_cuda_linear).
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: DeviceTensor, bias: DeviceTensor,
                       outputs: Int, into y: UnsafeMutablePointer<Float>, bf16: BFloat16? = nil) throws(SpladeError) {
        guard let bf16 else {
            return try check(splade_cuda_linear(x, Int32(rows), Int32(inputs), weight.pointer, bias.pointer, Int32(outputs), y),
                             "linear")
        }
        try linear(bf16.copy(x, count: rows * inputs, "input"), rows: rows, inputs: inputs, weight: weight, bias: bias,
                   outputs: outputs, into: y, bf16: bf16)
    }

    /// `linear` of an input already in bfloat16.
    static func linear(_ x: UnsafePointer<UInt16>, rows: Int, inputs: Int, weight: DeviceTensor, bias: DeviceTensor,
                               outputs: Int, into y: UnsafeMutablePointer<Float>, bf16: BFloat16) throws(SpladeError) {
        try check(splade_cuda_linear_bf16(x, Int32(rows), Int32(inputs), bf16.weights[weight], bias.pointer, Int32(outputs), y),
                  "linear (bf16)")
    }

    /// Y = bfloat16(X·Wᵀ + b) from bfloat16 X, the bias's bfloat16 copy added (encoding in bf16: a product whose
    /// output only other steps in bfloat16 read).
    static func linear(_ x: UnsafePointer<UInt16>, rows: Int, inputs: Int, weight: DeviceTensor, bias: DeviceTensor,
                       outputs: Int, into y: UnsafeMutablePointer<UInt16>, bf16: BFloat16) throws(SpladeError) {
        try check(splade_cuda_linear_bf16_out(x, Int32(rows), Int32(inputs), bf16.weights[weight], bf16.weights[bias],
                                              Int32(outputs), y), "linear (bf16 out)")
    }

    /// Linear.backward: dX = dY·W (overwritten), dW += dYᵀ·X, db += Σ_rows dY.
    static func linearBackward(_ dy: UnsafePointer<Float>, rows: Int, inputs: Int, outputs: Int, x: UnsafePointer<Float>,
                               weight: DeviceTensor, dx: UnsafeMutablePointer<Float>, dWeight: DeviceTensor,
                               dBias: DeviceTensor, bf16: BFloat16? = nil) throws(SpladeError) {
        guard let bf16 else {
            let (r, i, o) = (Int32(rows), Int32(inputs), Int32(outputs))
            try check(splade_cuda_sgemm(0, 0, r, i, o, 1, dy, o, weight.pointer, i, 0, dx, i), "linear backward (input)")
            try check(splade_cuda_sgemm(1, 0, o, i, r, 1, dy, o, x, i, 1, dWeight.pointer, i), "linear backward (weight)")
            return try check(splade_cuda_bias_backward(dy, r, o, dBias.pointer), "linear backward (bias)")
        }
        try linearBackward(dy, rows: rows, inputs: inputs, outputs: outputs, x: bf16.copy(x, count: rows * inputs, "x"),
                           weight: weight, dx: dx, dWeight: dWeight, dBias: dBias, bf16: bf16)
    }

    /// `linearBackward` with X kept in bfloat16 by the forward pass (bf16 training).
    static func linearBackward(_ dy: UnsafePointer<Float>, rows: Int, inputs: Int, outputs: Int, x: UnsafePointer<UInt16>,
                               weight: DeviceTensor, dx: UnsafeMutablePointer<Float>, dWeight: DeviceTensor,
                               dBias: DeviceTensor, bf16: BFloat16) throws(SpladeError) {
        let (r, i, o) = (Int32(rows), Int32(inputs), Int32(outputs))
        let dyHalf = try bf16.copy(dy, count: rows * outputs, "dy")
        try check(splade_cuda_gemm_bf16(0, 0, r, i, o, 1, dyHalf, o, bf16.weights[weight], i, 0, dx, i),
                  "linear backward (input, bf16)")
        try check(splade_cuda_gemm_bf16(1, 0, o, i, r, 1, dyHalf, o, x, i, 1, dWeight.pointer, i), "linear backward (weight, bf16)")
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

    /// `layerNorm` (no x̂ or 1/σ kept) with the result also rounded into `copy`, the next product's bfloat16 input.
    static func layerNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, residual: UnsafePointer<Float>? = nil,
                          weight: DeviceTensor, bias: DeviceTensor, epsilon: Float,
                          copy: UnsafeMutablePointer<UInt16>) throws(SpladeError) {
        try check(splade_cuda_layernorm_forward_bf16(x, Int32(rows), Int32(cols), residual, weight.pointer, bias.pointer,
                                                     epsilon, copy), "LayerNorm (bf16 copy)")
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
    }

    /// One group of attention products per sequence (its heads) in one grouped call: `make(start, length,
    /// probabilities offset)` gives the group's shape and its operands' offsets in elements from `a`, `b`, `c`.
    /// With `bfloat16` (copies of the `a` and `b` arrays, same offsets) the products read those instead.
    private static func grouped(_ batch: DeviceBatch, transposeA: Bool, transposeB: Bool, alpha: Float = 1, beta: Float = 0,
                                a: UnsafePointer<Float>, b: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                                bfloat16: (a: UnsafePointer<UInt16>, b: UnsafePointer<UInt16>)? = nil, _ what: String,
                                _ make: (_ start: Int, _ length: Int, _ offset: Int) -> Product) throws(SpladeError) {
        if let bfloat16 {
            try grouped(batch, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, a: bfloat16.a,
                        b: bfloat16.b, c: c, as: splade_cuda_gemm_group_bf16.self, what, make)
        } else {
            try grouped(batch, transposeA: transposeA, transposeB: transposeB, alpha: alpha, beta: beta, a: a, b: b, c: c,
                        as: splade_cuda_gemm_group.self, what, make)
        }
    }

    /// `grouped` with operands and output of the element types of `Group`.
    private static func grouped<Group: GemmGroup>(_ batch: DeviceBatch, transposeA: Bool, transposeB: Bool, alpha: Float = 1,
                                                  beta: Float = 0, a: UnsafePointer<Group.Input>, b: UnsafePointer<Group.Input>,
                                                  c: UnsafeMutablePointer<Group.Output>, as _: Group.Type, _ what: String,
                                                  _ make: (_ start: Int, _ length: Int, _ offset: Int) -> Product) throws(SpladeError) {
        let groups: [Group] = batch.packing.lengths.enumerated().map { s, length in
            make(batch.packing.offsets[s], length, batch.probabilityOffsets[s]).group(a: a, b: b, c: c)
        }
        let status = groups.withUnsafeBufferPointer {
            Group.multiply(transposeA ? 1 : 0, transposeB ? 1 : 0, alpha, beta, $0.baseAddress, Int32($0.count))
        }
        try check(status, what)
    }

    /// A group of `heads` products of row-major sizes m×k · k×n, operands given as offsets (in elements)
    /// from their arrays, head i's matrices `stride` elements apart.
    private struct Product {
        let heads, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC: Int

        func group<Group: GemmGroup>(a base: UnsafePointer<Group.Input>, b other: UnsafePointer<Group.Input>,
                                     c out: UnsafeMutablePointer<Group.Output>) -> Group {
            Group(m: Int32(m), n: Int32(n), k: Int32(k), batch: Int32(heads), a: base + a, lda: Int32(lda),
                  stride_a: Int64(strideA), b: other + b, ldb: Int32(ldb), stride_b: Int64(strideB), c: out + c,
                  ldc: Int32(ldc), stride_c: Int64(strideC))
        }

        /// The forward products of one sequence's heads (rows start ..< start + l of the packed batch, its
        /// probabilities at `offset`): scores S = Q·Kᵀ from the QKV rows, and context = P·V into [T, H].
        static func scores(_ config: BertConfig) -> (_ start: Int, _ l: Int, _ offset: Int) -> Product {
            let h = config.hiddenSize, n = config.heads, d = h / n
            return { start, l, offset in
                Product(heads: n, m: l, n: l, k: d, a: start * 3 * h, lda: 3 * h, strideA: d, b: start * 3 * h + h, ldb: 3 * h,
                        strideB: d, c: offset, ldc: l, strideC: l * l)
            }
        }

        static func context(_ config: BertConfig) -> (_ start: Int, _ l: Int, _ offset: Int) -> Product {
            let h = config.hiddenSize, n = config.heads, d = h / n
            return { start, l, offset in
                Product(heads: n, m: l, n: d, k: l, a: offset, lda: l, strideA: l * l, b: start * 3 * h + 2 * h, ldb: 3 * h,
                        strideB: d, c: start * h, ldc: h, strideC: d)
            }
        }
    }

    /// Attention.forward for every head of every sequence of `batch`: P = softmax(QKᵀ/√d) per head into
    /// `probabilities` (batch.probabilityCount floats), then context = P V, or (P ⊙ mask) V with dropout
    /// (P ⊙ mask in `dropped`, as large). Two grouped products and one block softmax for the batch; with
    /// `bf16` the products read bfloat16 copies of Q, K, V and P.
    static func attention(qkv: UnsafePointer<Float>, batch: DeviceBatch, probabilities: UnsafeMutablePointer<Float>,
                          context: UnsafeMutablePointer<Float>,
                          dropout: (mask: DropoutMask, dropped: UnsafeMutablePointer<Float>)?,
                          bf16: BFloat16? = nil) throws(SpladeError) {
        let h = batch.config.hiddenSize, scale = 1 / Float(h / batch.config.heads).squareRoot()
        let halfQKV = try bf16?.copy(qkv, count: batch.packing.tokens * 3 * h, "qkv")
        try grouped(batch, transposeA: false, transposeB: true, alpha: scale, a: qkv, b: qkv, c: probabilities,
                    bfloat16: halfQKV.map { ($0, $0) }, "attention scores", Product.scores(batch.config))
        try softmax(probabilities, batch: batch)
        var used = UnsafePointer(probabilities)
        if let dropout {
            try dropout.mask.apply(probabilities, count: batch.probabilityCount, into: dropout.dropped)
            used = UnsafePointer(dropout.dropped)
        }
        var halves: (UnsafePointer<UInt16>, UnsafePointer<UInt16>)?
        if let bf16, let halfQKV { halves = (try bf16.copy(used, count: batch.probabilityCount, "probabilities"), halfQKV) }
        try grouped(batch, transposeA: false, transposeB: false, a: used, b: qkv, c: context, bfloat16: halves,
                    "attention context", Product.context(batch.config))
    }

    /// Attention.forward of encoding in bf16, in bfloat16 throughout as under torch.autocast: the scores QKᵀ/√d
    /// rounded into `probabilities` (batch.probabilityCount entries), the block softmax over them in place, and the
    /// context P V rounded into `context` ([T, H], the input of the output product). Every product is a bfloat16
    /// one with a bfloat16 output, the combination cuBLAS's grouped products take.
    static func attention(qkv: UnsafePointer<UInt16>, batch: DeviceBatch, probabilities: UnsafeMutablePointer<UInt16>,
                          context: UnsafeMutablePointer<UInt16>) throws(SpladeError) {
        let scale = 1 / Float(batch.config.hiddenSize / batch.config.heads).squareRoot()
        try grouped(batch, transposeA: false, transposeB: true, alpha: scale, a: qkv, b: qkv, c: probabilities,
                    as: splade_cuda_gemm_group_bf16_out.self, "attention scores (bf16)", Product.scores(batch.config))
        try check(splade_cuda_softmax_blocks_bf16(probabilities, batch.blockOffsets.pointer, batch.lengths.pointer,
                                                  Int32(batch.packing.lengths.count), Int32(batch.config.heads),
                                                  Int32(batch.softmaxRows)), "softmax (bf16)")
        try grouped(batch, transposeA: false, transposeB: false, a: UnsafePointer(probabilities), b: qkv, c: context,
                    as: splade_cuda_gemm_group_bf16_out.self, "attention context (bf16)", Product.context(batch.config))
    }

    /// Attention.backward for every head of every sequence, into dQKV (overwritten):
    /// dV = P'ᵀ dC, dP = (dC Vᵀ) ⊙ mask, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = s·dS K, dK = s·dSᵀ Q
    /// (P' = P ⊙ mask; no mask without dropout). `scratch` and `dropped` hold batch.probabilityCount floats each.
    /// With `bf16` the four products read bfloat16 copies of their operands.
    static func attentionBackward(dContext: UnsafePointer<Float>, qkv: UnsafePointer<Float>, batch: DeviceBatch,
                                  probabilities: UnsafePointer<Float>, mask: DropoutMask?,
                                  dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                  dropped: UnsafeMutablePointer<Float>, bf16: BFloat16? = nil) throws(SpladeError) {
        let h = batch.config.hiddenSize, n = batch.config.heads, d = h / n, scale = 1 / Float(d).squareRoot()
        let t = batch.packing.tokens, count = batch.probabilityCount
        var used = probabilities
        if let mask {
            try mask.apply(probabilities, count: count, into: dropped)
            used = UnsafePointer(dropped)
        }
        let halves = try bf16.map { b throws(SpladeError) in
            (qkv: try b.copy(qkv, count: t * 3 * h, "qkv"), dContext: try b.copy(dContext, count: t * h, "dContext"),
             probabilities: try b.copy(used, count: count, "probabilities"))
        }
        try grouped(batch, transposeA: true, transposeB: false, a: used, b: dContext, c: dQKV,
                    bfloat16: halves.map { ($0.probabilities, $0.dContext) },
                    "attention backward (values)") { start, l, offset in
            Product(heads: n, m: l, n: d, k: l, a: offset, lda: l, strideA: l * l, b: start * h, ldb: h, strideB: d,
                    c: start * 3 * h + 2 * h, ldc: 3 * h, strideC: d)
        }
        try grouped(batch, transposeA: false, transposeB: true, a: dContext, b: qkv, c: scratch,
                    bfloat16: halves.map { ($0.dContext, $0.qkv) }, "attention backward (probabilities)") { start, l, offset in
            Product(heads: n, m: l, n: l, k: d, a: start * h, lda: h, strideA: d, b: start * 3 * h + 2 * h, ldb: 3 * h,
                    strideB: d, c: offset, ldc: l, strideC: l * l)
        }
        if let mask {
            try mask.apply(scratch, count: count)
        }
        try check(splade_cuda_softmax_backward_blocks(probabilities, scratch, batch.blockOffsets.pointer, batch.lengths.pointer,
                                                      Int32(batch.packing.lengths.count), Int32(n), Int32(batch.softmaxRows)),
                  "softmax backward")
        // dS replaces P' in the bfloat16 scratch (the products above are queued before this copy).
        var scoreHalves: (UnsafePointer<UInt16>, UnsafePointer<UInt16>)?
        if let bf16, let halves { scoreHalves = (try bf16.copy(scratch, count: count, "probabilities"), halves.qkv) }
        try grouped(batch, transposeA: false, transposeB: false, alpha: scale, a: scratch, b: qkv, c: dQKV, bfloat16: scoreHalves,
                    "attention backward (queries)") { start, l, offset in
            Product(heads: n, m: l, n: d, k: l, a: offset, lda: l, strideA: l * l, b: start * 3 * h + h, ldb: 3 * h,
                    strideB: d, c: start * 3 * h, ldc: 3 * h, strideC: d)
        }
        try grouped(batch, transposeA: true, transposeB: false, alpha: scale, a: scratch, b: qkv, c: dQKV, bfloat16: scoreHalves,
                    "attention backward (keys)") { start, l, offset in
            Product(heads: n, m: l, n: d, k: l, a: offset, lda: l, strideA: l * l, b: start * 3 * h, ldb: 3 * h,
                    strideB: d, c: start * 3 * h + h, ldc: 3 * h, strideC: d)
        }
    }

    /// The block softmax of a batch's attention scores, in place.
    private static func softmax(_ scores: UnsafeMutablePointer<Float>, batch: DeviceBatch) throws(SpladeError) {
        try check(splade_cuda_softmax_blocks(scores, batch.blockOffsets.pointer, batch.lengths.pointer,
                                             Int32(batch.packing.lengths.count), Int32(batch.config.heads),
                                             Int32(batch.softmaxRows)), "softmax")
    }

    /// A dropout keep-mask as the stream that draws it: `count` values from draw `counter` of SeededRandom(seed:),
    /// regenerated wherever it applies (forward and backward) instead of stored.
    struct DropoutMask {
        let seed: UInt64, counter: UInt64, probability: Float

        /// x ⊙ mask, in place.
        func apply(_ x: UnsafeMutablePointer<Float>, count: Int) throws(SpladeError) {
            try check(splade_cuda_dropout(x, count, seed, counter, probability), "dropout")
        }

        /// `source` ⊙ mask into `destination`.
        func apply(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Float>) throws(SpladeError) {
            try check(splade_cuda_copy_device(destination, source, count * MemoryLayout<Float>.stride), "dropout")
            try apply(destination, count: count)
        }
    }
}

/// The C API's grouped-product groups (float32; bfloat16 operands; bfloat16 operands and output): the same fields
/// over different element types, and the function that multiplies each.
protocol GemmGroup {
    associatedtype Input
    associatedtype Output
    init(m: Int32, n: Int32, k: Int32, batch: Int32, a: UnsafePointer<Input>!, lda: Int32, stride_a: Int64,
         b: UnsafePointer<Input>!, ldb: Int32, stride_b: Int64, c: UnsafeMutablePointer<Output>!, ldc: Int32, stride_c: Int64)
    static func multiply(_ transposeA: Int32, _ transposeB: Int32, _ alpha: Float, _ beta: Float,
                         _ groups: UnsafePointer<Self>?, _ count: Int32) -> Int32
}

extension splade_cuda_gemm_group: GemmGroup {
    static func multiply(_ ta: Int32, _ tb: Int32, _ alpha: Float, _ beta: Float, _ groups: UnsafePointer<Self>?,
                         _ count: Int32) -> Int32 {
        splade_cuda_sgemm_grouped(ta, tb, alpha, beta, groups, count)
    }
}

extension splade_cuda_gemm_group_bf16: GemmGroup {
    static func multiply(_ ta: Int32, _ tb: Int32, _ alpha: Float, _ beta: Float, _ groups: UnsafePointer<Self>?,
                         _ count: Int32) -> Int32 {
        splade_cuda_gemm_grouped_bf16(ta, tb, alpha, beta, groups, count)
    }
}

extension splade_cuda_gemm_group_bf16_out: GemmGroup {
    static func multiply(_ ta: Int32, _ tb: Int32, _ alpha: Float, _ beta: Float, _ groups: UnsafePointer<Self>?,
                         _ count: Int32) -> Int32 {
        splade_cuda_gemm_grouped_bf16_out(ta, tb, alpha, beta, groups, count)
    }
}

/// Device scratch buffers by name, grown as batches need (with a quarter to spare, since every
/// reallocation's cudaFree waits for the GPU) and kept between them.
final class DeviceScratch<Element> {
    private var buffers: [String: DeviceBuffer<Element>] = [:]

    func callAsFunction(_ name: String, _ count: Int) throws(SpladeError) -> UnsafeMutablePointer<Element> {
        if let existing = buffers[name], existing.count >= count { return existing.pointer }
        buffers[name] = nil
        let grown = try DeviceBuffer<Element>(count: max(count + count / 4, 1024))
        buffers[name] = grown
        return grown.pointer
    }
}
#endif
