import Foundation

/// The reference trainer's YAML keys (Hugging Face TrainingArguments plus the SPLADE ones), so its
/// published configs run as they are. Values come as a JSON-like tree (the tool converts YAML);
/// relative paths resolve against the working directory.
public struct TrainingConfig: Sendable {
    public var modelPath: String
    public var trainData: [String]
    public var outputDirectory: String
    public var batchSize = 8
    public var gradientAccumulationSteps = 1
    public var epochs: Double = 3
    /// > 0 overrides epochs.
    public var maxSteps = -1
    public var learningRate: Float = 5e-5
    public var scheduler = LearningRateSchedule.linear
    public var warmupRatio: Double = 0
    /// A step count, or below 1 a fraction of the run, as transformers 5 reads it; > 0 overrides warmup_ratio, as in
    /// transformers 4 (the configurations with warmup_ratio were written for it).
    public var warmupSteps: Double = 0
    public var weightDecay: Float = 0
    public var maxGradNorm: Float = 1
    public var adamBeta1: Float = 0.9, adamBeta2: Float = 0.999, adamEpsilon: Float = 1e-8
    public var groupSize = 8
    public var maxQueryLength = 64
    public var maxLength = 512
    public var losses: [(loss: RankingLoss, weight: Float)] = [(.crossEntropy, 1)]
    public var binarizeLabel = false
    // The SPLADE keys default as the reference trainer's arguments do, so a config that leaves them out trains alike.
    public var documentRegularizer = SparsityRegularizer.flops
    public var queryRegularizer = SparsityRegularizer.l1
    public var documentSparsityWeight: Float = 5e-3
    public var querySparsityWeight: Float = 5e-3
    /// An integer step count, or (0 < value < 1) a fraction of the run: see `sparsityWarmupLength`.
    public var documentSparsityWarmup: Double = 0.1
    public var querySparsityWarmup: Double = 0.1
    public var noiseTokens: [String] = []
    public var noiseTokensWeight: Float = 1
    public var seed: UInt64 = 42
    /// save_strategy with save_steps: when checkpoints are written.
    public var saving = StepInterval.steps(500)
    public var saveTotalLimit: Int?
    /// logging_strategy with logging_steps: which steps the log has.
    public var logging = StepInterval.steps(1)
    /// dataloader_drop_last: each epoch leaves out its last micro-batch when it has fewer than B rows.
    public var dropLastMicroBatch = false
    /// overwrite_output_dir: a new run may train over the model an earlier run left in the output directory.
    public var overwriteOutputDirectory = false
    /// resume_from_checkpoint (any true value or path, as the reference reads it): continue from the newest checkpoint.
    public var resumeFromCheckpoint = false
    /// remove_checkpoints (the reference's run option): remove the checkpoints once the final model is saved.
    public var removeCheckpoints = false
    public var hiddenDropout: Float?
    public var attentionDropout: Float?
    /// How a GPU multiplies, as `bf16: true` or `tf32: true` ask (bf16 wins); nil: float32. The CPU trains in float32.
    public var precision: GPUPrecision?
    /// Count fractional sparsity warm-ups in optimizer steps instead of the reference's micro-batches.
    public var warmupInOptimizerSteps = false
    /// The overrides the run was given on the command line: its checkpoints record them, so that a resumed run
    /// continues with them (see `Checkpoint.RunSettings`).
    public var commandLineOverrides: [ConfigOverride] = []

    /// Keys this trainer reads. Anything else is reported, never silently taken as honoured.
    static let knownKeys: Set<String> = [
        "model_name_or_path", "train_data", "output_dir", "per_device_train_batch_size", "gradient_accumulation_steps",
        "num_train_epochs", "max_steps", "learning_rate", "lr_scheduler_type", "warmup_ratio", "warmup_steps",
        "weight_decay", "max_grad_norm", "adam_beta1", "adam_beta2", "adam_epsilon", "train_group_size",
        "max_query_length", "max_length", "training_losses", "binarize_label", "regularizer_doc", "regularizer_query",
        "sparsity_weight_doc", "sparsity_weight_query", "sparsity_warmup_steps_doc", "sparsity_warmup_steps_query",
        "noise_tokens", "noise_tokens_weight", "seed", "save_strategy", "save_steps", "save_total_limit", "logging_strategy",
        "logging_steps",
        "hidden_dropout_prob", "attention_probs_dropout_prob", "dataloader_drop_last", "overwrite_output_dir",
        "resume_from_checkpoint", "remove_checkpoints", "optim",
    ]

