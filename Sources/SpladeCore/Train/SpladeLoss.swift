import Foundation

/// The ranking losses of the reference trainer, on scores S[b][g] = q_b · d_bg (g = 0 the positive)
/// against teacher labels y[b][g] as given (not normalised). See SPEC-training.md.
public enum RankingLoss: Sendable, Equatable {
    /// mean_b −Σ_g y_bg · log_softmax(S_b)_g (soft labels).
    case crossEntropy
    /// T² · (1/B) Σ_b Σ_g y_bg (log y_bg − log_softmax(S_b/T)_g), terms with y = 0 left out.
    case klDivergence(temperature: Float)
    /// mean relu((S − y)² − m): the reference's hinge on the pointwise error.
    case marginMSE(margin: Float)
    /// Hofstätter's Margin-MSE: mean_b mean_{g>0} ((S_b0 − S_bg) − (y_b0 − y_bg))².
    case distilMarginMSE
    /// mean (S − y)².
    case mse

    /// The loss and ∂L/∂S.
    func evaluate(scores: [[Float]], labels: [[Float]]) -> (loss: Float, gradient: [[Float]]) {
        let b = scores.count, g = scores.first?.count ?? 0
        var loss: Double = 0
        var gradient = scores.map { [Float](repeating: 0, count: $0.count) }
        switch self {
        case .crossEntropy, .klDivergence:
            let temperature: Float = { if case .klDivergence(let t) = self { return t } else { return 1 } }()
            for i in 0..<b {
                let scaled = scores[i].map { $0 / temperature }
                let top = scaled.max()!
                let logSum = top + Foundation.log(scaled.reduce(0) { $0 + Foundation.exp($1 - top) })
                let labelSum = labels[i].reduce(0, +)
                for k in 0..<g {
                    let logProbability = scaled[k] - logSum
                    let y = labels[i][k]
                    if case .crossEntropy = self {
                        loss -= Double(y * logProbability)
                    } else if y > 0 {
                        loss += Double(temperature * temperature * y * (Foundation.log(y) - logProbability))
                    }
                    // ∂/∂S_k: (Σy · p_k − y_k), times T for the KL form (T² · 1/T).
                    let p = Foundation.exp(logProbability)
                    let factor: Float = { if case .klDivergence = self { return temperature } else { return 1 } }()
                    gradient[i][k] = factor * (labelSum * p - y) / Float(b)
                }
            }
            loss /= Double(b)
        case .marginMSE(let margin):
            for i in 0..<b {
                for k in 0..<g {
                    let error = scores[i][k] - labels[i][k]
                    if error * error > margin {
                        loss += Double(error * error - margin)
                        gradient[i][k] = 2 * error / Float(b * g)
                    }
                }
            }
            loss /= Double(b * g)
        case .distilMarginMSE:
            let count = Float(b * max(1, g - 1))
            for i in 0..<b {
                for k in 1..<max(1, g) {
                    let difference = (scores[i][0] - scores[i][k]) - (labels[i][0] - labels[i][k])
                    loss += Double(difference * difference)
                    gradient[i][0] += 2 * difference / count
                    gradient[i][k] -= 2 * difference / count
                }
            }
            loss /= Double(count)
        case .mse:
            for i in 0..<b {
                for k in 0..<g {
                    let error = scores[i][k] - labels[i][k]
                    loss += Double(error * error)
                    gradient[i][k] = 2 * error / Float(b * g)
                }
            }
            loss /= Double(b * g)
        }
        return (Float(loss), gradient)
    }
}

/// The sparsity regularisers, over the N rows of non-negative weights X (N × V).
public enum SparsityRegularizer: String, Sendable {
    /// (1/N) Σ_n Σ_j x_nj.
    case l1 = "L1"
    /// Σ_j ((1/N) Σ_n x_nj)².
    case flops

    /// The value and ∂R/∂X.
    func evaluate(_ rows: [[Float]]) -> (value: Float, gradient: [[Float]]) {
        let n = Float(rows.count), v = rows.first?.count ?? 0
        switch self {
        case .l1:
            let value = rows.reduce(0.0) { $0 + $1.reduce(0.0) { $0 + Double($1) } } / Double(n)
            return (Float(value), rows.map { _ in [Float](repeating: 1 / n, count: v) })
        case .flops:
            var means = [Double](repeating: 0, count: v)
            for row in rows { for j in 0..<v { means[j] += Double(row[j]) } }
            var value = 0.0
            for j in 0..<v {
                means[j] /= Double(n)
                value += means[j] * means[j]
            }
            let gradient = means.map { Float(2 * $0 / Double(n)) }
            return (Float(value), rows.map { _ in gradient })
        }
    }
}

