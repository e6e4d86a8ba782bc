/// Row-wise softmax, in place: p_j = exp(x_j − max x) / Σ_k exp(x_k − max x).
enum Softmax {
    static func forwardRows(_ x: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = x + r * cols
            var maximum = -Float.infinity
            for j in 0..<cols { maximum = max(maximum, row[j]) }
            VectorMath.expShifted(row, count: cols, shift: maximum)
            var sum: Float = 0
            for j in 0..<cols { sum += row[j] }
            let inverse = 1 / sum
            for j in 0..<cols { row[j] *= inverse }
        }
    }
}
