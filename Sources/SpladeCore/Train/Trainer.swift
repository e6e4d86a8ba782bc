import Foundation

/// The training loop of the reference trainer: micro-batches of B rows, each a query with 1 positive
/// and G − 1 negatives run as one forward pass; the SPLADE objective; gradients averaged over the A
/// micro-batches of an optimizer step (fewer at an epoch's end); global-norm clipping; AdamW; the
/// learning-rate schedule.
public final class Trainer {
    /// What one optimizer step computed (micro-batch terms averaged), for the JSON Lines log.
    public struct StepLog: Sendable {
        public var step: Int
        /// Epochs done once this step is applied (the Hugging Face Trainer's `epoch`: 1.5 is halfway through the second).
        public var epoch: Double
        /// `epoch` as the reference trainer logs it.
        public var loggedEpoch: Double { Self.hundredths(epoch) }
        public var learningRate: Float
        public var lambdaDoc: Float, lambdaQuery: Float, lambdaNoise: Float
        public var rankLoss: Float, regularizerDoc: Float, regularizerQuery: Float, noiseSum: Float, loss: Float
        public var gradientNorm: Float
        /// Mean number of non-zero weights of the query and document vectors.
        public var queryL0: Float, documentL0: Float
        public var tokens: Int

        /// Python's round(x, 2): the exact binary value rounded to 2 decimals, halves to even (round(0.125, 2) is 0.12,
        /// round(0.075, 2) is 0.07 since 0.075 is stored just below it), which printf's conversion also does.
        static func hundredths(_ x: Double) -> Double { Double(String(format: "%.2f", x))! }
    }

    public let config: TrainingConfig
    public let modelConfig: BertConfig
    /// Where the parameters live and the passes run (the CPU, or a GPU with --device cuda).
    let engine: any TrainingEngine
    /// Optimizer steps done.
    public private(set) var step = 0
    public let totalSteps: Int
    let rows: [TrainingExample]
    let sessions: [TokenizerSession]
    let noiseTokenIds: [Int32]
    /// The noise tokens missing from the vocabulary (each once, in the configuration's order): they count as [UNK].
    public let noiseTokensNotInVocabulary: [String]
    let threads: Int
    /// The last epoch's row order (2 ms to draw for 500,000 rows, once an epoch rather than once a micro-batch).
    private var shuffled: (epoch: Int, order: [Int])?

    /// `device`: the CPU (the default), a CUDA GPU, or `auto` (a GPU when the build and the machine have one);
    /// `precision`: how a GPU multiplies (default: the configuration's bf16/tf32, else fp32; the CPU trains in fp32).
    public init(config: TrainingConfig, modelConfig: BertConfig, weights: BertWeights, rows: [TrainingExample],
                tokenizer: Tokenizer, threads: Int, device: ComputeDevice = .cpu,
                precision: GPUPrecision? = nil) throws(SpladeError) {
        // Said now, not at the first text that long, perhaps hours into the run.
        for (key, length) in [("max_query_length", config.maxQueryLength), ("max_length", config.maxLength)]
        where length > modelConfig.maxPositions {
            throw SpladeError(.usage, "\(key) \(length) exceeds the model's \(modelConfig.maxPositions) positions",
                              hint: "set \(key) to \(modelConfig.maxPositions) or less")
        }
        guard config.microBatchesPerEpoch(rows: rows.count) > 0 else {
            throw SpladeError(.usage, "dataloader_drop_last leaves no micro-batch: \(rows.count) training rows are fewer than "
                              + "per_device_train_batch_size \(config.batchSize)",
                              hint: "lower per_device_train_batch_size or set dataloader_drop_last: false")
        }
        // The schedules count the epochs' micro-batches (`sparsityWarmupLength`), even when max_steps ends the run.
        guard config.epochs * Double(config.microBatchesPerEpoch(rows: rows.count)) < 0x1p53 else {
            throw SpladeError(.usage, "num_train_epochs \(config.epochs) gives more micro-batches than can be counted",
                              hint: "lower num_train_epochs")
        }
        self.config = config
        self.modelConfig = modelConfig
        self.rows = rows
        self.threads = threads
        switch try device.resolved() {
        case .cuda(let index):
            #if CUDA
            let precision = precision ?? config.precision ?? .fp32
            try ComputeDevice.cuda(index: index).use(precision)
            engine = try CUDATrainingEngine(config: modelConfig, weights: weights, optimizer: config.adamWSettings, device: index,
                                            bfloat16: precision == .bf16)
            #else
            preconditionFailure("resolved() gives .cuda only in a CUDA build")
            #endif
        case .cpu, .auto:
            engine = CPUTrainingEngine(config: modelConfig, weights: weights, optimizer: AdamW(like: weights, settings: config.adamWSettings),
                                       threads: threads)
        }
        totalSteps = config.totalOptimizerSteps(rows: rows.count)
        guard totalSteps > 0 else {
            throw SpladeError(.usage, "no training steps: max_steps is not set and num_train_epochs \(config.epochs) gives none",
                              hint: "set max_steps or num_train_epochs above 0")
        }
        sessions = try (0..<max(1, threads)).map { _ throws(SpladeError) in try tokenizer.makeSession() }
        // As the reference: the distinct token strings (a repeated one counts once; the v1 list repeats 〠), each
        // mapped to its id, an unknown one to [UNK].
        var seen = Set<ExactID>()
        let tokens = config.noiseTokens.filter { seen.insert(ExactID($0)).inserted }
        let vocabularyIds = tokens.map { tokenizer.vocabulary.id(of: $0) }
        noiseTokenIds = vocabularyIds.map { $0 ?? tokenizer.unknownId }
        noiseTokensNotInVocabulary = zip(tokens, vocabularyIds).compactMap { token, id in id == nil ? token : nil }
    }