    /// `optim` values that are the AdamW this trainer runs (Hugging Face's implementations of it); any other is warned about.
    static let adamWOptimizers: Set<String> = [
        "adamw_torch", "adamw_torch_fused", "adamw_torch_xla", "adamw_torch_npu_fused", "adamw_apex_fused", "adamw_hf",
    ]

    /// Mixed-precision switches: bf16 and tf32 set `precision`; fp16 is not implemented.
    static let precisionKeys: Set<String> = ["bf16", "fp16", "tf32"]

    /// Keys of the reference configs that only concern its Python runtime; these have no effect here.
    static let runtimeOnlyKeys: Set<String> = [
        "report_to", "logging_dir", "run_name", "remove_unused_columns", "dataloader_num_workers", "torch_compile",
        "push_to_hub", "disable_tqdm", "do_train",
    ]

    /// Parses the configuration; `warnings` lists keys that are not implemented (their values are ignored).
    /// `keySources` says where each key was set (its line, or a command-line override), for the messages
    /// about it; a key without one is blamed on `source`.
    public static func parse(_ settings: JSONValue, source: String, keySources: [String: ConfigKeySource] = [:])
        throws(SpladeError) -> (TrainingConfig, warnings: [String]) {
        guard case .object(let members) = settings else {
            throw SpladeError(.badInput, "the configuration is not a mapping of keys to values", location: source)
        }
        let reader = ConfigReader(members: Dictionary(members, uniquingKeysWith: { _, last in last }), source: source,
                                  keySources: keySources)
        // Unlike a file's key, a key typed on the command line is meant for this trainer: an unknown one is a mistake.
        let unknownKeys = members.map(\.key).filter { !knownKeys.contains($0) && !precisionKeys.contains($0) }
        for key in unknownKeys where !runtimeOnlyKeys.contains(key) {
            if case .commandLine(let typed)? = keySources[key] {
                throw SpladeError(.usage, "\(key) is not a configuration key", location: typed,
                                  hint: suggestion(for: key).map { "did you mean --\($0)?" }
                                      ?? "overrides take the configuration's keys, e.g. --learning_rate 1e-5")
            }
        }
        var config = TrainingConfig(modelPath: try reader.string("model_name_or_path"),
                                    trainData: try reader.strings("train_data"),
                                    outputDirectory: try reader.optionalString("output_dir") ?? "")
        try reader.integer("per_device_train_batch_size", into: &config.batchSize, minimum: 1)
        try reader.integer("gradient_accumulation_steps", into: &config.gradientAccumulationSteps, minimum: 1)
        try reader.double("num_train_epochs", into: &config.epochs, atLeast: 0)
        try reader.integer("max_steps", into: &config.maxSteps)
        // The ranges torch.optim.AdamW and TrainingArguments accept; anything else they refuse as it starts.
        try reader.float("learning_rate", into: &config.learningRate, atLeast: 0)
        if let name = try reader.optionalString("lr_scheduler_type") {
            guard let schedule = LearningRateSchedule(rawValue: name) else {
                throw reader.error("lr_scheduler_type",
                                   "lr_scheduler_type \"\(name)\" is not supported (cosine, linear, constant, constant_with_warmup)")
            }
            config.scheduler = schedule
        }
        try reader.double("warmup_ratio", into: &config.warmupRatio, atLeast: 0, atMost: 1)
        try reader.stepsOrFraction("warmup_steps", into: &config.warmupSteps)
        try reader.float("weight_decay", into: &config.weightDecay, atLeast: 0)
        // null turns clipping off in the Trainer (it clips only when max_grad_norm is set and above 0).
        if reader.isNull("max_grad_norm") { config.maxGradNorm = 0 } else {
            try reader.float("max_grad_norm", into: &config.maxGradNorm)
        }
        try reader.float("adam_beta1", into: &config.adamBeta1, atLeast: 0, below: 1)
        try reader.float("adam_beta2", into: &config.adamBeta2, atLeast: 0, below: 1)
        try reader.float("adam_epsilon", into: &config.adamEpsilon, atLeast: 0)
        try reader.integer("train_group_size", into: &config.groupSize, minimum: 1)
        try reader.integer("max_query_length", into: &config.maxQueryLength, minimum: 2)
        try reader.integer("max_length", into: &config.maxLength, minimum: 2)
        if let losses = members.last(where: { $0.key == "training_losses" })?.value {
            config.losses = try parseLosses(losses, reader: reader)
        }
        try reader.bool("binarize_label", into: &config.binarizeLabel)
        for (key, path) in [("regularizer_doc", \TrainingConfig.documentRegularizer), ("regularizer_query", \.queryRegularizer)] {
            if let name = try reader.optionalString(key) {
                guard let regularizer = SparsityRegularizer(rawValue: name) ?? (name.lowercased() == "l1" ? .l1 : nil) else {
                    throw reader.error(key, "\(key) \"\(name)\" is not supported (L1, flops)")
                }
                config[keyPath: path] = regularizer
            }
        }
        try reader.float("sparsity_weight_doc", into: &config.documentSparsityWeight)
        try reader.float("sparsity_weight_query", into: &config.querySparsityWeight)
        // The reference's (t / (T + 1))² has no meaning for T < 0 (T = −1 divides by zero).
        try reader.stepsOrFraction("sparsity_warmup_steps_doc", into: &config.documentSparsityWarmup)
        try reader.stepsOrFraction("sparsity_warmup_steps_query", into: &config.querySparsityWarmup)
        config.noiseTokens = try reader.noiseTokens("noise_tokens")
        try reader.float("noise_tokens_weight", into: &config.noiseTokensWeight)
        var seed = Int(config.seed)
        try reader.integer("seed", into: &seed, minimum: 0)
        config.seed = UInt64(seed)
        config.saving = try reader.interval("save", defaultSteps: 500)
        // null is the Trainer's default here: no limit.
        if !reader.isNull("save_total_limit") {
            var limit = -1
            try reader.integer("save_total_limit", into: &limit)
            config.saveTotalLimit = limit > 0 ? limit : nil
        }
        config.logging = try reader.interval("logging", defaultSteps: 1)
        try reader.bool("dataloader_drop_last", into: &config.dropLastMicroBatch)
        try reader.bool("overwrite_output_dir", into: &config.overwriteOutputDirectory)
        try reader.bool("remove_checkpoints", into: &config.removeCheckpoints)
        config.resumeFromCheckpoint = try reader.truthy("resume_from_checkpoint")
        config.hiddenDropout = try reader.probability("hidden_dropout_prob")
        config.attentionDropout = try reader.probability("attention_probs_dropout_prob")

        var warnings: [String] = []
        var bf16 = false, tf32 = false, fp16 = false
        try reader.bool("bf16", into: &bf16)
        try reader.bool("tf32", into: &tf32)
        try reader.bool("fp16", into: &fp16)
        config.precision = bf16 ? .bf16 : tf32 ? .tf32 : nil
        if fp16 {
            warnings.append("\(reader.location(of: "fp16")): fp16: true is not implemented (bf16: true is, on a GPU); fp16 is ignored")
        }
        if let optimizer = try reader.optionalString("optim"), !adamWOptimizers.contains(optimizer) {
            warnings.append("\(reader.location(of: "optim")): optim \(optimizer) is not implemented, ignored: training uses AdamW "
                            + "(adamw_torch)")
        }
        if config.warmupSteps > 0 && config.warmupRatio > 0 {
            warnings.append("\(reader.location(of: "warmup_steps")): warmup_steps and warmup_ratio are both set: warmup_steps is "
                            + "used, as in transformers 4 (transformers 5.0 and 5.1 use warmup_ratio; later versions have no warmup_ratio)")
        }
        if config.scheduler == .constant && (config.warmupSteps > 0 || config.warmupRatio > 0) {
            warnings.append("\(reader.location(of: "lr_scheduler_type")): lr_scheduler_type constant has no warm-up, as Hugging Face's; "
                            + "constant_with_warmup has one")
        }
        // Warned, not refused: the reference configs hold many keys this trainer does not implement.
        let notImplemented = unknownKeys.filter { !runtimeOnlyKeys.contains($0) }
            .sorted { (reader.line(of: $0), $0) < (reader.line(of: $1), $1) }
        for key in notImplemented {
            let typo = suggestion(for: key).map { " (did you mean \($0)?)" } ?? ""
            warnings.append("\(reader.location(of: key)): not implemented, ignored: \(key)\(typo)")
        }
        // Settings of the reference's Python runtime (data-loader workers, logging services) change no result here:
        // one line names them, so that none is taken as honoured.
        let runtimeOnly = unknownKeys.filter { runtimeOnlyKeys.contains($0) }
            .sorted { (reader.line(of: $0), $0) < (reader.line(of: $1), $1) }
        if !runtimeOnly.isEmpty {
            let named = runtimeOnly.map { key in
                switch reader.keySources[key] {
                case .file(let location)?: "\(key) (line \(location.line))"
                case .commandLine(let typed)?: "\(key) (\(typed))"
                case nil: key
                }
            }
            warnings.append("\(source): settings of the reference's Python runtime, without effect here: " + named.joined(separator: ", "))
        }
        return (config, warnings)
    }