/// Every term of one micro-batch's loss and its gradient with respect to the SPLADE vectors.
public struct SpladeLossTerms: Sendable {
    public var rank: Float, regularizerDoc: Float, regularizerQuery: Float, noiseSum: Float, total: Float
    public var scores: [[Float]]
    /// ∂L/∂q_b and ∂L/∂d_bg (documents in row-major [b][g] order).
    public var queryGradients: [[Float]], documentGradients: [[Float]]
}

/// L = Σ_k w_k L_rank,k + λ_d R_doc(D) + λ_q R_query(Q) + λ_noise Σ_rows Σ_{j ∈ noise} x_j.
public struct SpladeObjective: Sendable {
    public var losses: [(loss: RankingLoss, weight: Float)]
    public var documentRegularizer: SparsityRegularizer
    public var queryRegularizer: SparsityRegularizer
    /// Vocabulary ids of the noise tokens, repeats counted as often as they appear.
    public var noiseTokenIds: [Int32]

    public init(losses: [(loss: RankingLoss, weight: Float)], documentRegularizer: SparsityRegularizer,
                queryRegularizer: SparsityRegularizer, noiseTokenIds: [Int32]) {
        self.losses = losses
        self.documentRegularizer = documentRegularizer
        self.queryRegularizer = queryRegularizer
        self.noiseTokenIds = noiseTokenIds
    }

    /// `queries` [B][V], `documents` [B·G][V] (query b's group at b·G ..< (b+1)·G), `labels` [B][G].
    public func evaluate(queries: [[Float]], documents: [[Float]], labels: [[Float]],
                         lambdaDoc: Float, lambdaQuery: Float, lambdaNoise: Float) -> SpladeLossTerms {
        let b = queries.count, g = labels.first?.count ?? 0, v = queries.first?.count ?? 0
        var scores = [[Float]](repeating: [Float](repeating: 0, count: g), count: b)
        for i in 0..<b {
            for k in 0..<g {
                // Summed in double and rounded once: a float sum in sequence over the vocabulary drifts
                // by ~√V·ε, more than PyTorch's blocked float sum does.
                let d = documents[i * g + k]
                var sum = 0.0
                for j in 0..<v { sum += Double(queries[i][j]) * Double(d[j]) }
                scores[i][k] = Float(sum)
            }
        }
        var rank: Float = 0
        var dScores = [[Float]](repeating: [Float](repeating: 0, count: g), count: b)
        for (loss, weight) in losses {
            let (value, gradient) = loss.evaluate(scores: scores, labels: labels)
            rank += weight * value
            for i in 0..<b { for k in 0..<g { dScores[i][k] += weight * gradient[i][k] } }
        }
        var dQueries = [[Float]](repeating: [Float](repeating: 0, count: v), count: b)
        var dDocuments = [[Float]](repeating: [Float](repeating: 0, count: v), count: b * g)
        for i in 0..<b {
            for k in 0..<g {
                let s = dScores[i][k]
                if s == 0 { continue }
                for j in 0..<v {
                    dQueries[i][j] += s * documents[i * g + k][j]
                    dDocuments[i * g + k][j] += s * queries[i][j]
                }
            }
        }
        let (regDoc, dRegDoc) = documentRegularizer.evaluate(documents)
        let (regQuery, dRegQuery) = queryRegularizer.evaluate(queries)
        var noise: Double = 0
        for row in queries + documents { for id in noiseTokenIds { noise += Double(row[Int(id)]) } }
        for i in 0..<b {
            for j in 0..<v { dQueries[i][j] += lambdaQuery * dRegQuery[i][j] }
            for id in noiseTokenIds { dQueries[i][Int(id)] += lambdaNoise }
        }
        for n in 0..<(b * g) {
            for j in 0..<v { dDocuments[n][j] += lambdaDoc * dRegDoc[n][j] }
            for id in noiseTokenIds { dDocuments[n][Int(id)] += lambdaNoise }
        }
        let total = rank + lambdaDoc * regDoc + lambdaQuery * regQuery + lambdaNoise * Float(noise)
        return SpladeLossTerms(rank: rank, regularizerDoc: regDoc, regularizerQuery: regQuery, noiseSum: Float(noise),
                               total: total, scores: scores, queryGradients: dQueries, documentGradients: dDocuments)
    }
}
