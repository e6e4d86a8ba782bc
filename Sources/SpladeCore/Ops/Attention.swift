/// Multi-head self-attention of one sequence, given its packed projections.
///
/// For each head h with Q, K, V the sequence's [L, d] slices: context_h = softmax(Q Kᵀ / √d) V.
/// Sequences are packed without padding, so no mask is needed: that is exactly what attention with
/// a padding mask computes for the real tokens (masked scores get a weight of 0).
enum Attention {
    /// Head `head` of one sequence. `qkv`: its [L, 3H] rows (query | key | value); `context`: its
    /// [L, H] output rows, of which the head writes columns h·d ..< (h+1)·d; `scores`: scratch of L·L floats.
    static func forward(qkv: UnsafePointer<Float>, length: Int, hidden: Int, heads: Int, head: Int,
                        context: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>) {
        let d = hidden / heads
        let stride = 3 * hidden
        let scale = 1 / Float(d).squareRoot()
        let q = qkv + head * d, k = qkv + hidden + head * d, v = qkv + 2 * hidden + head * d
        BLAS.gemm(transposeB: true, m: length, n: length, k: d, alpha: scale, a: q, lda: stride, b: k, ldb: stride,
                  c: scores, ldc: length)
        Softmax.forwardRows(scores, rows: length, cols: length)
        BLAS.gemm(m: length, n: d, k: length, a: scores, lda: length, b: v, ldb: stride, c: context + head * d, ldc: hidden)
    }
}