    /// What the run will do, in the Hugging Face Trainer's terms.
    public var plan: TrainingPlan {
        TrainingPlan(rows: rows.count, microBatchesPerEpoch: config.microBatchesPerEpoch(rows: rows.count),
                     batchSize: config.batchSize, optimizerStepsPerEpoch: config.optimizerStepsPerEpoch(rows: rows.count),
                     accumulation: config.gradientAccumulationSteps, totalSteps: totalSteps)
    }

    /// How the plan of the run that wrote a checkpoint compares with this run's.
    public enum ResumedPlan: Equatable, Sendable {
        case same
        /// Other data, batch size, accumulation or length: the step goes on, but the micro-batches and the schedule
        /// from there are this run's.
        case other(TrainingPlan)
        /// The checkpoint records none (splade-train recorded none before it followed the Hugging Face Trainer's epoch
        /// ends): the run that wrote it took micro-batches in one stream across epochs, max(1, ⌊micro-batches / A⌋)
        /// steps an epoch. That count when an epoch's micro-batches are no multiple of the accumulation, so that this
        /// run's steps take other micro-batches; nil when the two agree.
        case unrecorded(streamedStepsPerEpoch: Int?)
    }

    /// Continues from a checkpoint's weights, optimizer moments and step; says how its run's plan compares with this one.
    public func restore(from directory: String) throws(SpladeError) -> ResumedPlan {
        let (loaded, optimizer, state) = try Checkpoint.load(directory, config: modelConfig, settings: config.adamWSettings)
        try engine.restore(weights: loaded, optimizer: optimizer)
        step = state.globalStep
        guard let earlier = state.plan else {
            let (microBatches, accumulation) = (plan.microBatchesPerEpoch, plan.accumulation)
            return .unrecorded(streamedStepsPerEpoch: microBatches % accumulation == 0 ? nil : max(1, microBatches / accumulation))
        }
        return earlier == plan ? .same : .other(earlier)
    }

    /// The rows of micro-batch `index` of epoch `epoch`: epochs are reshuffled with the seed.
    func microBatch(epoch: Int, index: Int) -> [SampledGroup] {
        let order = rowOrder(epoch: epoch)
        let chosen = order[(index * config.batchSize)..<min(rows.count, (index + 1) * config.batchSize)]
        return chosen.map {
            SampledGroup(rows[$0], groupSize: config.groupSize, binarize: config.binarizeLabel, seed: config.seed,
                         epoch: epoch, row: $0)
        }
    }

    /// The rows in epoch `epoch`'s order, drawn from the seed and the epoch alone.
    private func rowOrder(epoch: Int) -> [Int] {
        if let shuffled, shuffled.epoch == epoch { return shuffled.order }
        var order = Array(rows.indices)
        var random = SeededRandom(seed: config.seed, 0x5EED, UInt64(epoch))
        order.shuffle(using: &random)
        shuffled = (epoch, order)
        return order
    }