    /// Whether a configuration may hold `key`: one this trainer reads, a precision switch, or one of the reference's
    /// runtime-only keys.
    public static func isConfigurationKey(_ key: String) -> Bool {
        knownKeys.contains(key) || precisionKeys.contains(key) || runtimeOnlyKeys.contains(key)
    }

    /// The key this trainer implements that `key` is likely a typo of: the nearest by edit distance, if near enough.
    static func suggestion(for key: String) -> String? {
        knownKeys.union(precisionKeys).nearest(to: key)
    }

    /// `training_losses`: a name, a list of names, or a map name → {weight, loss_kwargs}.
    static func parseLosses(_ value: JSONValue, reader: ConfigReader) throws(SpladeError) -> [(loss: RankingLoss, weight: Float)] {
        /// An error at the line of the nested key `path` (e.g. training_losses.kl_div.loss_kwargs.temperature), else
        /// at training_losses.
        func error(_ message: String, at path: String? = nil) -> SpladeError {
            path.flatMap { reader.keySources[$0] }?.error(message) ?? reader.error("training_losses", message)
        }
        func number(_ settings: JSONValue?, _ key: String, of name: String, at path: String, default fallback: Float)
            throws(SpladeError) -> Float {
            guard let value = settings?[key] else { return fallback }
            guard let number = value.doubleValue ?? value.stringValue.flatMap(Double.init) else {
                throw error("training_losses: \(name) \(key) must be a number\(value.typeName == "null" ? ", not null" : "")",
                            at: path + "." + key)
            }
            guard Float(number).isFinite else {
                throw error("training_losses: \(name) \(key) must be a finite number, not \(number)", at: path + "." + key)
            }
            return Float(number)
        }
        /// Keys of `settings` beyond `known` and `fixed` are errors: the reference passes loss_kwargs to the loss's
        /// constructor, which refuses an unknown one, and a misspelt weight would silently be 1. `fixed`: settings
        /// that constructor takes which this trainer computes at one value only (reduction: mean, say): accepted
        /// at that value.
        func checkKeys(_ settings: JSONValue?, known: [String], fixed: KeyValuePairs<String, String> = [:],
                       in what: String, at path: String) throws(SpladeError) {
            guard case .object(let entries)? = settings else { return }
            for (key, value) in entries where !known.contains(key) {
                if let implemented = fixed.first(where: { $0.key == key })?.value {
                    let same = value.doubleValue.map { Double(implemented) == $0 } ?? (value.stringValue == implemented)
                    guard same else {
                        throw error("training_losses: \(what) \(key) other than \(implemented) is not implemented", at: path + "." + key)
                    }
                    continue
                }
                let names = known + fixed.map(\.key)
                let close = names.first { key.editDistance(to: $0) <= 2 }
                throw error("training_losses: \(what) has no setting \"\(key)\"" + (close.map { " (did you mean \($0)?)" } ?? "")
                            + "; it takes " + (names.isEmpty ? "none" : names.joined(separator: ", ")), at: path + "." + key)
            }
        }
        func make(_ name: String, _ kwargs: JSONValue?) throws(SpladeError) -> RankingLoss {
            func takes(_ known: String..., fixed: KeyValuePairs<String, String> = [:]) throws(SpladeError) {
                try checkKeys(kwargs, known: known, fixed: fixed, in: "\(name) loss_kwargs", at: "training_losses.\(name).loss_kwargs")
            }
            // PyTorch's CrossEntropyLoss and MSELoss, and the reference's KLDivLoss, take these at these defaults.
            switch name {
            case "cross_entropy": try takes(fixed: ["reduction": "mean", "label_smoothing": "0", "ignore_index": "-100"]); return .crossEntropy
            case "kl_div":
                try takes("temperature", fixed: ["reduction": "batchmean"])
                let temperature = try number(kwargs, "temperature", of: name, at: "training_losses.kl_div.loss_kwargs", default: 1)
                guard temperature > 0 else {
                    throw error("training_losses: kl_div temperature must be positive", at: "training_losses.kl_div.loss_kwargs.temperature")
                }
                return .klDivergence(temperature: temperature)
            case "margin_mse":
                try takes("margin")
                return .marginMSE(margin: try number(kwargs, "margin", of: name, at: "training_losses.margin_mse.loss_kwargs", default: 0.05))
            case "distil_margin_mse": try takes(); return .distilMarginMSE
            case "mse": try takes(fixed: ["reduction": "mean"]); return .mse
            default:
                throw error("training loss \"\(name)\" is not supported (cross_entropy, kl_div, margin_mse, distil_margin_mse, mse)",
                            at: "training_losses.\(name)")
            }
        }
        switch value {
        case .string(let name): return [(try make(name, nil), 1)]
        case .array(let names):
            var result: [(loss: RankingLoss, weight: Float)] = []
            for name in names {
                guard let name = name.stringValue else { throw error("training_losses lists something other than names") }
                result.append((try make(name, nil), 1))
            }
            return result
        case .object(let entries):
            var result: [(loss: RankingLoss, weight: Float)] = []
            for (name, settings) in entries {
                try checkKeys(settings, known: ["weight", "loss_kwargs"], in: name, at: "training_losses.\(name)")
                result.append((try make(name, settings["loss_kwargs"]),
                               try number(settings, "weight", of: name, at: "training_losses.\(name)", default: 1)))
            }
            return result
        default:
            throw error("training_losses must be a name, a list or a map")
        }
    }

