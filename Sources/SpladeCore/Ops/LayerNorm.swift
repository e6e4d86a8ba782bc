import Foundation

/// Layer normalisation over each row: y = (x − mean) / sqrt(var + ε) · γ + β, with the biased
/// variance (divided by n) as PyTorch computes it. Sums are taken in Double so long rows lose nothing.
/// `residual`, when given, is added to x first (the post-norm BERT block: LN(x + sublayer(x))).
enum LayerNorm {
    /// `normalized` and `inverseStd`, when given, receive x̂ = (x − mean)/σ [rows×cols] and 1/σ [rows]
    /// for the backward pass.
    static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, residual: UnsafePointer<Float>? = nil,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float, threads: Int,
                        normalized: UnsafeMutablePointer<Float>? = nil, inverseStd: UnsafeMutablePointer<Float>? = nil) {
        parallelChunks(rows, threads: threads, minimumChunk: 16) { range in
            for r in range {
                let row = x + r * cols
                if let residual {
                    let add = residual + r * cols
                    for j in 0..<cols { row[j] += add[j] }
                }
                var sum = 0.0
                for j in 0..<cols { sum += Double(row[j]) }
                let mean = sum / Double(cols)
                var squares = 0.0
                for j in 0..<cols {
                    let d = Double(row[j]) - mean
                    squares += d * d
                }
                let inverse = Float(1 / (squares / Double(cols) + Double(epsilon)).squareRoot())
                let m = Float(mean)
                inverseStd?[r] = inverse
                for j in 0..<cols {
                    let xhat = (row[j] - m) * inverse
                    normalized?[r * cols + j] = xhat
                    row[j] = xhat * weight[j] + bias[j]
                }
            }
        }
    }

    /// Given dy and the cached x̂ and 1/σ: dγ += Σ dy·x̂, dβ += Σ dy, and (written to dx)
    /// dx = (1/σ)·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ.
    static func backward(_ dy: UnsafePointer<Float>, rows: Int, cols: Int, normalized: UnsafePointer<Float>,
                         inverseStd: UnsafePointer<Float>, weight: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                         dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
        // dγ and dβ sum over every token: in double, as a float sum in sequence drifts by ~√T·ε.
        var weightSums = [Double](repeating: 0, count: cols), biasSums = [Double](repeating: 0, count: cols)
        for r in 0..<rows {
            let g = dy + r * cols, xhat = normalized + r * cols, out = dx + r * cols
            var meanG = 0.0, meanGX = 0.0
            for j in 0..<cols {
                let gj = Double(g[j] * weight[j])
                meanG += gj
                meanGX += gj * Double(xhat[j])
                weightSums[j] += Double(g[j]) * Double(xhat[j])
                biasSums[j] += Double(g[j])
            }
            meanG /= Double(cols)
            meanGX /= Double(cols)
            let inverse = Double(inverseStd[r])
            for j in 0..<cols {
                out[j] = Float(inverse * (Double(g[j] * weight[j]) - meanG - Double(xhat[j]) * meanGX))
            }
        }
        for j in 0..<cols {
            dWeight[j] += Float(weightSums[j])
            dBias[j] += Float(biasSums[j])
        }
    }
}
