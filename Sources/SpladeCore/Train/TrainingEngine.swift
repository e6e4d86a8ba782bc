import Foundation

/// Where a training step's arithmetic runs: it holds the model's parameters and optimizer moments,
/// runs a micro-batch's forward and backward passes, accumulates the step's gradients, clips them
/// and applies AdamW. The Trainer drives it; `CPUTrainingEngine` is the reference, and a build with
/// the package trait CUDA adds `CUDATrainingEngine`, which keeps everything in GPU memory.
protocol TrainingEngine: AnyObject {
    /// The dense SPLADE vector ([V]) of every sequence of a micro-batch; the pass is kept for `backward`.
    func forward(_ sequences: [[Int32]], dropout: BertTrainingPass.Dropout?) throws(SpladeError) -> [[Float]]
    /// Adds the last forward pass's parameter gradients, given ∂L/∂w per vector, into the step's gradients.
    func backward(_ dVectors: [[Float]]) throws(SpladeError)
    /// The global L2 norm of the step's gradients, which are then scaled as torch's clip_grad_norm_ does.
    func clipGradients(maxNorm: Float) throws(SpladeError) -> Float
    /// One AdamW step with the step's gradients, which are then reset to zero.
    func applyOptimizer(learningRate: Float) throws(SpladeError)
    /// The parameters and the optimizer state (for checkpoints).
    func snapshot() throws(SpladeError) -> (weights: BertWeights, optimizer: AdamW)
    /// Replaces the parameters and the optimizer state (resuming from a checkpoint).
    func restore(weights: BertWeights, optimizer: AdamW) throws(SpladeError)
}

/// The training step on the CPU: BertTrainingPass, gradients and AdamW over host arrays.
final class CPUTrainingEngine: TrainingEngine {
    let config: BertConfig
    let threads: Int
    private var weights: BertWeights
    private var optimizer: AdamW
    private var gradients: BertWeights
    private var pass: BertTrainingPass?

    init(config: BertConfig, weights: BertWeights, optimizer: AdamW, threads: Int) {
        self.config = config
        self.weights = weights
        self.optimizer = optimizer
        self.threads = threads
        gradients = .zeros(like: weights)
    }

    func forward(_ sequences: [[Int32]], dropout: BertTrainingPass.Dropout?) -> [[Float]] {
        let pass = BertTrainingPass(config: config, weights: weights, sequences: sequences, threads: threads, dropout: dropout)
        self.pass = pass
        return pass.forward()
    }

    func backward(_ dVectors: [[Float]]) {
        guard let pass else { preconditionFailure("backward without a forward pass") }
        gradients.add(pass.backward(dVectors))
        self.pass = nil
    }

    func clipGradients(maxNorm: Float) -> Float { SpladeCore.clipGradients(&gradients, maxNorm: maxNorm) }

    func applyOptimizer(learningRate: Float) {
        optimizer.step(&weights, gradients: gradients, learningRate: learningRate)
        gradients = .zeros(like: weights)
    }

    func snapshot() -> (weights: BertWeights, optimizer: AdamW) { (weights, optimizer) }

    func restore(weights: BertWeights, optimizer: AdamW) {
        self.weights = weights
        self.optimizer = optimizer
        gradients = .zeros(like: weights)
    }
}