    /// Runs one optimizer step and returns its log. A non-finite loss stops training (nothing is applied).
    public func trainStep() throws(SpladeError) -> StepLog {
        let t = step
        let objective = SpladeObjective(losses: config.losses, documentRegularizer: config.documentRegularizer,
                                        queryRegularizer: config.queryRegularizer, noiseTokenIds: noiseTokenIds)
        let lambdaDoc = regularizerWeight(maximum: config.documentSparsityWeight, step: t,
                                          warmupSteps: config.sparsityWarmupLength(config.documentSparsityWarmup, rows: rows.count))
        let queryWarmup = config.sparsityWarmupLength(config.querySparsityWarmup, rows: rows.count)
        let lambdaQuery = regularizerWeight(maximum: config.querySparsityWeight, step: t, warmupSteps: queryWarmup)
        let lambdaNoise = regularizerWeight(maximum: config.noiseTokensWeight, step: t, warmupSteps: queryWarmup)
        let microBatchesPerEpoch = config.microBatchesPerEpoch(rows: rows.count)
        let (epoch, indices) = config.microBatches(ofStep: t, rows: rows.count)
        var log = StepLog(step: t, epoch: Double(epoch) + Double(indices.upperBound) / Double(microBatchesPerEpoch),
                          learningRate: 0, lambdaDoc: lambdaDoc, lambdaQuery: lambdaQuery, lambdaNoise: lambdaNoise,
                          rankLoss: 0, regularizerDoc: 0, regularizerQuery: 0, noiseSum: 0, loss: 0, gradientNorm: 0,
                          queryL0: 0, documentL0: 0, tokens: 0)
        for index in indices {
            // The micro-batch's place in the whole run, for its dropout seed.
            let m = epoch * microBatchesPerEpoch + index
            let groups = microBatch(epoch: epoch, index: index)
            let texts = groups.map { ($0.query, config.maxQueryLength, $0.location) }
                + groups.flatMap { group in group.documents.map { ($0, config.maxLength, group.location) } }
            // A text MeCab refuses is an error at its row, which may be hours into the run.
            let encoded = orderedParallelMap(texts, workers: sessions) { session, item in
                Result { () throws(SpladeError) in try session.encode(item.0, maxLength: item.1) }.mapError { $0.located(at: item.2) }
            }
            var sequences: [[Int32]] = []
            for result in encoded { sequences.append(try result.get()) }
            var dropoutSeed = SeededRandom(seed: config.seed, 0xD7, UInt64(m))
            let dropout = BertTrainingPass.Dropout(hidden: config.hiddenDropout ?? modelConfig.hiddenDropout,
                                                   attention: config.attentionDropout ?? modelConfig.attentionDropout,
                                                   seed: dropoutSeed.next())
            let vectors = try engine.forward(sequences, dropout: dropout.hidden > 0 || dropout.attention > 0 ? dropout : nil)
            let b = groups.count
            let terms = objective.evaluate(queries: Array(vectors[0..<b]), documents: Array(vectors[b...]),
                                           labels: groups.map(\.labels), lambdaDoc: lambdaDoc, lambdaQuery: lambdaQuery,
                                           lambdaNoise: lambdaNoise)
            guard terms.total.isFinite else {
                throw SpladeError(.internalError, "the loss is \(terms.total) at step \(t) (micro-batch \(index - indices.lowerBound)); stopping without saving",
                                  hint: "lower learning_rate or check the training data's scores")
            }
            // The loss of an optimizer step is the mean over its micro-batches: A of them, or what is left of an epoch
            // (the Trainer divides by the step's own count).
            let scale = 1 / Float(indices.count)
            let dVectors: [[Float]] = (terms.queryGradients + terms.documentGradients).map { row in row.map { $0 * scale } }
            try engine.backward(dVectors)
            log.rankLoss += terms.rank * scale
            log.regularizerDoc += terms.regularizerDoc * scale
            log.regularizerQuery += terms.regularizerQuery * scale
            log.noiseSum += terms.noiseSum * scale
            log.loss += terms.total * scale
            log.queryL0 += Self.meanNonZero(vectors[0..<b]) * scale
            log.documentL0 += Self.meanNonZero(vectors[b...]) * scale
            log.tokens += sequences.reduce(0) { $0 + $1.count }
        }
        // max_grad_norm ≤ 0 turns clipping off, as in the Hugging Face Trainer (it clips only when > 0).
        log.gradientNorm = try engine.clipGradients(maxNorm: config.maxGradNorm > 0 ? config.maxGradNorm : .infinity)
        guard log.gradientNorm.isFinite else {
            throw SpladeError(.internalError, "the gradient norm is \(log.gradientNorm) at step \(t); stopping without saving")
        }
        log.learningRate = config.scheduler.rate(base: config.learningRate, step: t, totalSteps: totalSteps,
                                                 warmupSteps: config.warmupSteps(total: totalSteps))
        try engine.applyOptimizer(learningRate: log.learningRate)
        step += 1
        return log
    }
}

extension Trainer {
    static func meanNonZero(_ vectors: ArraySlice<[Float]>) -> Float {
        var count = 0
        for vector in vectors { for value in vector where value > 0 { count += 1 } }
        return Float(count) / Float(max(1, vectors.count))
    }
}

