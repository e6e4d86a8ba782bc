/// Linear layer, PyTorch's `nn.Linear`: Y[T×out] = X[T×in] · Wᵀ + b, with W stored [out, in].
///
/// The bias is written into Y first and the product accumulated onto it (beta = 1), so the
/// addition costs no extra pass.
enum Linear {
    static func forward(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>, outputs: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        parallelChunks(rows, threads: threads, minimumChunk: 64) { range in
            for r in range { (y + r * outputs).update(from: bias, count: outputs) }
        }
        BLAS.gemm(transposeB: true, m: rows, n: outputs, k: inputs, a: x, lda: inputs, b: weight, ldb: inputs,
                  beta: 1, c: y, ldc: outputs)
    }
}
