import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore
import Yams

@main
struct SpladeTrain: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-train",
        abstract: "Fine-tune a SPLADE model, computing what the reference trainer computes.",
        discussion: """
            Reads the reference trainer's YAML configuration (model_name_or_path, train_data, \
            per_device_train_batch_size, gradient_accumulation_steps, num_train_epochs or max_steps, \
            learning_rate, lr_scheduler_type, warmup_ratio or warmup_steps (below 1 a fraction of the run, as in \
            transformers 5), weight_decay, max_grad_norm, \
            train_group_size, max_query_length, max_length, training_losses, binarize_label, \
            regularizer_doc/query, sparsity_weight_doc/query, sparsity_warmup_steps_doc/query, noise_tokens, \
            noise_tokens_weight, seed, save_strategy and logging_strategy (no, steps, epoch), save_steps and \
            logging_steps (below 1 a fraction of the run), save_total_limit, output_dir, \
            hidden_dropout_prob, attention_probs_dropout_prob, dataloader_drop_last, overwrite_output_dir (train \
            over a model already in the output directory; checkpoints are never removed, but continued with \
            --resume), resume_from_checkpoint (as --resume), remove_checkpoints (once the final model is saved), \
            optim (AdamW's names only), and bf16 or tf32, \
            which on a GPU set the default --precision; the CPU trains in float32); keys it does not implement are \
            listed in a warning. Keys left out take the reference's defaults, among them regularizer_doc flops, \
            regularizer_query L1, sparsity_weight_doc/query 5e-3 and sparsity_warmup_steps_doc/query 0.1. Any key \
            can be overridden after the options: --learning_rate 1e-5 --max_steps 100 (a checkpoint records them: \
            --resume continues with them unless given again). Relative paths resolve against the working directory.

            Training data: JSON Lines rows with a query (query|qry|question|q), positives (pos|positive|positives) \
            and negatives (neg|negative|negatives), texts or lists, with aligned teacher scores \
            (pos_score|positive_score|positive_scores|positives_score, and the neg_ forms: the losses' \
            labels, required unless binarize_label: true); files or directories of .jsonl / .jsonl.zst files.

            Output: OUTPUT_DIR/checkpoint-N every save_steps (a Hugging Face model directory plus \
            optimizer.safetensors and trainer_state.json for --resume), the final model in OUTPUT_DIR \
            (config.json, model.safetensors with the decoder tied as save_pretrained writes it, tokenizer \
            files), and a JSON Lines log (OUTPUT_DIR/training_log.jsonl, or --log) of every logging_steps-th \
            step: epochs done, loss terms, lambda values, learning rate, gradient norm, query/document L0, tokens/s, \
            seconds. An optimizer step takes gradient_accumulation_steps micro-batches, an epoch's last one what is \
            left, as in the Hugging Face Trainer; standard error says the plan at the start (micro-batches and \
            optimizer steps an epoch, steps and epochs in all). \
            SIGINT, SIGTERM or SIGHUP saves a checkpoint after the current step and exits 128 + signal; a \
            non-finite loss stops with status 70 and saves nothing. A run locks its output directory: a second \
            run into it exits 75. Values out of the ranges PyTorch and transformers accept (a negative learning \
            rate, adam_beta1 of 1 or more, warmup_ratio beyond 0…1, NaN) are errors at their line.

            EXAMPLES
              splade-train --config train.yaml
              splade-train --config train.yaml --output-dir runs/v1 --max_steps 1000
              splade-train --config train.yaml --output-dir runs/v1 --resume
              splade-train --config train.yaml --dry-run --resume
              splade-train --config train.yaml --device cuda --precision bf16
              tail -f runs/v1/training_log.jsonl | jq -c '{step, loss, lr}'

            \(ExitStatus.table)
            """)

    @Option(help: ArgumentHelp("The training configuration (the reference trainer's YAML keys).", valueName: "file"),
            completion: .file(extensions: ["yaml", "yml"]))
    var config: String

    @Option(help: ArgumentHelp("Where checkpoints and the final model go (overrides output_dir).", valueName: "dir"),
            completion: .directory)
    var outputDir: String?

    @Flag(help: "Continue from the latest checkpoint-N in the output directory (without one, start at step 0), with the overrides and --sparsity-warmup-in-optimizer-steps of the run that wrote it, unless given again.")
    var resume = false

    @Option(help: ArgumentHelp("The JSON Lines log; '-' is standard output (default: OUTPUT_DIR/training_log.jsonl).", valueName: "file"))
    var log: String?

    @Option(help: ArgumentHelp("MeCab dictionary directory for Japanese tokenizers (see splade-tokenize).", valueName: "dir"),
            completion: .directory)
    var mecabDic: String?

    @Option(name: .customLong("threads"), help: ArgumentHelp("Threads for tokenization and the maths (default: the number of cores). On the CPU a seed gives the same run again at the same thread count; another count sums in another order (losses about 1e-6 apart). A GPU adds some gradients atomically: its runs differ as slightly from one another.", valueName: "n"))
    var threadCount: Int?
    /// --threads, else the number of cores (kept out of the option's default, so --help and the man pages
    /// do not print this machine's count).
    var threads: Int { threadCount ?? StreamOptions.defaultThreads }

    @Flag(help: "Count fractional sparsity warm-ups in optimizer steps rather than micro-batches (the reference counts micro-batches).")
    var sparsityWarmupInOptimizerSteps = false

    @Flag(help: ArgumentHelp(progressHelp))
    var progress = false

    @Flag(help: "Check the configuration, the model, its tokenizer, the training data and the checkpoint --resume would continue, say the plan, and exit without training or writing anything.")
    var dryRun = false

    @OptionGroup(title: "Device") var deviceOptions: DeviceOptions

    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Configuration overrides: --KEY VALUE (or --KEY=VALUE) pairs.",
                                                            valueName: "--key value"))
    var overrides: [String] = []

    /// The overrides as (--KEY, VALUE) pairs, written `--KEY VALUE` or `--KEY=VALUE` as the reference trainer's argument
    /// parser takes them; nil when they do not pair up.
    private var overridePairs: [(flag: String, value: String)]? {
        var pairs: [(flag: String, value: String)] = []
        var i = 0
        while i < overrides.count {
            let argument = overrides[i]
            guard argument.hasPrefix("--") else { return nil }
            if let equals = argument.firstIndex(of: "=") {
                pairs.append((String(argument[..<equals]), String(argument[argument.index(after: equals)...])))
                i += 1
            } else {
                guard i + 1 < overrides.count else { return nil }
                pairs.append((argument, overrides[i + 1]))
                i += 2
            }
        }
        return pairs
    }

    func validate() throws {
        try StreamOptions.validateCount(threads, option: "--threads", limit: StreamOptions.maxThreads)
        // Unknown --names are taken as overrides: one that is no configuration key but near an option is a misspelt option.
        for argument in overrides where argument.hasPrefix("--") {
            let key = String(argument.dropFirst(2).prefix { $0 != "=" }).replacingOccurrences(of: "-", with: "_")
            if !TrainingConfig.isConfigurationKey(key), let option = ToolMain.option(nearestTo: argument) {
                throw ValidationError("unknown option '\(argument.prefix { $0 != "=" })'. Did you mean '\(option)'?")
            }
        }
        guard overridePairs != nil else {
            throw ValidationError("overrides come as --KEY VALUE (or --KEY=VALUE) pairs, e.g. --learning_rate 1e-5")
        }
    }

    func run() throws {
        try ToolMain.run("splade-train", interruptible: true) {
            try train()
        }
    }

    /// An override and where it came from: this command line, or a checkpoint's record of the run it continues.
    private struct AppliedOverride {
        var override: ConfigOverride
        var source: ConfigKeySource
    }

    /// Keys that say how this invocation treats the output directory, never carried from the run it resumes.
    static let keysOfTheResumingRun: Set<String> = ["output_dir", "resume_from_checkpoint", "overwrite_output_dir"]

    /// The configuration file with `overrides` applied (each the source of its key) and --output-dir, parsed.
    private func configuration(_ file: (JSONValue, keySources: [String: ConfigKeySource]), applying overrides: [AppliedOverride])
        throws(SpladeError) -> (TrainingConfig, keySources: [String: ConfigKeySource], warnings: [String]) {
        var (settings, keySources) = file
        for applied in overrides {
            settings = settings.setting(applied.override.key, to: Self.scalar(applied.override.value))
            keySources[applied.override.key] = applied.source
        }
        var (training, warnings) = try TrainingConfig.parse(settings, source: config, keySources: keySources)
        if let outputDir { training.outputDirectory = outputDir }
        guard !training.outputDirectory.isEmpty else {
            throw SpladeError(.usage, "no output directory: set output_dir in \(config) or pass --output-dir")
        }
        return (training, keySources, warnings)
    }

    private func train() throws {
        let file = try Self.readYAML(config)
        var applied = (overridePairs ?? []).map { flag, value in
            AppliedOverride(override: ConfigOverride(key: String(flag.dropFirst(2)).replacingOccurrences(of: "-", with: "_"), value: value),
                            source: .commandLine("\(flag) \(value)"))
        }
        var (training, keySources, warnings) = try configuration(file, applying: applied)
        let output = training.outputDirectory
        let resume = resume || training.resumeFromCheckpoint
        var warmupInOptimizerSteps = sparsityWarmupInOptimizerSteps
        // A resumed run continues the run it interrupted: the command-line settings its checkpoint records come along,
        // unless given again, so that `--resume` without that run's `--max_steps 1000` does not end it at the file's steps.
        if resume, let latest = Checkpoint.list(in: output).last, let recorded = Checkpoint.recordedSettings(latest.path) {
            let carried = recorded.overrides.filter { old in
                !Self.keysOfTheResumingRun.contains(old.key) && !applied.contains { $0.override.key == old.key }
            }
            let carriesFlag = recorded.warmupInOptimizerSteps && !warmupInOptimizerSteps
            if !carried.isEmpty || carriesFlag {
                applied += carried.map { AppliedOverride(override: $0, source: .commandLine("\($0.typed) (from \(latest.path))")) }
                (training, keySources, warnings) = try configuration(file, applying: applied)
                warmupInOptimizerSteps = warmupInOptimizerSteps || carriesFlag
                let typed = carried.map(\.typed) + (carriesFlag ? ["--sparsity-warmup-in-optimizer-steps"] : [])
                Diagnostics.note("continuing with what the run that wrote \(latest.path) was given on the command line: "
                                 + typed.joined(separator: " "))
            }
        }
        warnings.forEach(Diagnostics.warning)
        training.warmupInOptimizerSteps = warmupInOptimizerSteps
        training.commandLineOverrides = applied.map(\.override)
        let precisionKey = training.precision == .bf16 ? "bf16" : "tf32"
        let (device, precision) = try deviceOptions.resolve(configured: training.precision,
                                                            source: keySources[precisionKey]?.description ?? config)
        // The run's files must not land among what it reads: the model's files replaced, a log read as training data.
        try OutputSink.refuseReplacingAnInput(output, inputs: [config] + training.trainData,
                                              inputDirectories: [training.modelPath] + training.trainData)
        try Self.refuseWritingBesideTrainingData(output: output, data: training.trainData)
        // Said at once, and again once the directory is locked (another run may have finished into it meanwhile); a run
        // still writing into it is said first, as what its checkpoints mean.
        try Self.refuseIfAnotherRunWrites(output)
        var checkpoints = try Self.checkpointsToContinue(in: output, resume: resume, overwrite: training.overwriteOutputDirectory)
        let logPath = log ?? output + "/training_log.jsonl"
        // Said before minutes of loading: the output side a run would fail on at its end.
        try Self.checkWritable(output: output, log: log)
        if let log {
            try OutputSink.refuseReplacingAnInput(log, inputs: [config] + training.trainData,
                                                  inputDirectories: [training.modelPath] + training.trainData)
        }

        let modelConfigPath = training.modelPath + "/config.json"
        var modelConfig = try BertConfig.load(modelConfigPath)
        var modelConfigJSON = try Self.readJSON(modelConfigPath)
        if let p = training.hiddenDropout { modelConfig.hiddenDropout = p; modelConfigJSON = modelConfigJSON.setting("hidden_dropout_prob", to: .number("\(p)")) }
        if let p = training.attentionDropout {
            modelConfig.attentionDropout = p
            modelConfigJSON = modelConfigJSON.setting("attention_probs_dropout_prob", to: .number("\(p)"))
        }
        // The lengths against the model's positions now, not at the first text that long: one set too long is an
        // error where it was set; the default is cut to the model's positions, as splade-encode's --max-length.
        for (key, length) in [("max_query_length", \TrainingConfig.maxQueryLength), ("max_length", \.maxLength)]
        where training[keyPath: length] > modelConfig.maxPositions {
            guard let source = keySources[key] else { training[keyPath: length] = modelConfig.maxPositions; continue }
            throw source.error("\(key) \(training[keyPath: length]) exceeds the model's \(modelConfig.maxPositions) positions")
        }
        let tokenizer = try TokenizerOptions.loadTokenizer(modelDirectory: training.modelPath, mecabDic: mecabDic)
        guard tokenizer.vocabulary.count == modelConfig.vocabularySize else {
            throw SpladeError(.badInput, "the model's vocabulary has \(modelConfig.vocabularySize) entries but its tokenizer's has "
                              + "\(tokenizer.vocabulary.count)", location: training.modelPath)
        }
        BLAS.threads = threads
        FreedMemory.keepForReuse()
        let weights = try BertWeights.load(directory: training.modelPath, config: modelConfig)
        let passedOver = TrainingData.filesPassedOver(in: training.trainData)
        if !passedOver.isEmpty {
            Diagnostics.warning("not training data (only .jsonl and .jsonl.zst files in a directory are read), left out: "
                                + passedOver.prefix(5).joined(separator: ", ") + (passedOver.count > 5 ? ", …" : ""))
        }
        let rows = try TrainingData.load(training.trainData, groupSize: training.groupSize,
                                         teacherScoresNeededBy: training.lossesNeedingTeacherScores)
        let short = rows.filter { $0.negatives.count < training.groupSize - 1 }
        if let first = short.first {
            Diagnostics.warning("\(short.count) of \(rows.count) rows (the first at \(first.location)) have fewer than train_group_size − 1 = "
                                + "\(training.groupSize - 1) negatives: theirs are sampled with replacement, so a group repeats documents",
                                hint: "make the rows with splade-filter --min-negatives \(training.groupSize - 1), or lower train_group_size")
        }
        let trainer = try Trainer(config: training, modelConfig: modelConfig, weights: weights, rows: rows, tokenizer: tokenizer,
                                  threads: threads, device: device, precision: precision)
        let unknownNoise = trainer.noiseTokensNotInVocabulary
        if !unknownNoise.isEmpty {
            let listed = unknownNoise.prefix(10).map { $0.isEmpty ? "\"\" (an empty token)" : $0 }.joined(separator: ", ")
                + (unknownNoise.count > 10 ? ", …" : "")
            let unknownToken = tokenizer.tokens(of: [tokenizer.unknownId])[0]
            Diagnostics.warning("\(keySources["noise_tokens"]?.description ?? config): noise_tokens: "
                                + (unknownNoise.count == 1 ? "1 token is" : "\(unknownNoise.count) tokens are")
                                + " not in the vocabulary and count as \(unknownToken): \(listed)")
        }
        Diagnostics.note(trainer.plan.description)
        // Interrupted while loading: nothing is made yet, nothing to save.
        if ToolMain.interruption != 0 { throw ExitCode(128 + ToolMain.interruption) }
        var madeDirectories: [String] = []
        // A run that made the directory (and its missing parents) and fails before writing anything into it (its log
        // unwritable, say) leaves nothing behind: rmdir(2) removes only an empty directory, so a run that saved anything
        // keeps it, and the parents holding it.
        defer { for directory in madeDirectories.reversed() where rmdir(directory) != 0 { break } }
        if !dryRun {
            // Made only now, so that a run refused for its inputs leaves nothing behind; locked, so that a second run
            // (an overlapping cron job) cannot write the same checkpoints.
            madeDirectories = try Self.lockOutputDirectory(output)
            for leftover in Checkpoint.removeStagingLeftovers(in: output) {
                Diagnostics.note("removed \(leftover), left by a run killed while saving")
            }
            checkpoints = try Self.checkpointsToContinue(in: output, resume: resume, overwrite: training.overwriteOutputDirectory)
        }
        if resume, let latest = checkpoints.last {
            switch try trainer.restore(from: latest.path) {
            case .same, .unrecorded(streamedStepsPerEpoch: nil): break
            case .other(let earlier):
                Diagnostics.warning("\(latest.path) was written by a run of \(earlier); from step \(trainer.step) on, the "
                                    + "micro-batches and the learning-rate schedule are this run's")
            case .unrecorded(streamedStepsPerEpoch: let earlier?):
                Diagnostics.warning("\(latest.path) records no plan: an earlier splade-train wrote it, which took micro-batches in "
                                    + "one stream across epochs (\(counted(earlier, "optimizer step")) an epoch here, "
                                    + "where this run ends each epoch with a step of the micro-batches left over: "
                                    + "\(trainer.plan.optimizerStepsPerEpoch)); from step \(trainer.step) on, the micro-batches and the "
                                    + "learning-rate schedule are this run's")
            }
            if trainer.step > trainer.totalSteps {
                // A plan cut short (the file's steps, an override left out): the final model is the checkpoint's weights.
                Diagnostics.warning("\(latest.path) is past the end of this run's \(trainer.totalSteps) steps: nothing is trained, "
                                    + "the final model is its weights", hint: "to train on, give the run more steps (max_steps or num_train_epochs)")
            }
            Diagnostics.note("\(dryRun ? "would resume" : "resuming") from \(latest.path) at step \(trainer.step) of \(trainer.totalSteps)")
        } else if resume {
            // A cron job's first run passes --resume too: not an error, but said.
            Diagnostics.note("no checkpoint in \(output) to resume from: starting at step 0")
        }
        if dryRun { return }
        let logSink = try LogSink(path: logPath, resumingAt: resume ? trainer.step : nil)
        let firstStep = trainer.step
        let bar = Progress(label: "train", unit: "steps", inputPath: nil, forced: progress,
                           totalItems: trainer.totalSteps - firstStep)
        let stepsPerEpoch = trainer.plan.optimizerStepsPerEpoch
        let logEvery = training.logging.stepCount(total: trainer.totalSteps)
        let saveEvery = training.saving.stepCount(total: trainer.totalSteps)
        var tokens = 0
        while trainer.step < trainer.totalSteps {
            let stepClock = Stopwatch()
            let entry = try trainer.trainStep()
            let seconds = stepClock.lap()
            let last = trainer.step == trainer.totalSteps
            let endsEpoch = trainer.step % stepsPerEpoch == 0
            // Log lines: every logging_steps-th step counted from step 0, or each epoch's last step; and the run's last.
            let logs = switch training.logging {
            case .never: false
            case .epoch: endsEpoch || last
            case .steps: entry.step % logEvery! == 0 || last
            }
            if logs { try logSink.write(Self.logLine(entry, seconds: seconds)) }
            tokens += entry.tokens
            bar.update(items: trainer.step - firstStep, extra: (tokens, "tokens"))
            let saves = switch training.saving {
            case .never: false
            case .epoch: endsEpoch && !last
            case .steps: trainer.step % saveEvery! == 0 && !last
            }
            if saves { try trainer.saveCheckpoint(outputDirectory: output, modelConfigJSON: modelConfigJSON) }
            // (After the last step the run ends as it would have: its checkpoint and model come next.)
            if ToolMain.interruption != 0 && !last {
                bar.finish()
                if !saves { try trainer.saveCheckpoint(outputDirectory: output, modelConfigJSON: modelConfigJSON) }
                Diagnostics.note("interrupted: saved \(output)/checkpoint-\(trainer.step); continue with --resume")
                throw ExitCode(128 + ToolMain.interruption)
            }
        }
        bar.finish()
        // (Under remove_checkpoints the last checkpoint would only be written to be removed.)
        if !training.removeCheckpoints && training.saving != .never {
            try trainer.saveCheckpoint(outputDirectory: output, modelConfigJSON: modelConfigJSON)
        }
        try trainer.saveFinalModel(outputDirectory: output, modelConfigJSON: modelConfigJSON)
        try logSink.close()
        if training.removeCheckpoints {
            for checkpoint in Checkpoint.list(in: output) {
                do { try FileManager.default.removeItem(atPath: checkpoint.path) } catch {
                    throw SpladeError.writing("a checkpoint (remove_checkpoints)", failedWith: error, at: checkpoint.path)
                }
            }
        }
    }

    static func logLine(_ entry: Trainer.StepLog, seconds: Double) -> String {
        func number(_ value: Float) -> String { value.isFinite ? "\(value)" : "null" }
        return "{\"step\":\(entry.step),\"epoch\":\(entry.loggedEpoch),\"lr\":\(number(entry.learningRate)),\"lambda_doc\":\(number(entry.lambdaDoc)),"
            + "\"lambda_query\":\(number(entry.lambdaQuery)),\"lambda_noise\":\(number(entry.lambdaNoise)),"
            + "\"rank_loss\":\(number(entry.rankLoss)),\"reg_doc\":\(number(entry.regularizerDoc)),"
            + "\"reg_query\":\(number(entry.regularizerQuery)),\"noise_sum\":\(number(entry.noiseSum)),"
            + "\"loss\":\(number(entry.loss)),\"grad_norm\":\(number(entry.gradientNorm)),"
            + "\"query_l0\":\(number(entry.queryL0)),\"doc_l0\":\(number(entry.documentL0)),"
            + "\"tokens_per_s\":\(Int((Double(entry.tokens) / max(seconds, 1e-9)).rounded())),"
            + "\"seconds\":\(String(format: "%.3f", seconds))}\n"
    }

    static func readJSON(_ path: String) throws(SpladeError) -> JSONValue {
        let data = try InputFile.contents(path, what: "the model configuration")
        return try JSON.parseFile(data, path: path)
    }

    /// The configuration's values, and the line of each top-level key (for messages about its value).
    static func readYAML(_ path: String) throws(SpladeError) -> (JSONValue, keySources: [String: ConfigKeySource]) {
        let data = try InputFile.contents(path, what: "the configuration")
        guard var text = String(validating: data, as: UTF8.self) else { throw SpladeError(.badInput, "not UTF-8", location: path) }
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // a byte-order mark, which PyYAML skips
        do {
            guard let root = try Yams.compose(yaml: text) else { throw SpladeError(.badInput, "empty configuration", location: path) }
            guard expandedSize(of: root, limit: maxConfigurationValues) <= maxConfigurationValues else {
                throw SpladeError(.badInput, "the configuration expands to more than \(maxConfigurationValues) values",
                                  location: path, hint: "YAML aliases nested in aliases multiply: PyYAML shares them, a copy cannot")
            }
            var keySources: [String: ConfigKeySource] = [:]
            recordKeyLines(of: root, under: nil, file: path, into: &keySources)
            return (try convert(root.any, path: path, keySources: keySources), keySources)
        } catch let error as SpladeError {
            throw error
        } catch let error as YamlError {
            throw yamlError(error, path: path)
        } catch {
            throw SpladeError(.badInput, "invalid YAML: \(error)", location: path)
        }
    }

    /// A training configuration holds tens of values; a YAML "billion laughs" (aliases of aliases) would expand
    /// to billions, and memory with them, when converted.
    static let maxConfigurationValues = 100_000

    /// The nodes of the tree with its aliases expanded, counted no further than just past `limit`.
    static func expandedSize(of root: Node, limit: Int) -> Int {
        var count = 0
        func visit(_ node: Node) {
            guard count <= limit else { return }
            count += 1
            if let mapping = node.mapping {
                for (key, value) in mapping { visit(key); visit(value) }
            } else if let sequence = node.sequence {
                for item in sequence { visit(item) }
            }
        }
        visit(root)
        return count
    }

    /// The line of every mapping key, top-level keys by name and nested ones by dotted path
    /// (`training_losses.margin_mse.weight`), for messages about their values.
    static func recordKeyLines(of node: Node, under prefix: String?, file: String, into sources: inout [String: ConfigKeySource]) {
        for (key, value) in node.mapping ?? [:] {
            guard let name = key.string else { continue }
            let path = prefix.map { $0 + "." + name } ?? name
            if let mark = key.mark { sources[path] = .file(InputLocation(file: file, line: mark.line)) }
            recordKeyLines(of: value, under: path, file: file, into: &sources)
        }
    }

    /// A YAML error at its line, as other input errors are.
    static func yamlError(_ error: YamlError, path: String) -> SpladeError {
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let within = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return SpladeError(.badInput, "invalid YAML: \(problem)\(within)", location: "\(path):\(mark.line)")
        case let .duplicatedKeysInMapping(duplicates, context):
            return SpladeError(.badInput, "set more than once in one mapping: "
                               + duplicates.sorted().joined(separator: ", "), location: "\(path):\(context.mark.line)",
                               hint: "keep the one meant (PyYAML would take the last)")
        default:
            return SpladeError(.badInput, "invalid YAML: \(error)", location: path)
        }
    }

    /// The checkpoints a run into `output` continues, refusing what the reference refuses: checkpoints without --resume,
    /// and a finished run's model without overwrite_output_dir (a run that left checkpoints is continued with --resume).
    static func checkpointsToContinue(in output: String, resume: Bool, overwrite: Bool)
        throws(SpladeError) -> [(step: Int, path: String)] {
        let checkpoints = Checkpoint.list(in: output)
        if !resume && !checkpoints.isEmpty {
            throw SpladeError(.usage, "\(output) already holds checkpoints",
                              hint: "pass --resume to continue, or choose another --output-dir (overwrite_output_dir does not "
                                  + "remove checkpoints)")
        }
        if checkpoints.isEmpty && !overwrite && FileManager.default.fileExists(atPath: output + "/model.safetensors") {
            throw SpladeError(.usage, "\(output) already holds a trained model (model.safetensors)",
                              hint: "set overwrite_output_dir: true (or --overwrite_output_dir true) to train a new one over it, "
                                  + "or choose another --output-dir")
        }
        return checkpoints
    }

    /// The directory of a training-data file is no output directory either: the run's log (a .jsonl) and checkpoints
    /// would land among the data, and a later `train_data` naming that directory would read the log as training rows.
    static func refuseWritingBesideTrainingData(output: String, data: [String]) throws(SpladeError) {
        guard let resolvedOutput = OutputSink.resolved(output) else { return }
        for file in data {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory), !isDirectory.boolValue,
                  OutputSink.resolved(URL(fileURLWithPath: file).deletingLastPathComponent().path) == resolvedOutput else { continue }
            throw SpladeError(.usage, "the output directory holds the training data \(file): the run's files would land among it",
                              location: output, hint: "write to another directory")
        }
    }

    /// What a run would fail to create at its end (an output directory under a file, a log in a missing directory):
    /// checked before loading, so that --dry-run says it too.
    static func checkWritable(output: String, log: String?) throws(SpladeError) {
        func refusal(_ what: String, _ reason: String, at path: String) -> SpladeError {
            SpladeError(.cannotCreateOutput, "cannot create \(what): \(reason)", location: path)
        }
        func parent(_ path: String) -> String {
            var path = Substring(path)
            while path.count > 1 && path.hasSuffix("/") { path = path.dropLast() }
            guard let slash = path.lastIndex(of: "/") else { return "." }
            return slash == path.startIndex ? "/" : String(path[..<slash])
        }
        let isDirectory = { (info: stat) in (info.st_mode & S_IFMT) == S_IFDIR }
        // The output directory, or the nearest of its ancestors that exists (the run makes the rest).
        var info = stat()
        var existing = output
        while stat(existing, &info) != 0 {
            guard errno == ENOENT else { throw refusal("the output directory", systemErrorMessage(), at: existing) }
            existing = parent(existing)
        }
        guard isDirectory(info) else { throw refusal("the output directory", "not a directory", at: existing) }
        guard access(existing, W_OK) == 0 else { throw refusal("the output directory", systemErrorMessage(), at: existing) }
        guard let log, log != "-" else { return }
        if stat(log, &info) == 0 {
            guard !isDirectory(info) else { throw refusal("the training log", "is a directory", at: log) }
            return
        }
        // A log in the output directory waits for the run to make it; one elsewhere needs its directory now.
        let directory = parent(log)
        guard URL(fileURLWithPath: directory).standardized.path != URL(fileURLWithPath: parent(output + "/x")).standardized.path else {
            return
        }
        guard stat(directory, &info) == 0 else { throw refusal("the training log", systemErrorMessage(), at: directory) }
        guard isDirectory(info) else { throw refusal("the training log", "not a directory", at: directory) }
        guard access(directory, W_OK) == 0 else { throw refusal("the training log", systemErrorMessage(), at: directory) }
    }

    /// Creates the output directory and locks it (flock on the directory itself) until the process exits; another
    /// run holding it is a temporary failure (exit 75).
    static func anotherRunWrites(_ output: String) -> SpladeError {
        SpladeError(.tempFail, "another splade-train is writing into this output directory", location: output,
                    hint: "wait for it to finish (then --resume continues its run), or choose another --output-dir")
    }

    /// Status 75 at once when another run holds the output directory's lock (its checkpoints are not a finished run's).
    /// A shared lock probes it: it conflicts only with a run's exclusive one, not with another probe.
    static func refuseIfAnotherRunWrites(_ output: String) throws(SpladeError) {
        let fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK { throw anotherRunWrites(output) }
    }

    /// Makes the output directory if need be and locks it; returns the directories it made, outermost first.
    static func lockOutputDirectory(_ output: String) throws(SpladeError) -> [String] {
        var made: [String] = []
        var missing = output
        while !missing.isEmpty && missing != "/" && !FileManager.default.fileExists(atPath: missing) {
            made.insert(missing, at: 0)
            // URL, not NSString: this Foundation's NSString.deletingLastPathComponent traps on a one-character name.
            missing = URL(fileURLWithPath: missing).deletingLastPathComponent().path
        }
        do { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) } catch {
            throw SpladeError.writing("the output directory", failedWith: error, at: output)
        }
        let fd = open(output, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SpladeError(.cannotCreateOutput, "cannot open: \(systemErrorMessage())", location: output) }
        // A run holds the lock for all its steps; a probe (refuseIfAnotherRunWrites of a run starting) for an instant,
        // so a second of retries tells the two apart.
        var attempts = 0
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            attempts += 1
            if code == EWOULDBLOCK && attempts < 20 { usleep(50_000); continue }
            close(fd)
            if code == EWOULDBLOCK { throw anotherRunWrites(output) }
            // NFS emulates flock with byte-range locks, which a directory (not open for writing) cannot take.
            Diagnostics.warning("\(output): cannot lock the output directory (\(systemErrorMessage(code))): a second run into it "
                                + "would not be refused")
            return made
        }
        // The descriptor stays open: the kernel releases the lock when the process ends, however it ends.
        return made
    }

    /// A YAML tree as the JSON-like values the library reads. A value that has none (a date, binary data) is named with
    /// the top-level key it is under, at that key's line in `keySources`.
    static func convert(_ value: Any, path: String, keySources: [String: ConfigKeySource] = [:],
                        under topKey: String? = nil) throws(SpladeError) -> JSONValue {
        switch value {
        case let map as [String: Any]:
            var members: [(key: String, value: JSONValue)] = []
            for key in map.keys.sorted() {
                members.append((key, try convert(map[key]!, path: path, keySources: keySources, under: topKey ?? key)))
            }
            return .object(members)
        case let list as [Any]:
            var items: [JSONValue] = []
            for item in list { items.append(try convert(item, path: path, keySources: keySources, under: topKey)) }
            return .array(items)
        case let b as Bool: return .bool(b)
        case let i as Int: return .number(String(i))
        case let d as Double: return d.isFinite ? .number(String(d)) : .string(String(d))
        case let s as String: return .string(s)
        case is NSNull: return .null
        default:
            let what = value is Date ? "a YAML timestamp (\(value))" : "a YAML value of type \(type(of: value))"
            throw SpladeError(.badInput, "\(topKey.map { "\($0): " } ?? "")\(what) is no configuration value",
                              location: topKey.flatMap { keySources[$0]?.description } ?? path,
                              hint: "quote it to give a string")
        }
    }

    /// A command-line override's value, typed as YAML would type it.
    static func scalar(_ text: String) -> JSONValue {
        if let tree = try? Yams.load(yaml: text), let value = try? convert(tree, path: "override") { return value }
        return .string(text)
    }
}