    /// The configured losses that take the teacher's scores as labels, by name: every one (SPEC-training.md: y is
    /// the scores as given), none under binarize_label (y = 1, 0, …, 0).
    public var lossesNeedingTeacherScores: [String] {
        binarizeLabel ? [] : losses.map(\.loss.configurationName)
    }

    /// Micro-batches in one pass over `rows` rows: the last one partial, or left out under dataloader_drop_last.
    public func microBatchesPerEpoch(rows: Int) -> Int {
        dropLastMicroBatch ? rows / batchSize : (rows + batchSize - 1) / batchSize
    }

    /// Optimizer steps in one epoch, as the Hugging Face Trainer counts them: every step takes A micro-batches but an
    /// epoch's last, which takes what is left, so ceil(micro-batches / A).
    public func optimizerStepsPerEpoch(rows: Int) -> Int {
        max(1, (microBatchesPerEpoch(rows: rows) + gradientAccumulationSteps - 1) / gradientAccumulationSteps)
    }

    /// The optimizer steps of the whole run: max_steps, else ceil(num_train_epochs × steps per epoch).
    public func totalOptimizerSteps(rows: Int) -> Int {
        if maxSteps > 0 { return maxSteps }
        return Int((epochs * Double(optimizerStepsPerEpoch(rows: rows))).rounded(.up))
    }

