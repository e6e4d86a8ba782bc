import Foundation
import Testing
@testable import SpladeCore

/// Backward passes against central finite differences on a small random BERT: every parameter
/// tensor's gradient (which runs through each op's backward: embeddings, LayerNorm, attention,
/// GELU, linear layers, the tied MLM head and SPLADE max pooling) and the loss functions'.
/// The forward pass is Float32, so the step is 1e-3 and the tolerance 3% of the larger magnitude
/// plus 2e-3 absolute (Float rounding of the loss, ~1e-6, divided by 2h).
@Suite struct TrainGradientCheckTests {
    struct Generator {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(state >> 40) / Float(1 << 24) * 2 - 1
        }
    }

    static func smallModel() -> (BertConfig, BertWeights) {
        let config = BertConfig(vocabularySize: 40, hiddenSize: 8, layers: 2, heads: 2, intermediateSize: 12, maxPositions: 16)
        var random = Generator(state: 7)
        func tensor(_ count: Int, scale: Float = 0.5, offset: Float = 0) -> [Float] { (0..<count).map { _ in offset + scale * random.next() } }
        let h = config.hiddenSize, i = config.intermediateSize, v = config.vocabularySize
        let layers = (0..<config.layers).map { _ in
            BertWeights.Layer(qkvWeight: tensor(3 * h * h), qkvBias: tensor(3 * h, scale: 0.1),
                              attentionOutputWeight: tensor(h * h), attentionOutputBias: tensor(h, scale: 0.1),
                              attentionNormWeight: tensor(h, scale: 0.2, offset: 1), attentionNormBias: tensor(h, scale: 0.1),
                              intermediateWeight: tensor(i * h), intermediateBias: tensor(i, scale: 0.1),
                              outputWeight: tensor(h * i), outputBias: tensor(h, scale: 0.1),
                              outputNormWeight: tensor(h, scale: 0.2, offset: 1), outputNormBias: tensor(h, scale: 0.1))
        }
        let weights = BertWeights(
            wordEmbeddings: tensor(v * h), positionEmbeddings: tensor(config.maxPositions * h), tokenTypeEmbeddings: tensor(2 * h),
            embeddingNormWeight: tensor(h, scale: 0.2, offset: 1), embeddingNormBias: tensor(h, scale: 0.1), layers: layers,
            transformWeight: tensor(h * h), transformBias: tensor(h, scale: 0.1),
            transformNormWeight: tensor(h, scale: 0.2, offset: 1), transformNormBias: tensor(h, scale: 0.1),
            untiedDecoder: nil, decoderBias: tensor(v, scale: 0.5, offset: 0.5))
        return (config, weights)
    }

    /// A scalar of the SPLADE vectors: Σ_s Σ_j c_sj w_sj with fixed coefficients.
    static func loss(_ vectors: [[Float]], _ coefficients: [[Float]]) -> Double {
        zip(vectors, coefficients).reduce(0.0) { total, pair in
            total + zip(pair.0, pair.1).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        }
    }

    /// With dropout, each pass draws the same masks from the seed, so the finite differences hold them fixed.
    @Test(arguments: [0, 0.2] as [Float])
    func everyParameterGradientMatchesFiniteDifferences(dropoutProbability p: Float) {
        let (config, weights) = Self.smallModel()
        let sequences: [[Int32]] = [[2, 7, 11, 5, 3], [2, 19, 3], [2, 30, 8, 8, 21, 14, 3]]
        var random = Generator(state: 99)
        let coefficients = sequences.map { _ in (0..<config.vocabularySize).map { _ in random.next() } }
        let dropout = p > 0 ? BertTrainingPass.Dropout(hidden: p, attention: p, seed: 5) : nil
        let pass = BertTrainingPass(config: config, weights: weights, sequences: sequences, threads: 1, dropout: dropout)
        let vectors = pass.forward()
        #expect(vectors.allSatisfy { $0.contains { $0 > 0 } }, "the check needs active vocabulary entries")
        if p > 0 {
            #expect(vectors != BertTrainingPass(config: config, weights: weights, sequences: sequences, threads: 1).forward(),
                    "dropout changes the vectors")
        }
        let analytic = pass.backward(coefficients).namedTensors(config: config)
        let h: Float = 1e-3
        for name in weights.namedTensors(config: config).keys.sorted() {
            // Probe the entries with the largest analytic gradients (the rest are checked by the PyTorch fixture).
            let gradient = analytic[name]!.values
            let probes = gradient.indices.sorted { abs(gradient[$0]) > abs(gradient[$1]) }.prefix(4)
            for k in probes {
                func perturbed(_ delta: Float) -> Double {
                    var named = weights.namedTensors(config: config)
                    named[name]!.values[k] += delta
                    let changed = try! BertWeights.assemble(named, config: config, source: "perturbed")
                    return Self.loss(BertTrainingPass(config: config, weights: changed, sequences: sequences, threads: 1,
                                                      dropout: dropout).forward(), coefficients)
                }
                let numeric = Float((perturbed(h) - perturbed(-h)) / Double(2 * h))
                let tolerance = 0.03 * max(abs(numeric), abs(gradient[k])) + 2e-3
                #expect(abs(numeric - gradient[k]) <= tolerance, "\(name)[\(k)]: analytic \(gradient[k]), numeric \(numeric)")
            }
        }
    }

    @Test(arguments: [RankingLoss.crossEntropy, .klDivergence(temperature: 2), .marginMSE(margin: 0.05), .distilMarginMSE, .mse])
    func rankingLossGradientsMatchFiniteDifferences(loss: RankingLoss) {
        let scores: [[Float]] = [[1.5, 0.2, -0.4, 0.9], [0.3, 1.1, 0.8, -1.2]]
        let labels: [[Float]] = [[0.9, 0.1, 0.0, 0.3], [0.7, 0.2, 0.25, 0.05]]
        let gradient = loss.evaluate(scores: scores, labels: labels).gradient
        let h: Float = 1e-2
        for i in 0..<2 {
            for k in 0..<4 {
                var plus = scores, minus = scores
                plus[i][k] += h
                minus[i][k] -= h
                let numeric = (loss.evaluate(scores: plus, labels: labels).loss - loss.evaluate(scores: minus, labels: labels).loss) / (2 * h)
                #expect(abs(numeric - gradient[i][k]) <= 1e-2 * max(abs(numeric), 1e-2), "\(loss) [\(i)][\(k)]")
            }
        }
    }

    @Test(arguments: [SparsityRegularizer.l1, .flops])
    func regularizerGradientsMatchFiniteDifferences(regularizer: SparsityRegularizer) {
        let rows: [[Float]] = [[0.5, 0, 1.2], [0.1, 0.7, 0], [0, 0.3, 0.9]]
        let gradient = regularizer.evaluate(rows).gradient
        let h: Float = 1e-2
        for n in 0..<3 {
            for j in 0..<3 {
                var plus = rows, minus = rows
                plus[n][j] += h
                minus[n][j] -= h
                let numeric = (regularizer.evaluate(plus).value - regularizer.evaluate(minus).value) / (2 * h)
                #expect(abs(numeric - gradient[n][j]) <= 1e-3, "\(regularizer) [\(n)][\(j)]")
            }
        }
    }
}