extension BertWeights {
    /// Adds `other` parameter by parameter (gradient accumulation).
    mutating func add(_ other: BertWeights) {
        var addends: [[Float]] = []
        var copy = other
        copy.forEachParameter { values, _ in addends.append(values) }
        var index = 0
        forEachParameter { values, _ in
            let addend = addends[index]
            for k in values.indices { values[k] += addend[k] }
            index += 1
        }
    }
}

extension Trainer {
    /// Saves `checkpoint-<step>` (model, optimizer moments, state) in `outputDirectory`, then removes
    /// the oldest checkpoints beyond save_total_limit.
    public func saveCheckpoint(outputDirectory: String, modelConfigJSON: JSONValue) throws(SpladeError) {
        let (weights, optimizer) = try engine.snapshot()
        try Checkpoint.write(to: outputDirectory + "/checkpoint-\(step)", weights: weights, config: modelConfig,
                             modelConfigJSON: modelConfigJSON, sourceModel: config.modelPath, optimizer: optimizer,
                             state: Checkpoint.State(globalStep: step, adamSteps: optimizer.steps, plan: plan,
                                                     settings: Checkpoint.RunSettings(overrides: config.commandLineOverrides,
                                                                                      warmupInOptimizerSteps: config.warmupInOptimizerSteps)))
        if let limit = config.saveTotalLimit {
            for old in Checkpoint.list(in: outputDirectory).dropLast(limit) {
                try? FileManager.default.removeItem(atPath: old.path)
            }
        }
    }

    /// Writes the trained model into `outputDirectory` itself (what save_model does at the end).
    public func saveFinalModel(outputDirectory: String, modelConfigJSON: JSONValue) throws(SpladeError) {
        try Checkpoint.writeFinalModel(into: outputDirectory, weights: try engine.snapshot().weights, config: modelConfig,
                                       modelConfigJSON: modelConfigJSON, sourceModel: config.modelPath)
    }
}

/// How a run divides its training rows (the Hugging Face Trainer's numbers, which its log prints as it starts); a
/// checkpoint records it, so that resuming with other data or settings is said.
public struct TrainingPlan: Equatable, Sendable, CustomStringConvertible {
    public var rows: Int
    public var microBatchesPerEpoch: Int
    public var batchSize: Int
    public var optimizerStepsPerEpoch: Int
    public var accumulation: Int
    public var totalSteps: Int

    /// e.g. "19 training rows: 10 micro-batches of 2 an epoch, 3 optimizer steps an epoch (accumulating 4); 6 steps,
    /// 2 epochs".
    public var description: String {
        func count(_ n: Int, _ noun: String, _ plural: String? = nil) -> String { "\(n) \(n == 1 ? noun : plural ?? noun + "s")" }
        let epochs = Double(totalSteps) / Double(optimizerStepsPerEpoch)
        let epochText = epochs == epochs.rounded() ? count(Int(epochs), "epoch") : String(format: "%.2f epochs", epochs)
        return "\(count(rows, "training row")): \(count(microBatchesPerEpoch, "micro-batch", "micro-batches")) of \(batchSize) "
            + "an epoch, \(count(optimizerStepsPerEpoch, "optimizer step")) an epoch (accumulating \(accumulation)); "
            + "\(count(totalSteps, "step")), \(epochText)"
    }

    /// The trainer_state.json members (Hugging Face's names where it has them).
    static let keys = ["training_rows", "micro_batches_per_epoch", "train_batch_size", "optimizer_steps_per_epoch",
                       "gradient_accumulation_steps", "max_steps"]
    var values: [Int] { [rows, microBatchesPerEpoch, batchSize, optimizerStepsPerEpoch, accumulation, totalSteps] }

    init(rows: Int, microBatchesPerEpoch: Int, batchSize: Int, optimizerStepsPerEpoch: Int, accumulation: Int, totalSteps: Int) {
        self.rows = rows
        self.microBatchesPerEpoch = microBatchesPerEpoch
        self.batchSize = batchSize
        self.optimizerStepsPerEpoch = optimizerStepsPerEpoch
        self.accumulation = accumulation
        self.totalSteps = totalSteps
    }

    /// The plan recorded in a trainer_state.json, nil when it has none (a checkpoint of an earlier version).
    init?(_ json: JSONValue) {
        let values = Self.keys.compactMap { json[$0]?.doubleValue.flatMap { Int(exactly: $0) } }
        guard values.count == Self.keys.count else { return nil }
        self.init(rows: values[0], microBatchesPerEpoch: values[1], batchSize: values[2], optimizerStepsPerEpoch: values[3],
                  accumulation: values[4], totalSteps: values[5])
    }
}
