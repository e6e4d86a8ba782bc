import Foundation
import Testing
@testable import SpladeCore

/// One SPLADE training step against PyTorch (../shared/fixtures/ja-tiny/train): scores, every loss
/// term, every parameter's gradient, and every parameter after clipping and one AdamW step.
/// Tolerance 1e-4 relative to each tensor's largest magnitude (float32 sums in another order).
@Suite(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs ../shared/fixtures and the dictionary"))
struct TrainStepParityTests {
    static let tolerance: Float = 1e-4

    struct Setup {
        let config: BertConfig
        let weights: BertWeights
        let sequences: [[Int32]]
        let labels: [[Float]]
        let expected: JSONValue
    }

    func setup() throws -> Setup {
        let directory = Fixtures.path("ja-tiny/model")
        let config = try BertConfig.load(directory + "/config.json")
        let weights = try BertWeights.load(directory: directory, config: config)
        let tokenizer = try Tokenizer.load(modelDirectory: directory) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
        let session = try tokenizer.makeSession()
        let expected = try JSON.parse(try String(contentsOfFile: Fixtures.path("ja-tiny/train/expected.json"), encoding: .utf8))
        var queries: [[Int32]] = [], documents: [[Int32]] = [], labels: [[Float]] = []
        for line in try String(contentsOfFile: Fixtures.path("ja-tiny/train/batch.jsonl"), encoding: .utf8).split(separator: "\n") {
            let row = try JSON.parse(String(line))
            queries.append(try session.encode(row["query"]!.stringValue!, maxLength: 64))
            guard case .array(let positives)? = row["positives"], case .array(let negatives)? = row["negatives"],
                  case .array(let positiveScores)? = row["positives_score"], case .array(let negativeScores)? = row["negatives_score"]
            else { throw SpladeError(.badInput, "malformed fixture row") }
            for text in [positives[0]] + negatives { documents.append(try session.encode(text.stringValue!, maxLength: 512)) }
            labels.append(([positiveScores[0]] + negativeScores).map { Float($0.doubleValue!) })
        }
        return Setup(config: config, weights: weights, sequences: queries + documents, labels: labels, expected: expected)
    }

    static func relativeError(_ got: [Float], _ want: [Float]) -> Float {
        let scale = max(want.map(abs).max() ?? 0, 1e-12)
        return zip(got, want).map { abs($0 - $1) }.max()! / scale
    }

    func run(_ variant: String, loss: RankingLoss, documentRegularizer: SparsityRegularizer) throws {
        let s = try setup()
        let config = s.expected["config"]!
        let number = { (key: String) in Float(config[key]!.doubleValue!) }
        let integer = { (key: String) in Int(config[key]!.doubleValue!) }
        let step = integer("step")
        guard case .array(let noise)? = s.expected["noise_token_ids"] else { throw SpladeError(.badInput, "no noise ids") }
        let objective = SpladeObjective(losses: [(loss, 1)], documentRegularizer: documentRegularizer, queryRegularizer: .l1,
                                        noiseTokenIds: noise.map { Int32($0.doubleValue!) })
        let lambdaDoc = regularizerWeight(maximum: number("lambda_doc"), step: step, warmupSteps: integer("warmup_steps_doc"))
        let lambdaQuery = regularizerWeight(maximum: number("lambda_query"), step: step, warmupSteps: integer("warmup_steps_query"))
        let lambdaNoise = regularizerWeight(maximum: number("noise_weight"), step: step, warmupSteps: integer("warmup_steps_query"))

        let pass = BertTrainingPass(config: s.config, weights: s.weights, sequences: s.sequences, threads: 2)
        let vectors = pass.forward()
        let b = s.labels.count
        let terms = objective.evaluate(queries: Array(vectors[0..<b]), documents: Array(vectors[b...]), labels: s.labels,
                                       lambdaDoc: lambdaDoc, lambdaQuery: lambdaQuery, lambdaNoise: lambdaNoise)
        let reference = try Safetensors.read(Fixtures.path("ja-tiny/train/expected-\(variant).safetensors"))
        #expect(Self.relativeError(terms.scores.flatMap { $0 }, reference["scores"]!.values) < Self.tolerance, "scores")
        let scalars = s.expected["variants"]![variant]!
        for (name, value) in [("rank_loss", terms.rank), ("reg_doc", terms.regularizerDoc), ("reg_query", terms.regularizerQuery),
                              ("noise_sum", terms.noiseSum), ("total_loss", terms.total), ("lambda_doc", lambdaDoc),
                              ("lambda_query", lambdaQuery), ("lambda_noise", lambdaNoise)] {
            let want = Float(scalars[name]!.doubleValue!)
            #expect(abs(value - want) <= Self.tolerance * max(1, abs(want)), "\(name): \(value) vs \(want)")
        }
        guard reference["grad.cls.predictions.bias"] != nil else { return }
        #expect(Self.relativeError(vectors[0..<b].flatMap { $0 }, reference["query_reps"]!.values) < Self.tolerance, "query_reps")

        var gradients = pass.backward(terms.queryGradients + terms.documentGradients)
        let named = gradients.namedTensors(config: s.config)
        let largest = named.values.map { $0.values.map(abs).max()! }.max()!
        for (name, tensor) in named {
            let want = try #require(reference["grad." + name], "no reference gradient for \(name)")
            if name.hasSuffix("attention.self.key.bias") {
                // Exactly zero in exact arithmetic (a key bias adds q·b to a whole row of scores, which
                // softmax ignores); both sides hold rounding noise only, so compare with the scale of the model's gradients.
                #expect(tensor.values.map(abs).max()! < 1e-6 * largest && want.values.map(abs).max()! < 1e-6 * largest, "grad.\(name)")
            } else {
                #expect(Self.relativeError(tensor.values, want.values) < Self.tolerance, "grad.\(name)")
            }
        }
        let norm = clipGradients(&gradients, maxNorm: number("max_grad_norm"))
        let wantNorm = Float(scalars["grad_norm_before_clip"]!.doubleValue!)
        #expect(abs(norm - wantNorm) <= Self.tolerance * wantNorm, "gradient norm \(norm) vs \(wantNorm)")
        let rate = LearningRateSchedule.cosine.rate(base: number("lr"), step: step, totalSteps: integer("total_steps"),
                                                     warmupSteps: integer("lr_warmup_steps"))
        #expect(abs(rate - Float(scalars["lr_at_step"]!.doubleValue!)) < 1e-9)
        var weights = s.weights
        var optimizer = AdamW(like: weights, settings: AdamW.Settings(weightDecay: number("weight_decay")))
        optimizer.step(&weights, gradients: gradients, learningRate: rate)
        // Adam's first step moves every parameter by lr · g / (|g| + ε): where the clipped gradient is
        // near ε = 1e-8 (rounding noise on both sides, e.g. key biases, rarely seen positions), the
        // update is as uncertain as the noise, so those entries are only held to |update| ≤ lr.
        let clippedNamed = gradients.namedTensors(config: s.config), before = s.weights.namedTensors(config: s.config)
        for (name, tensor) in weights.namedTensors(config: s.config) {
            let want = try #require(reference["after_step." + name], "no reference parameter for \(name)")
            let g = clippedNamed[name]!.values, start = before[name]!.values
            let scale = max(want.values.map(abs).max()!, 1e-12)
            var worst: Float = 0
            for k in tensor.values.indices {
                if abs(g[k]) > 100 * optimizer.settings.epsilon {
                    worst = max(worst, abs(tensor.values[k] - want.values[k]) / scale)
                } else {
                    #expect(abs(tensor.values[k] - start[k]) <= rate * 1.0001, "after_step.\(name)[\(k)] moved more than lr")
                }
            }
            #expect(worst < Self.tolerance, "after_step.\(name): \(worst)")
        }
    }

    @Test func crossEntropyWithL1() throws { try run("ce_l1", loss: .crossEntropy, documentRegularizer: .l1) }
    @Test func klDivergenceWithFlops() throws { try run("kl_flops", loss: .klDivergence(temperature: 1), documentRegularizer: .flops) }
    @Test func marginMSEScalars() throws { try run("marginmse_l1", loss: .marginMSE(margin: 0.05), documentRegularizer: .l1) }
}
