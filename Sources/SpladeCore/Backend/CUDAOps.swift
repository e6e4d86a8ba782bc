#if CUDA
import CSpladeCUDA

/// The GPU counterparts of SpladeCore/Ops over device pointers (row-major float32, as on the CPU):
/// the steps the GPU encoder and the GPU training pass share. Work is queued in order on one stream,
/// so a scratch buffer may be reused by the next call without waiting.
enum CUDAOps {
    static func check(_ status: Int32, _ what: @autoclosure () -> String) throws(SpladeError) {
        try CUDADevice.check(status, what())
    }

    /// bfloat16 products (--precision bf16), as torch.autocast multiplies: the weights' bfloat16 copies, and the
    /// other operands kept in bfloat16 from the step that made them, or (float32 ones, such as LayerNorm's outputs
    /// in training and the gradients) copied into `scratch` just before the product; float32 sums, and float32 for
    /// the residual stream, LayerNorm and gradients' accumulation.
    struct BFloat16 {
        let weights: DeviceBF16Weights
        let scratch = DeviceScratch<UInt16>()

        /// `x` widened into `y` (exactly).
        func widen(_ x: UnsafePointer<UInt16>, count: Int, into y: UnsafeMutablePointer<Float>) throws(SpladeError) {
            try check(splade_cuda_from_bf16(x, count, y), "bfloat16 to float32")
        }

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

    /// Y = bfloat16(X·Wᵀ + b) from bfloat16 X, the bias's bfloat16 copy added, as autocast's Linear writes it (bf16:
    /// a product whose output only steps in bfloat16 read).
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

    /// One group of attention products per sequence (its heads) in one grouped call of the C function for `Group`'s
    /// element types: `make(start, length, probabilities offset)` gives the group's shape and its operands' offsets in
    /// elements from `a`, `b`, `c`.
    private static func grouped<Group: GemmGroup>(_ batch: DeviceBatch, transposeA: Bool = false, transposeB: Bool = false,
                                                  alpha: Float = 1, a: UnsafePointer<Group.Input>,
                                                  b: UnsafePointer<Group.Input>, c: UnsafeMutablePointer<Group.Output>,
                                                  as _: Group.Type, _ what: String, _ make: Product.Maker) throws(SpladeError) {
        let groups: [Group] = batch.packing.lengths.enumerated().map { s, length in
            make(batch.packing.offsets[s], length, batch.probabilityOffsets[s]).group(a: a, b: b, c: c)
        }
        try multiply(groups, transposeA: transposeA, transposeB: transposeB, alpha: alpha, what)
    }