    /// The micro-batches of optimizer step `step` (counted from the start of training): its epoch, and their places in
    /// that epoch's order. A step never reaches into the next epoch; a run longer than the epochs go on into more.
    public func microBatches(ofStep step: Int, rows: Int) -> (epoch: Int, indices: Range<Int>) {
        let perEpoch = optimizerStepsPerEpoch(rows: rows)
        let first = (step % perEpoch) * gradientAccumulationSteps
        return (step / perEpoch, first..<min(microBatchesPerEpoch(rows: rows), first + gradientAccumulationSteps))
    }

    /// The learning rate's warm-up steps of a run of `total` steps: warmup_steps truncated (int() in transformers), a
    /// fraction below 1 of the run rounded up, else warmup_ratio of the run rounded up.
    public func warmupSteps(total: Int) -> Int {
        if warmupSteps >= 1 { return Int(warmupSteps) }
        return Int(((warmupSteps > 0 ? warmupSteps : warmupRatio) * Double(total)).rounded(.up))
    }

    /// T of the regulariser warm-up: an integer step count as given; a fraction of the run counted, as the reference
    /// does, in micro-batches: int(len(dataloader) × num_train_epochs), whatever max_steps says (so with accumulation A the
    /// ramp lasts A times longer than meant); or, when asked, in optimizer steps.
    public func sparsityWarmupLength(_ value: Double, rows: Int) -> Int {
        guard value > 0 && value < 1 else { return Int(value) }
        let units = warmupInOptimizerSteps ? totalOptimizerSteps(rows: rows)
            : Int(Double(microBatchesPerEpoch(rows: rows)) * epochs)
        return Int(value * Double(units))
    }
}

