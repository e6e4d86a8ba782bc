/// Multi-head self-attention of one sequence, given its packed projections.
///
/// For each head h with Q, K, V the sequence's [L, d] slices: context_h = softmax(Q Kᵀ / √d) V.
/// Sequences are packed without padding, so no mask is needed: that is exactly what attention with
/// a padding mask computes for the real tokens (masked scores get a weight of 0).
enum Attention {
    /// Head `head` of one sequence. `qkv`: its [L, 3H] rows (query | key | value); `context`: its
    /// [L, H] output rows, of which the head writes columns h·d ..< (h+1)·d; `scores`: scratch of L·L floats.
    /// `scores` keeps the head's attention probabilities, which the backward pass needs. With
    /// `dropout` (keep-mask scaled by 1/(1−p), L·L, and a scratch of L·L), the context uses the
    /// dropped probabilities, as BERT does in training.
    static func forward(qkv: UnsafePointer<Float>, length: Int, hidden: Int, heads: Int, head: Int,
                        context: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                        dropout: (mask: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>)? = nil) {
        let d = hidden / heads
        let stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let q = qkv + head * d, k = qkv + hidden + head * d, v = qkv + 2 * hidden + head * d
        BLAS.gemm(transposeB: true, m: length, n: length, k: d, alpha: scale, a: q, lda: stride, b: k, ldb: stride,
                  c: scores, ldc: length)
        Softmax.forwardRows(scores, rows: length, cols: length)
        var probabilities = UnsafePointer(scores)
        if let dropout {
            for i in 0..<(length * length) { dropout.scratch[i] = scores[i] * dropout.mask[i] }
            probabilities = UnsafePointer(dropout.scratch)
        }
        BLAS.gemm(m: length, n: d, k: length, a: probabilities, lda: length, b: v, ldb: stride, c: context + head * d, ldc: hidden)
    }

    /// Backward of one head, given dC (the head's columns of `dContext`) and the probabilities P:
    /// dV = P'ᵀ dC, dP = (dC Vᵀ) ⊙ mask, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = s·dS K, dK = s·dSᵀ Q
    /// (s = 1/√d, P' = P ⊙ mask, mask = 1 without dropout), written into the head's columns of dQKV.
    /// `scratch` and `scratch2` hold L·L floats each.
    static func backward(dContext: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
                         length: Int, hidden: Int, heads: Int, head: Int, dQKV: UnsafeMutablePointer<Float>,
                         scratch: UnsafeMutablePointer<Float>, dropoutMask: UnsafePointer<Float>? = nil,
                         scratch2: UnsafeMutablePointer<Float>? = nil) {
        let d = hidden / heads, stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let q = qkv + head * d, k = qkv + hidden + head * d, v = qkv + 2 * hidden + head * d
        let dC = dContext + head * d
        let dQ = dQKV + head * d, dK = dQKV + hidden + head * d, dV = dQKV + 2 * hidden + head * d
        var used = probabilities
        if let dropoutMask, let scratch2 {
            for i in 0..<(length * length) { scratch2[i] = probabilities[i] * dropoutMask[i] }
            used = UnsafePointer(scratch2)
        }
        BLAS.gemm(transposeA: true, m: length, n: d, k: length, a: used, lda: length, b: dC, ldb: hidden,
                  c: dV, ldc: stride)
        BLAS.gemm(transposeB: true, m: length, n: length, k: d, a: dC, lda: hidden, b: v, ldb: stride, c: scratch, ldc: length)
        if let dropoutMask { for i in 0..<(length * length) { scratch[i] *= dropoutMask[i] } }
        for r in 0..<length {
            let p = probabilities + r * length, dp = scratch + r * length
            var dot: Float = 0
            for j in 0..<length { dot += dp[j] * p[j] }
            for j in 0..<length { dp[j] = p[j] * (dp[j] - dot) }
        }
        BLAS.gemm(m: length, n: d, k: length, alpha: scale, a: scratch, lda: length, b: k, ldb: stride, c: dQ, ldc: stride)
        BLAS.gemm(transposeA: true, m: length, n: d, k: length, alpha: scale, a: scratch, lda: length, b: q, ldb: stride,
                  c: dK, ldc: stride)
    }
}
