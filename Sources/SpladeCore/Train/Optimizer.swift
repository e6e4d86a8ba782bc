import Foundation

/// AdamW as torch.optim.AdamW computes it (decoupled weight decay applied first), with the Hugging
/// Face Trainer's exclusions (no decay on biases and LayerNorm weights):
///   p ← p·(1 − lr·wd);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;
///   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
public struct AdamW: Sendable {
    /// The hyperparameters (what a TrainingConfig sets).
    public struct Settings: Sendable {
        public var beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float

        public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
            (self.beta1, self.beta2, self.epsilon, self.weightDecay) = (beta1, beta2, epsilon, weightDecay)
        }
    }
    public var settings: Settings
    /// Optimizer steps taken (Adam's bias correction counts from 1).
    public internal(set) var steps = 0
    var firstMoments: BertWeights, secondMoments: BertWeights

    public init(like weights: BertWeights, settings: Settings) {
        self.settings = settings
        firstMoments = .zeros(like: weights)
        secondMoments = .zeros(like: weights)
    }

    /// An optimizer resumed from moments kept elsewhere (a checkpoint's, the GPU's).
    init(_ settings: Settings, steps: Int, firstMoments: BertWeights, secondMoments: BertWeights) {
        self.settings = settings
        self.steps = steps
        self.firstMoments = firstMoments
        self.secondMoments = secondMoments
    }

    /// Adam's bias corrections for step t (counted from 1): the step size lr/(1 − β₁ᵗ) and √(1 − β₂ᵗ),
    /// computed in double as torch does.
    static func corrections(_ settings: Settings, learningRate: Float, step t: Int) -> (stepSize: Float, correction2Root: Double) {
        let correction1 = 1 - Foundation.pow(Double(settings.beta1), Double(t))
        return (Float(Double(learningRate) / correction1), Foundation.sqrt(1 - Foundation.pow(Double(settings.beta2), Double(t))))
    }

    public mutating func step(_ weights: inout BertWeights, gradients: BertWeights, learningRate: Float) {
        steps += 1
        let (stepSize, correction2Root) = Self.corrections(settings, learningRate: learningRate, step: steps)
        var gradientArrays: [[Float]] = []
        var copy = gradients
        copy.forEachParameter { values, _ in gradientArrays.append(values) }
        var m: [[Float]] = [], v: [[Float]] = []
        firstMoments.forEachParameter { values, _ in m.append(values) }
        secondMoments.forEachParameter { values, _ in v.append(values) }
        var index = 0
        let (b1, b2, eps, decay) = (settings.beta1, settings.beta2, settings.epsilon, settings.weightDecay)
        weights.forEachParameter { values, decays in
            let g = gradientArrays[index]
            for k in values.indices {
                if decays && decay != 0 { values[k] *= 1 - learningRate * decay }
                m[index][k] = b1 * m[index][k] + (1 - b1) * g[k]
                v[index][k] = b2 * v[index][k] + (1 - b2) * g[k] * g[k]
                let denominator = Float(Double(v[index][k]).squareRoot() / correction2Root) + eps
                values[k] -= stepSize * m[index][k] / denominator
            }
            index += 1
        }
        index = 0
        firstMoments.forEachParameter { values, _ in values = m[index]; index += 1 }
        index = 0
        secondMoments.forEachParameter { values, _ in values = v[index]; index += 1 }
    }
}

extension BertWeights {
    /// The L2 norm of all parameters together (the gradient norm that clipping compares).
    func globalNorm() -> Float {
        var copy = self
        var sum = 0.0
        copy.forEachParameter { values, _ in for x in values { sum += Double(x) * Double(x) } }
        return Float(sum.squareRoot())
    }

    /// Scales every parameter by `factor` (gradient clipping).
    mutating func scale(by factor: Float) {
        forEachParameter { values, _ in for k in values.indices { values[k] *= factor } }
    }
}

/// Global-norm clipping as torch.nn.utils.clip_grad_norm_: scale by max/(norm + 1e-6) when the norm exceeds max.
/// Returns the norm before clipping.
@discardableResult
public func clipGradients(_ gradients: inout BertWeights, maxNorm: Float) -> Float {
    let norm = gradients.globalNorm()
    let factor = maxNorm / (norm + 1e-6)
    if factor < 1 { gradients.scale(by: factor) }
    return norm
}

/// The learning rate at optimizer step s (0-based) of N with w warm-up steps.
public enum LearningRateSchedule: String, Sendable {
    case cosine, linear, constant
    /// As Hugging Face's constant_with_warmup.
    case constantWithWarmup = "constant_with_warmup"

    public func rate(base: Float, step s: Int, totalSteps n: Int, warmupSteps w: Int) -> Float {
        if s < w && self != .constant { return base * Float(s) / Float(max(1, w)) }
        let progress = Double(s - w) / Double(max(1, n - w))
        switch self {
        case .cosine: return base * Float(0.5 * (1 + Foundation.cos(Double.pi * progress)))
        case .linear: return base * Float(max(0, 1 - progress))
        case .constant, .constantWithWarmup: return base
        }
    }
}

/// The quadratic warm-up of a regulariser weight: λ(t) = min(λ_max, λ_max · (t / (T + 1))²).
public func regularizerWeight(maximum: Float, step t: Int, warmupSteps T: Int) -> Float {
    min(maximum, maximum * Float((Double(t) / Double(T + 1)) * (Double(t) / Double(T + 1))))
}
