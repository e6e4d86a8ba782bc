import Foundation

/// Layer normalisation over each row: y = (x − mean) / sqrt(var + ε) · γ + β, with the biased
/// variance (divided by n) as PyTorch computes it. Sums are taken in Double so long rows lose nothing.
/// `residual`, when given, is added to x first (the post-norm BERT block: LN(x + sublayer(x))).
enum LayerNorm {
    static func forward(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int, residual: UnsafePointer<Float>? = nil,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, epsilon: Float, threads: Int) {
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
                for j in 0..<cols { row[j] = (row[j] - m) * inverse * weight[j] + bias[j] }
            }
        }
    }
}
