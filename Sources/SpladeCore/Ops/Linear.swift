/// Linear layer, PyTorch's `nn.Linear`: Y[T×out] = X[T×in] · Wᵀ + b, with W stored [out, in].
///
/// The bias is written into Y first and the product accumulated onto it (beta = 1), so the
/// addition costs no extra pass.
///
/// The rows are split over our own threads, each running a single-threaded product on its slice:
/// the same arithmetic as one threaded call, but OpenBLAS's worker threads stay asleep instead of
/// spinning between calls on cores the element-wise steps (GELU, LayerNorm, attention) need.
enum Linear {
    static func forward(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>, outputs: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        BLAS.singleThreaded {
            parallelChunks(rows, threads: threads, minimumChunk: 64) { range in
                let first = range.lowerBound
                for r in range { (y + r * outputs).update(from: bias, count: outputs) }
                BLAS.gemm(transposeB: true, m: range.count, n: outputs, k: inputs, a: x + first * inputs, lda: inputs,
                          b: weight, ldb: inputs, beta: 1, c: y + first * outputs, ldc: outputs)
            }
        }
    }

    /// Given dY [T×out]: dX = dY · W (written), dW += dYᵀ · X, db += Σ_rows dY (accumulated).
    static func backward(_ dy: UnsafePointer<Float>, rows: Int, inputs: Int, outputs: Int, x: UnsafePointer<Float>,
                         weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>?,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
        if let dx {
            BLAS.gemm(m: rows, n: inputs, k: outputs, a: dy, lda: outputs, b: weight, ldb: inputs, c: dx, ldc: inputs)
        }
        BLAS.gemm(transposeA: true, m: outputs, n: inputs, k: rows, a: dy, lda: outputs, b: x, ldb: inputs, beta: 1,
                  c: dWeight, ldc: inputs)
        // Column sums in double: a float sum in sequence over thousands of tokens drifts by ~√T·ε.
        var columnSums = [Double](repeating: 0, count: outputs)
        for r in 0..<rows {
            let row = dy + r * outputs
            for j in 0..<outputs { columnSums[j] += Double(row[j]) }
        }
        for j in 0..<outputs { dBias[j] += Float(columnSums[j]) }
    }
}
