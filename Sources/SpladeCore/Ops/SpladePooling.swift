import Foundation

/// SPLADE max pooling: w_j = max_i m_i · log(1 + relu(z_ij)) over a sequence's tokens i.
/// log1p∘relu is monotone, so w_j = log1p(relu(max_i z_ij)) over the real tokens: the pooling keeps
/// a running column maximum of the logits and applies log1p∘relu once per vocabulary entry, and the
/// [tokens × vocabulary] logits never need to exist all at once.
enum SpladePooling {
    /// running[j] = max(running[j], max over `rows` rows of logits[·, j]) for columns in `columns`.
    static func accumulateMax(_ logits: UnsafePointer<Float>, rows: Int, cols: Int, columns: Range<Int>,
                              into running: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = logits + r * cols
            for j in columns where row[j] > running[j] { running[j] = row[j] }
        }
    }

    /// The weight of a vocabulary entry from its maximum logit.
    @inline(__always)
    static func weight(maxLogit: Float) -> Float { maxLogit > 0 ? log1pf(maxLogit) : 0 }
}
