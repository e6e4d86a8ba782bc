import Foundation

/// GELU in BERT's exact (erf) form: gelu(x) = x · ½ · (1 + erf(x / √2)). In place.
enum GELU {
    static func forward(_ x: UnsafeMutablePointer<Float>, count: Int, threads: Int) {
        parallelChunks(count, threads: threads, minimumChunk: 1 << 14) { range in
            for i in range {
                let v = x[i]
                x[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752))
            }
        }
    }
}