    /// C = alpha · A B of every group in one call (beta 0).
    private static func multiply<Group: GemmGroup>(_ groups: [Group], transposeA: Bool = false, transposeB: Bool = false,
                                                   alpha: Float = 1, _ what: String) throws(SpladeError) {
        let status = groups.withUnsafeBufferPointer {
            Group.multiply(transposeA ? 1 : 0, transposeB ? 1 : 0, alpha, 0, $0.baseAddress, Int32($0.count))
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

        /// One sequence's products (its rows start ..< start + l of the packed batch, its probabilities at `offset`).
        typealias Maker = (_ start: Int, _ l: Int, _ offset: Int) -> Product

        /// Per head, d-wide blocks of the packed rows times d-wide blocks transposed, into the probabilities' layout
        /// ([l×l] a head, DeviceBatch.headStride(l) apart): A's block at column `a` of rows `lda` wide, B's at column
        /// `b` of rows `ldb` wide.
        static func rowsByRows(_ config: BertConfig, a: Int, lda: Int, b: Int, ldb: Int) -> Maker {
            let n = config.heads, d = config.hiddenSize / n
            return { start, l, offset in
                Product(heads: n, m: l, n: l, k: d, a: start * lda + a, lda: lda, strideA: d, b: start * ldb + b, ldb: ldb,
                        strideB: d, c: offset, ldc: l, strideC: DeviceBatch.headStride(l))
            }
        }

        /// Per head, an [l×l] block of the probabilities' layout times a d-wide block of the packed rows (at column
        /// `b` of rows `ldb` wide), into a d-wide block (at column `c` of rows `ldc` wide).
        static func probabilitiesByRows(_ config: BertConfig, b: Int, ldb: Int, c: Int, ldc: Int) -> Maker {
            let n = config.heads, d = config.hiddenSize / n
            return { start, l, offset in
                Product(heads: n, m: l, n: d, k: l, a: offset, lda: l, strideA: DeviceBatch.headStride(l),
                        b: start * ldb + b, ldb: ldb, strideB: d, c: start * ldc + c, ldc: ldc, strideC: d)
            }
        }
    }

    /// The six attention products over QKV rows [T, 3H] (Q, K, V side by side), the context and its gradient [T, H],
    /// and the probabilities' layout: forward S = QKᵀ and context = P V; backward dV = Pᵀ dC (transposed A),
    /// dP = dC Vᵀ, dQ = dS K and dK = dSᵀ Q (transposed A), dV, dQ and dK into their parts of dQKV [T, 3H].
    private struct AttentionProducts {
        let scores, context, values, probabilities, queries, keys: Product.Maker

        init(_ config: BertConfig) {
            let h = config.hiddenSize
            scores = Product.rowsByRows(config, a: 0, lda: 3 * h, b: h, ldb: 3 * h)
            context = Product.probabilitiesByRows(config, b: 2 * h, ldb: 3 * h, c: 0, ldc: h)
            values = Product.probabilitiesByRows(config, b: 0, ldb: h, c: 2 * h, ldc: 3 * h)
            probabilities = Product.rowsByRows(config, a: 0, lda: h, b: 2 * h, ldb: 3 * h)
            queries = Product.probabilitiesByRows(config, b: h, ldb: 3 * h, c: 0, ldc: 3 * h)
            keys = Product.probabilitiesByRows(config, b: 0, ldb: 3 * h, c: h, ldc: 3 * h)
        }
    }

    /// 1/√d, attention's scale.
    private static func scale(_ config: BertConfig) -> Float { 1 / Float(config.hiddenSize / config.heads).squareRoot() }

    /// P ⊙ mask into `dropped` with dropout, else P itself.
    private static func dropped(_ probabilities: UnsafePointer<Float>, batch: DeviceBatch,
                                _ dropout: (mask: DropoutMask, dropped: UnsafeMutablePointer<Float>)?) throws(SpladeError)
        -> UnsafePointer<Float> {
        guard let dropout else { return probabilities }
        try dropout.mask.apply(probabilities, blocks: batch, into: dropout.dropped)
        return UnsafePointer(dropout.dropped)
    }

    /// Attention.forward for every head of every sequence of `batch`: P = softmax(QKᵀ/√d) per head into
    /// `probabilities` (batch.probabilityCount floats), then context = P V, or (P ⊙ mask) V with dropout
    /// (P ⊙ mask in `dropped`, as large). Two grouped products and one block softmax for the batch.
    static func attention(qkv: UnsafePointer<Float>, batch: DeviceBatch, probabilities: UnsafeMutablePointer<Float>,
                          context: UnsafeMutablePointer<Float>,
                          dropout: (mask: DropoutMask, dropped: UnsafeMutablePointer<Float>)?) throws(SpladeError) {
        let products = AttentionProducts(batch.config), f32 = splade_cuda_gemm_group.self
        try grouped(batch, transposeB: true, alpha: scale(batch.config), a: qkv, b: qkv, c: probabilities, as: f32,
                    "attention scores", products.scores)
        try softmax(probabilities, batch: batch)
        try grouped(batch, a: try dropped(probabilities, batch: batch, dropout), b: qkv, c: context, as: f32, "attention context",
                    products.context)
    }

    /// Attention.forward of training in bf16, as PyTorch's fused attention under torch.autocast: the scores QKᵀ/√d
    /// from bfloat16 QKV (as autocast's Linear writes it) into `probabilities` in float32, the float32 softmax there
    /// (and dropout, into `dropped`), then context = bfloat16(P' V) with a bfloat16 copy of P' into `context` (which
    /// the output product and its backward read).
    static func attention(qkv: UnsafePointer<UInt16>, batch: DeviceBatch, probabilities: UnsafeMutablePointer<Float>,
                          context: UnsafeMutablePointer<UInt16>,
                          dropout: (mask: DropoutMask, dropped: UnsafeMutablePointer<Float>)?,
                          bf16: BFloat16) throws(SpladeError) {
        let products = AttentionProducts(batch.config), half = splade_cuda_gemm_group_bf16_out.self
        let count = batch.probabilityCount
        try grouped(batch, transposeB: true, alpha: scale(batch.config), a: qkv, b: qkv, c: probabilities,
                    as: splade_cuda_gemm_group_bf16.self, "attention scores (bf16)", products.scores)
        try softmax(probabilities, batch: batch)
        let halfP = try bf16.copy(try dropped(probabilities, batch: batch, dropout), count: count, "probabilities")
        try grouped(batch, a: halfP, b: qkv, c: context, as: half, "attention context (bf16)", products.context)
    }

    /// Attention.forward of encoding in bf16, in bfloat16 throughout as under torch.autocast: the scores QKᵀ/√d
    /// rounded into `probabilities` (batch.probabilityCount entries), the block softmax over them in place, and the
    /// context P V rounded into `context` ([T, H], the input of the output product).
    static func attention(qkv: UnsafePointer<UInt16>, batch: DeviceBatch, probabilities: UnsafeMutablePointer<UInt16>,
                          context: UnsafeMutablePointer<UInt16>) throws(SpladeError) {
        let products = AttentionProducts(batch.config), half = splade_cuda_gemm_group_bf16_out.self
        try grouped(batch, transposeB: true, alpha: scale(batch.config), a: qkv, b: qkv, c: probabilities, as: half,
                    "attention scores (bf16)", products.scores)
        try check(splade_cuda_softmax_blocks_bf16(probabilities, batch.blockOffsets, batch.lengths,
                                                  Int32(batch.packing.lengths.count), Int32(batch.config.heads),
                                                  Int32(batch.softmaxRows)), "softmax (bf16)")
        try grouped(batch, a: UnsafePointer(probabilities), b: qkv, c: context, as: half, "attention context (bf16)",
                    products.context)
    }

    /// `attention` of encoding in bf16 over the padded layout (batch.paddedLength = P, a multiple of 8): per sequence
    /// and head, the P×P scores of its rows and the P − L after them (the next sequence's, or rows past the batch's:
    /// finite, and masked) into `scores` (batch.paddedScoreCount entries), all in one product of one shape; the softmax
    /// of each row's first L entries with zeros elsewhere (rows past L all zeros); the context P·V over all P columns
    /// (the zeros take nothing from the rows past L) into `padded` ([sequences × P, H]), whose first L rows a sequence
    /// go back to the packed `context`. The packed layout's one group a sequence becomes one batched product.
    static func paddedAttention(qkv: UnsafePointer<UInt16>, batch: DeviceBatch, length p: Int,
                                scores: UnsafeMutablePointer<UInt16>, padded: UnsafeMutablePointer<UInt16>,
                                context: UnsafeMutablePointer<UInt16>) throws(SpladeError) {
        let c = batch.config, h = c.hiddenSize, n = c.heads, d = h / n, count = batch.packing.lengths.count
        let starts = batch.packing.offsets.dropLast(), block = n * p * p, products = AttentionProducts(c)
        let scoreGroups: [splade_cuda_gemm_group_bf16_out] = starts.enumerated().map { s, start in
            products.scores(start, p, s * block).group(a: qkv, b: qkv, c: scores)
        }
        try multiply(scoreGroups, transposeB: true, alpha: scale(c), "attention scores (bf16, padded)")
        try check(splade_cuda_softmax_padded_bf16(scores, batch.lengths, Int32(count), Int32(n), Int32(p)),
                  "softmax (bf16, padded)")
        let contextGroups: [splade_cuda_gemm_group_bf16_out] = starts.enumerated().map { s, start in
            Product(heads: n, m: p, n: d, k: p, a: s * block, lda: p, strideA: p * p, b: start * 3 * h + 2 * h, ldb: 3 * h,
                    strideB: d, c: s * p * h, ldc: h, strideC: d).group(a: UnsafePointer(scores), b: qkv, c: padded)
        }
        try multiply(contextGroups, "attention context (bf16, padded)")
        try check(splade_cuda_unpad_rows_bf16(padded, Int32(p), batch.starts, Int32(count),
                                              Int32(batch.packing.tokens), Int32(h), context), "attention context (unpadding)")
    }

    /// Attention.backward for every head of every sequence, into dQKV (overwritten):
    /// dV = P'ᵀ dC, dP = (dC Vᵀ) ⊙ mask, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = s·dS K, dK = s·dSᵀ Q
    /// (P' = P ⊙ mask; no mask without dropout). `scratch` and `dropped` hold batch.probabilityCount floats each.
    static func attentionBackward(dContext: UnsafePointer<Float>, qkv: UnsafePointer<Float>, batch: DeviceBatch,
                                  probabilities: UnsafePointer<Float>, mask: DropoutMask?,
                                  dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                  dropped: UnsafeMutablePointer<Float>) throws(SpladeError) {
        let products = AttentionProducts(batch.config), f32 = splade_cuda_gemm_group.self, s = scale(batch.config)
        let used = try Self.dropped(probabilities, batch: batch, mask.map { ($0, dropped) })
        try grouped(batch, transposeA: true, a: used, b: dContext, c: dQKV, as: f32, "attention backward (values)", products.values)
        try grouped(batch, transposeB: true, a: dContext, b: qkv, c: scratch, as: f32, "attention backward (probabilities)",
                    products.probabilities)
        try softmaxBackward(probabilities, scratch, mask: mask, batch: batch)
        try grouped(batch, alpha: s, a: scratch, b: qkv, c: dQKV, as: f32, "attention backward (queries)", products.queries)
        try grouped(batch, transposeA: true, alpha: s, a: scratch, b: qkv, c: dQKV, as: f32, "attention backward (keys)",
                    products.keys)
    }

    /// `attentionBackward` of training in bf16, as PyTorch's fused attention under torch.autocast: the four products
    /// read bfloat16 QKV and bfloat16 copies of P', dC and dS; dP stays float32 (into `scratch`) for the float32
    /// softmax backward, while dV, dQ and dK, gradients of bfloat16 tensors there, are rounded to bfloat16, then
    /// widened into `dQKV`.
    static func attentionBackward(dContext: UnsafePointer<Float>, qkv: UnsafePointer<UInt16>, batch: DeviceBatch,
                                  probabilities: UnsafePointer<Float>, mask: DropoutMask?,
                                  dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                                  dropped: UnsafeMutablePointer<Float>, bf16: BFloat16) throws(SpladeError) {
        let products = AttentionProducts(batch.config), half = splade_cuda_gemm_group_bf16_out.self, s = scale(batch.config)
        let t = batch.packing.tokens, h = batch.config.hiddenSize, count = batch.probabilityCount
        let halfDC = try bf16.copy(dContext, count: t * h, "dContext")
        let halfP = try bf16.copy(try Self.dropped(probabilities, batch: batch, mask.map { ($0, dropped) }), count: count,
                                  "probabilities")
        let halfDQKV = try bf16.scratch("dQKV", t * 3 * h)
        try grouped(batch, transposeA: true, a: halfP, b: halfDC, c: halfDQKV, as: half, "attention backward (values, bf16)",
                    products.values)
        try grouped(batch, transposeB: true, a: halfDC, b: qkv, c: scratch, as: splade_cuda_gemm_group_bf16.self,
                    "attention backward (probabilities, bf16)", products.probabilities)
        try softmaxBackward(probabilities, scratch, mask: mask, batch: batch)
        // dS replaces P' in the bfloat16 scratch (the products above are queued before this copy).
        let halfDS = try bf16.copy(scratch, count: count, "probabilities")
        try grouped(batch, alpha: s, a: halfDS, b: qkv, c: halfDQKV, as: half, "attention backward (queries, bf16)",
                    products.queries)
        try grouped(batch, transposeA: true, alpha: s, a: halfDS, b: qkv, c: halfDQKV, as: half,
                    "attention backward (keys, bf16)", products.keys)
        try bf16.widen(halfDQKV, count: t * 3 * h, into: dQKV)
    }

    /// dP (in `gradient`) ⊙ mask, then dS = P ⊙ (dP − rowsum(dP ⊙ P)) in place, row by row.
    private static func softmaxBackward(_ probabilities: UnsafePointer<Float>, _ gradient: UnsafeMutablePointer<Float>,
                                        mask: DropoutMask?, batch: DeviceBatch) throws(SpladeError) {
        try mask?.apply(gradient, blocks: batch)
        try check(splade_cuda_softmax_backward_blocks(probabilities, gradient, batch.blockOffsets, batch.lengths,
                                                      Int32(batch.packing.lengths.count), Int32(batch.config.heads),
                                                      Int32(batch.softmaxRows)), "softmax backward")
    }

    /// The block softmax of a batch's attention scores, in place.
    private static func softmax(_ scores: UnsafeMutablePointer<Float>, batch: DeviceBatch) throws(SpladeError) {
        try check(splade_cuda_softmax_blocks(scores, batch.blockOffsets, batch.lengths,
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
            try copy(source, count: count, into: destination)
            try apply(destination, count: count)
        }

        /// `source` ⊙ mask into `destination` over a batch's attention probabilities, as `apply(_:blocks:)`.
        func apply(_ source: UnsafePointer<Float>, blocks batch: DeviceBatch,
                   into destination: UnsafeMutablePointer<Float>) throws(SpladeError) {
            try copy(source, count: batch.probabilityCount, into: destination)
            try apply(destination, blocks: batch)
        }

        private func copy(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutablePointer<Float>)
            throws(SpladeError) {
            try check(splade_cuda_copy_device(destination, source, count * MemoryLayout<Float>.stride), "dropout")
        }

        /// x ⊙ mask, in place, over a batch's attention probabilities: the mask of their CPU layout, without the gaps
        /// between heads (batch.probabilityDrawCount draws).
        func apply(_ x: UnsafeMutablePointer<Float>, blocks batch: DeviceBatch) throws(SpladeError) {
            try check(splade_cuda_dropout_blocks(x, batch.blockOffsets, batch.dropoutDraws,
                                                 batch.lengths, Int32(batch.packing.lengths.count),
                                                 Int32(batch.config.heads), Int32(batch.softmaxRows), seed, counter,
                                                 probability), "attention dropout")
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
/// reallocation's cudaFree waits for the GPU) and kept between them. A new buffer is zeroed: what no kernel
/// writes (the padding between attention's heads) is still read by whole-buffer copies, and never uninitialised.
final class DeviceScratch<Element> {
    private var buffers: [String: DeviceBuffer<Element>] = [:]

    func callAsFunction(_ name: String, _ count: Int) throws(SpladeError) -> UnsafeMutablePointer<Element> {
        if let existing = buffers[name], existing.count >= count { return existing.pointer }
        buffers[name] = nil
        let grown = try DeviceBuffer<Element>(count: max(count + count / 4, 1024))
        try CUDAOps.check(splade_cuda_zero(grown.pointer, grown.count * MemoryLayout<Element>.stride), "zeroing \(name)")
        buffers[name] = grown
        return grown.pointer
    }
}
#endif
