import COpenBLAS

/// Matrix products through OpenBLAS (the only file that calls it). Matrices are row-major Float32.
public enum BLAS {
    /// C[m×n] = alpha · op(A) · op(B) + beta · C, where op(X) is X or Xᵀ. `lda`, `ldb`, `ldc` are
    /// row strides of the matrices as stored.
    @inline(__always)
    static func gemm(transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Threads OpenBLAS uses inside one call. Set to 1 while several of our own threads call it at once.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// The kernels OpenBLAS chose for this processor ("Haswell", "SkylakeX", …; OPENBLAS_CORETYPE overrides it),
    /// as `--timings` reports: a sgemm's speed differs about twofold between the AVX2 and AVX-512 ones.
    public static var kernelName: String {
        openblas_get_corename().map { String(cString: $0) } ?? "unknown"
    }

    /// Runs `body` with OpenBLAS single-threaded, for code that calls it from several threads at once.
    static func singleThreaded<R>(_ body: () -> R) -> R {
        let saved = threads
        threads = 1
        defer { threads = saved }
        return body()
    }
}
