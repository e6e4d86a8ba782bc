import Foundation

/// GELU in BERT's exact (erf) form: gelu(x) = x · ½ · (1 + erf(x / √2)). In place.
enum GELU {
    static func forward(_ x: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        parallelChunks(count, threads: threads, minimumChunk: 1 << 14) { range in
            VectorMath.gelu(x + range.lowerBound, count: range.count)
        }
    }

    /// dx = dy · (Φ(x) + x·φ(x)), Φ the normal CDF ½(1 + erf(x/√2)), φ its density e^(−x²/2)/√(2π).
    /// `x` is the input of the forward pass.
    static func backward(_ dy: UnsafePointer<Float>, x: UnsafePointer<Float>, count: Int, dx: UnsafeMutablePointer<Float>) {
        for i in 0..<count {
            let v = x[i]
            let cdf = 0.5 * (1 + erff(v * 0.70710678118654752))
            let pdf = expf(-0.5 * v * v) * 0.39894228040143268
            dx[i] = dy[i] * (cdf + v * pdf)
        }
    }
}