/// The training log: JSON Lines appended to a file as steps finish (or standard output).
final class LogSink {
    private let handle: FileHandle
    private let name: String
    /// The reader of a piped log went away (`--log - | head`): training goes on without the log.
    private var readerGone = false

    /// `resumingAt`: the step a resumed run starts from. The log is kept, less the lines of that step and
    /// later ones, which the killed run logged after its checkpoint and the resumed run logs again.
    /// Without it the log starts empty.
    init(path: String, resumingAt step: Int?) throws(SpladeError) {
        name = path == "-" ? "<stdout>" : path
        if path == "-" {
            if OutputSink.standardOutputWasClosed { throw OutputSink.closedStandardOutput }
            handle = FileHandle.standardOutput
            return
        }
        // Written through the path as a shell's > writes: a link's target, a named pipe or a device stays what it is.
        var info = stat()
        let isFile = stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        if let step, isFile { try Self.cutBack(path, toStepsBefore: step) }
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | (step == nil ? O_TRUNC : O_APPEND), 0o644)
        guard fd >= 0 else {
            throw SpladeError(.cannotCreateOutput, "cannot open the training log: \(systemErrorMessage())", location: path)
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Drops the lines of steps from `step` on, and any line cut short by a kill, rewriting the log file (the target
    /// of a link) atomically: a crash leaves the old log or the new one.
    static func cutBack(_ path: String, toStepsBefore step: Int) throws(SpladeError) {
        let file = OutputSink.resolved(path) ?? path
        guard let old = FileManager.default.contents(atPath: file) else { return }
        let lines = old.split(separator: 0x0A)
        let kept = lines.filter { line in
            guard let logged = (try? JSON.parse(line))?["step"]?.doubleValue else { return false }
            return logged < Double(step)
        }
        if kept.count == lines.count, old.isEmpty || old.last == 0x0A { return }
        var text = Data()
        for line in kept { text += line + [0x0A] }
        do { try text.write(to: URL(fileURLWithPath: file), options: .atomic) } catch {
            throw SpladeError.writing("the training log", failedWith: error, at: path)
        }
    }

    func write(_ line: String) throws(SpladeError) {
        guard !readerGone else { return }
        var bytes = Array(line.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(handle.fileDescriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                // A closed pipe, or the terminal of a session that hung up.
                guard code == EPIPE || code == EIO && isatty(handle.fileDescriptor) == 1 else {
                    throw SpladeError(.writeFailure, "cannot write the training log: \(systemErrorMessage(code))", location: name)
                }
                // Only a view of the run closed: the checkpoints and the model are what the run is for.
                readerGone = true
                Diagnostics.warning("the training log's reader closed it; training goes on without the log")
                return
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Flushes a log file to disk; pipes and devices have nothing to flush (EINVAL).
    func close() throws(SpladeError) {
        guard fsync(handle.fileDescriptor) == 0 || [EINVAL, ENOTSUP, EROFS].contains(errno) else {
            throw SpladeError(.writeFailure, "cannot write the training log: \(systemErrorMessage())", location: name)
        }
    }
}