/// When something recurs in a run (checkpoints, log lines), as TrainingArguments' save_/logging_strategy say.
public enum StepInterval: Sendable, Equatable {
    case never
    /// Every N optimizer steps; N below 1 is that fraction of the run, rounded up (as the Trainer reads it).
    case steps(Double)
    /// At the end of every epoch.
    case epoch

    /// N of `.steps` in a run of `total` steps; nil for the other strategies.
    public func stepCount(total: Int) -> Int? {
        guard case .steps(let n) = self else { return nil }
        return n < 1 ? max(1, Int((n * Double(total)).rounded(.up))) : Int(n)
    }
}

/// A configuration key set on the command line (`--learning_rate 1e-5`): the key with underscores, the value as typed.
public struct ConfigOverride: Sendable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// As it would be typed again.
    public var typed: String { "--\(key) \(value)" }
}

/// Where a configuration key was set, so that a message about its value points there.
public enum ConfigKeySource: Sendable, CustomStringConvertible {
    /// The key's line in the configuration file; a bad value there is bad input.
    case file(InputLocation)
    /// A command-line override as typed, e.g. `--max_steps abc`; a bad value there is a usage error.
    case commandLine(String)

    public var description: String {
        switch self {
        case .file(let location): location.description
        case .commandLine(let typed): typed
        }
    }

    /// An error about the value set here: bad input at the file's line, a usage error for an override.
    public func error(_ message: String) -> SpladeError {
        switch self {
        case .file(let location): SpladeError(.badInput, message, location: location.description)
        case .commandLine(let typed): SpladeError(.usage, message, location: typed)
        }
    }
}

/// Typed access to configuration values, with errors that name the key and where it was set.
struct ConfigReader {
    let members: [String: JSONValue]
    let source: String
    let keySources: [String: ConfigKeySource]

    /// An error about `key`'s value, at the key's line or override (else the file).
    func error(_ key: String, _ message: String) -> SpladeError {
        keySources[key]?.error(message) ?? SpladeError(.badInput, message, location: source)
    }

    /// `FILE:LINE` of `key`, its override as typed, or just the file.
    func location(of key: String) -> String { keySources[key]?.description ?? source }

    /// The line of `key` in the file (0 when not known), to list keys in the file's order.
    func line(of key: String) -> Int {
        if case .file(let location)? = keySources[key] { location.line } else { 0 }
    }

    func optionalString(_ key: String) throws(SpladeError) -> String? {
        guard let value = members[key], value.typeName != "null" else { return nil }
        switch value {
        case .string(let s): return s
        case .number(let n): return n
        default: throw error(key, "\(key) must be a string")
        }
    }

    func string(_ key: String) throws(SpladeError) -> String {
        guard let value = try optionalString(key) else { throw error(key, "missing \(key)") }
        return value
    }

    func strings(_ key: String) throws(SpladeError) -> [String] {
        switch members[key] {
        case .string(let s)?: return [s]
        case .array(let items)?:
            guard !items.isEmpty else { throw error(key, "\(key) lists no paths") }
            // The reference trainer also takes {dataset_class: …} entries, datasets its Python code loads itself.
            if items.contains(where: { $0["dataset_class"] != nil }) {
                throw error(key, "\(key) lists a dataset_class entry (a dataset the reference trainer's Python code loads); "
                            + "list files or directories of JSON Lines training rows instead (splade-filter writes them)")
            }
            return try texts(items, of: key, else: "\(key) must list paths")
        default: throw error(key, "missing \(key) (a path or a list of paths)")
        }
    }

    /// The items of `key`'s list, each a string (else the error `message`).
    private func texts(_ items: [JSONValue], of key: String, else message: String) throws(SpladeError) -> [String] {
        var result: [String] = []
        for item in items {
            guard let text = item.stringValue else { throw error(key, message) }
            result.append(text)
        }
        return result
    }

    /// A finite number within the bounds given; unset leaves `target`. null is refused, as the reference's
    /// arguments (typed numbers) fail on None.
    func double(_ key: String, into target: inout Double, atLeast minimum: Double? = nil, below limit: Double? = nil,
                atMost maximum: Double? = nil) throws(SpladeError) {
        guard let value = members[key] else { return }
        guard let number = value.doubleValue ?? value.stringValue.flatMap(Double.init) else {
            throw error(key, "\(key) must be a number\(value.typeName == "null" ? ", not null" : "")")
        }
        guard number.isFinite else { throw error(key, "\(key) must be a finite number, not \(number)") }
        let within = (minimum.map { number >= $0 } ?? true) && (limit.map { number < $0 } ?? true)
            && (maximum.map { number <= $0 } ?? true)
        guard within else {
            let bounds = [minimum.map { "at least \(Self.text($0))" }, limit.map { "below \(Self.text($0))" },
                          maximum.map { "at most \(Self.text($0))" }].compactMap { $0 }
            throw error(key, "\(key) must be \(bounds.joined(separator: " and ")), not \(Self.text(number))")
        }
        target = number
    }

    /// A bound or value as the configuration would write it (1, not 1.0).
    static func text(_ x: Double) -> String { x == x.rounded() && abs(x) < 1e15 ? String(Int(x)) : "\(x)" }

    func float(_ key: String, into target: inout Float, atLeast minimum: Double? = nil, below limit: Double? = nil)
        throws(SpladeError) {
        var value = Double(target)
        try double(key, into: &value, atLeast: minimum, below: limit)
        guard Float(value).isFinite else { throw error(key, "\(key) \(value) is beyond the range of a float32") }
        // The optimizer computes in float32: 0.9999999999 is 1 there (and 1 − β₂ᵗ = 0 divides by zero).
        if let limit, Double(Float(value)) >= limit {
            throw error(key, "\(key) \(value) is \(Self.text(limit)) in float32, where training computes; it must be below")
        }
        target = Float(value)
    }

    /// A number of steps: a fraction of the run below 1, else a count (truncated, as int() does, so below 2^53);
    /// never negative.
    func stepsOrFraction(_ key: String, into target: inout Double) throws(SpladeError) {
        var value = target
        try double(key, into: &value, atLeast: 0)
        guard value < 0x1p53 else { throw error(key, "\(key) \(value) is not a step count") }
        target = value
    }

    /// Whether `key` is set to null (which some keys take as "unset", as the Trainer does).
    func isNull(_ key: String) -> Bool { members[key]?.typeName == "null" }

    /// `PREFIX_strategy` with `PREFIX_steps`, as TrainingArguments reads them: "no", "epoch", or "steps" every
    /// `PREFIX_steps` steps (an integer, or below 1 a fraction of the run).
    func interval(_ prefix: String, defaultSteps: Double) throws(SpladeError) -> StepInterval {
        let strategyKey = prefix + "_strategy", stepsKey = prefix + "_steps"
        var steps = defaultSteps
        try double(stepsKey, into: &steps, atLeast: 0)
        guard steps > 0, steps < 1 || Int(exactly: steps) != nil else {
            throw error(stepsKey, "\(stepsKey) must be an integer, or below 1 a fraction of the run, not \(Self.text(steps))")
        }
        // An unquoted `no` is YAML's false: the value meant is "no".
        if case .bool(false)? = members[strategyKey] { return .never }
        switch try optionalString(strategyKey) {
        case nil, "steps": return .steps(steps)
        case "epoch": return .epoch
        case "no": return .never
        case let other?:
            throw error(strategyKey, "\(strategyKey) \"\(other)\" is not supported (no, steps, epoch"
                        + (prefix == "save" ? "; best needs an evaluation, which this trainer does not run)" : ")"))
        }
    }

    /// A probability within 0 and 1, nil when `key` is not set.
    func probability(_ key: String) throws(SpladeError) -> Float? {
        guard members[key] != nil, !isNull(key) else { return nil }
        var probability = 0.0
        try double(key, into: &probability, atLeast: 0, atMost: 1)
        return Float(probability)
    }

    func integer(_ key: String, into target: inout Int, minimum: Int? = nil) throws(SpladeError) {
        var value = Double(target)
        try double(key, into: &value)
        guard let integer = Int(exactly: value), abs(value) < 0x1p53 else { throw error(key, "\(key) must be an integer") }
        if let minimum, integer < minimum { throw error(key, "\(key) must be at least \(minimum)") }
        target = integer
    }

    func bool(_ key: String, into target: inout Bool) throws(SpladeError) {
        guard let value = members[key], value.typeName != "null" else { return }
        guard case .bool(let b) = value else { throw error(key, "\(key) must be true or false") }
        target = b
    }

    /// A value read as Python's truth test reads it (true, a non-empty path, a non-zero number); unset is false.
    func truthy(_ key: String) throws(SpladeError) -> Bool {
        switch members[key] {
        case nil: return false
        case .bool(let b)?: return b
        case .string(let s)?: return !s.isEmpty
        case .number(let n)?: return Double(n) != 0
        case let value?:
            if value.typeName == "null" { return false }
            throw error(key, "\(key) must be true, false or a path")
        }
    }

    /// noise_tokens as the reference splits it: a string cut at every run of whitespace (re.split(r"\s+"), so
    /// whitespace at either end gives an empty token, which is unknown and counts as [UNK]), or a list of tokens.
    func noiseTokens(_ key: String) throws(SpladeError) -> [String] {
        switch members[key] {
        case .array(let items)?: return try texts(items, of: key, else: "\(key) must be a string or a list of strings")
        default:
            guard let text = try optionalString(key) else { return [] }
            // Split on code points, not Characters: a Character would glue a combining mark (e.g. Thai U+0E34) to
            // the space before it and lose it.
            let isSpace = { (scalar: Unicode.Scalar) in UnicodeClasses.isPythonWhitespace(scalar.value) }
            let tokens = text.unicodeScalars.split(whereSeparator: isSpace).map { String(String.UnicodeScalarView($0)) }
            let emptyFirst = text.unicodeScalars.first.map(isSpace) ?? true
            let emptyLast = text.unicodeScalars.last.map(isSpace) ?? false
            return (emptyFirst ? [""] : []) + tokens + (emptyLast ? [""] : [])
        }
    }
}

extension RankingLoss {
    /// The loss's name in `training_losses`.
    var configurationName: String {
        switch self {
        case .crossEntropy: "cross_entropy"
        case .klDivergence: "kl_div"
        case .marginMSE: "margin_mse"
        case .distilMarginMSE: "distil_margin_mse"
        case .mse: "mse"
        }
    }
}

extension TrainingConfig {
    /// AdamW's hyperparameters from the configuration.
    var adamWSettings: AdamW.Settings {
        AdamW.Settings(beta1: adamBeta1, beta2: adamBeta2, epsilon: adamEpsilon, weightDecay: weightDecay)
    }
}
