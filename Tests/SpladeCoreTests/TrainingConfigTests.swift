import Foundation
import Testing
@testable import SpladeCore

/// The reference trainer's YAML keys, as the tool hands them over (YAML converted to JSON values).
@Suite struct TrainingConfigTests {
    func parse(_ text: String) throws -> (TrainingConfig, [String]) {
        let parsed = try TrainingConfig.parse(try JSON.parse(text), source: "test.yaml")
        return (parsed.0, parsed.warnings)
    }

    @Test func theV1ConfigurationsKeys() throws {
        let (config, warnings) = try parse("""
            {"model_name_or_path": "m", "train_data": ["a.jsonl", "dir"], "output_dir": "out",
             "learning_rate": "2e-5", "lr_scheduler_type": "cosine", "warmup_ratio": 0.05, "num_train_epochs": 2,
             "per_device_train_batch_size": 4, "gradient_accumulation_steps": 8, "training_losses": "cross_entropy",
             "regularizer_doc": "L1", "regularizer_query": "flops", "sparsity_weight_doc": 0.001,
             "sparsity_weight_query": 0.0025, "sparsity_warmup_steps_doc": 0.1, "sparsity_warmup_steps_query": 0.1,
             "noise_tokens": "、 。 ิ 「", "bf16": true, "label_smoothing_factor": 0.1, "report_to": "none",
             "dataloader_num_workers": 4}
            """)
        #expect(config.learningRate == 2e-5 && config.scheduler == .cosine && config.trainData == ["a.jsonl", "dir"])
        #expect(config.documentRegularizer == .l1 && config.queryRegularizer == .flops)
        // Split like Python's str.split(): the Thai combining mark stays a token of its own.
        #expect(config.noiseTokens == ["、", "。", "ิ", "「"])
        // bf16: true asks a GPU for bfloat16 products (where the device is known, the CPU warns that it computes in fp32).
        #expect(config.precision == .bf16 && !warnings.contains { $0.contains("bf16") })
        #expect(warnings.contains { $0.contains("not implemented, ignored: label_smoothing_factor") })
        // Python runtime settings: one line, not a warning each.
        #expect(warnings.filter { $0.contains("report_to") || $0.contains("dataloader_num_workers") }
                    == ["test.yaml: settings of the reference's Python runtime, without effect here: dataloader_num_workers, report_to"])
        // 100 rows, batch 4, accumulation 8: 25 micro-batches an epoch, 4 optimizer steps (the last of one micro-batch),
        // 8 in 2 epochs.
        #expect(config.optimizerStepsPerEpoch(rows: 100) == 4 && config.totalOptimizerSteps(rows: 100) == 8)
        #expect(config.warmupSteps(total: 8) == 1)
        // A fractional warm-up counts micro-batches, as the reference does: 1000 rows are 250 an epoch, 500 in 2 epochs
        // (64 optimizer steps), so T = 50; in optimizer steps, when asked, 6.
        #expect(config.sparsityWarmupLength(0.1, rows: 1000) == 50)
        var optimizerSteps = config
        optimizerSteps.warmupInOptimizerSteps = true
        #expect(optimizerSteps.sparsityWarmupLength(0.1, rows: 1000) == 6)
        // The reference counts len(dataloader) × num_train_epochs even when max_steps ends the run.
        var capped = config, cappedInSteps = optimizerSteps
        capped.maxSteps = 10
        cappedInSteps.maxSteps = 10
        #expect(capped.sparsityWarmupLength(0.1, rows: 1000) == 50 && cappedInSteps.sparsityWarmupLength(0.1, rows: 1000) == 1)
        // An integer warm-up is a step count as given.
        #expect(config.sparsityWarmupLength(4, rows: 1000) == 4)
    }

    @Test func precisionKeys() throws {
        let base = #""model_name_or_path": "m", "train_data": "t.jsonl""#
        #expect(try parse("{\(base)}").0.precision == nil)
        #expect(try parse("{\(base), \"bf16\": false, \"tf32\": false}").0.precision == nil)
        #expect(try parse("{\(base), \"tf32\": true}").0.precision == .tf32)
        #expect(try parse("{\(base), \"tf32\": true, \"bf16\": true}").0.precision == .bf16)
        let (half, warnings) = try parse("{\(base), \"fp16\": true}")
        #expect(half.precision == nil && warnings.contains { $0.contains("test.yaml: fp16: true is not implemented") })
    }

    @Test func weightedLossMapsAndErrors() throws {
        let (config, _) = try parse("""
            {"model_name_or_path": "m", "train_data": "t.jsonl",
             "training_losses": {"kl_div": {"weight": 0.5, "loss_kwargs": {"temperature": 2}}, "margin_mse": {"weight": 2}}}
            """)
        #expect(config.losses.count == 2)
        #expect(config.losses[0].loss == .klDivergence(temperature: 2) && config.losses[0].weight == 0.5)
        #expect(config.losses[1].loss == .marginMSE(margin: 0.05) && config.losses[1].weight == 2)
        #expect(throws: SpladeError.self) { try parse(#"{"model_name_or_path": "m", "train_data": "t", "training_losses": "triplet"}"#) }
        #expect(throws: SpladeError.self) { try parse(#"{"train_data": "t"}"#) }
        #expect(throws: SpladeError.self) { try parse(#"{"model_name_or_path": "m", "train_data": "t", "max_steps": 1.5}"#) }
    }

    /// The keys' lines, as the tool reads them from the YAML file.
    static let lines: [String: ConfigKeySource] = [
        "max_steps": .file(InputLocation(file: "c.yaml", line: 7)), "training_losses": .file(InputLocation(file: "c.yaml", line: 9)),
        "bf16": .file(InputLocation(file: "c.yaml", line: 10)), "lerning_rate": .file(InputLocation(file: "c.yaml", line: 12)),
        "label_smoothing_factor": .file(InputLocation(file: "c.yaml", line: 11)),
        "training_losses.margin_mse.wieght": .file(InputLocation(file: "c.yaml", line: 11)),
        "dataloader_num_workers": .file(InputLocation(file: "c.yaml", line: 13)), "report_to": .file(InputLocation(file: "c.yaml", line: 14)),
    ]

    func parse(_ extra: String, sources: [String: ConfigKeySource]) throws -> (TrainingConfig, [String]) {
        let settings = try JSON.parse(#"{"model_name_or_path": "m", "train_data": "t.jsonl", \#(extra)}"#)
        let parsed = try TrainingConfig.parse(settings, source: "c.yaml", keySources: sources)
        return (parsed.0, parsed.warnings)
    }

    /// Values the reference (or PyTorch) refuses are errors here too, not silent fallbacks.
    @Test func outOfRangeValuesAndUnknownLossSettingsAreErrors() throws {
        for (extra, message) in [
            (#""hidden_dropout_prob": -0.5"#, "hidden_dropout_prob must be at least 0 and at most 1, not -0.5"),
            (#""warmup_steps": -1"#, "warmup_steps must be at least 0, not -1"),
            // torch.optim.AdamW's and TrainingArguments' own checks.
            (#""learning_rate": -0.001"#, "learning_rate must be at least 0, not -0.001"),
            (#""adam_beta1": 1"#, "adam_beta1 must be at least 0 and below 1, not 1"),
            (#""adam_beta2": -0.5"#, "adam_beta2 must be at least 0 and below 1"),
            (#""adam_epsilon": -1"#, "adam_epsilon must be at least 0"),
            // Below 1 as written, but 1 in float32, where the optimizer computes (1 − β₂ᵗ would be 0).
            (#""adam_beta2": 0.9999999999"#, "adam_beta2 0.9999999999 is 1 in float32"),
            (#""weight_decay": -5"#, "weight_decay must be at least 0"),
            (#""warmup_ratio": 1.5"#, "warmup_ratio must be at least 0 and at most 1, not 1.5"),
            (#""num_train_epochs": -1"#, "num_train_epochs must be at least 0"),
            // The reference's (t / (T + 1))² divides by zero at T = −1; a count beyond 2^53 is no count.
            (#""sparsity_warmup_steps_doc": -1"#, "sparsity_warmup_steps_doc must be at least 0"),
            (#""sparsity_warmup_steps_query": 1e30"#, "sparsity_warmup_steps_query 1e+30 is not a step count"),
            // Neither NaN, infinity nor null is a value: they crashed the run or silently took the default.
            (#""learning_rate": "nan""#, "learning_rate must be a finite number, not nan"),
            (#""num_train_epochs": 1e400"#, "num_train_epochs must be a finite number, not inf"),
            (#""learning_rate": null"#, "learning_rate must be a number, not null"),
            (#""training_losses": {"margin_mse": {"weight": 1e300}}"#, "margin_mse weight must be a finite number"),
            (#""save_strategy": "best""#, "save_strategy \"best\" is not supported (no, steps, epoch; best needs an evaluation"),
            (#""logging_strategy": "sometimes""#, "logging_strategy \"sometimes\" is not supported (no, steps, epoch)"),
            (#""logging_steps": 2.5"#, "logging_steps must be an integer, or below 1 a fraction of the run, not 2.5"),
            (#""save_steps": 0"#, "save_steps must be an integer, or below 1 a fraction of the run, not 0"),
            (#""train_data": []"#, "train_data lists no paths"),
            (#""train_data": [{"dataset_class": "x.y.Z", "dataset_options": {}}]"#, "train_data lists a dataset_class entry"),
            (#""train_data": ["a.jsonl", 5]"#, "train_data must list paths"),
            (#""attention_probs_dropout_prob": 1.5"#, "attention_probs_dropout_prob must be at least 0 and at most 1, not 1.5"),
            (#""training_losses": {"kl_div": {"loss_kwargs": {"temperature": 0}}}"#, "kl_div temperature must be positive"),
            (#""training_losses": {"kl_div": {"loss_kwargs": {"temprature": 2}}}"#,
             "kl_div loss_kwargs has no setting \"temprature\" (did you mean temperature?)"),
            (#""training_losses": {"margin_mse": {"wieght": 5}}"#, "margin_mse has no setting \"wieght\" (did you mean weight?)"),
            (#""training_losses": {"mse": {"loss_kwargs": {"margin": 1}}}"#, "mse loss_kwargs has no setting \"margin\""),
        ] {
            let error = #expect(throws: SpladeError.self) { try parse(extra, sources: [:]) }
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
        }
        // The reference's loss constructors take reduction (and more) at the values this trainer computes: accepted there.
        _ = try parse(#""training_losses": {"cross_entropy": {"weight": 1.0, "loss_kwargs": {"reduction": "mean"}}}"#, sources: [:])
        _ = try parse(#""training_losses": {"kl_div": {"loss_kwargs": {"reduction": "batchmean", "temperature": 2}}}"#, sources: [:])
        let sum = #expect(throws: SpladeError.self) {
            try parse(#""training_losses": {"cross_entropy": {"loss_kwargs": {"reduction": "sum"}}}"#, sources: [:])
        }
        #expect(sum?.message.contains("cross_entropy loss_kwargs reduction other than mean is not implemented") == true)
        let (config, _) = try parse(#""hidden_dropout_prob": 0, "attention_probs_dropout_prob": 1"#, sources: [:])
        #expect(config.hiddenDropout == 0 && config.attentionDropout == 1)
        let (_, warnings) = try parse(#""lr_scheduler_type": "constant", "warmup_steps": 3"#, sources: [:])
        #expect(warnings.contains { $0.contains("constant has no warm-up") })
    }

    /// save_strategy / logging_strategy with save_steps / logging_steps, as TrainingArguments reads them.
    @Test func savingAndLoggingIntervals() throws {
        let (defaults, _) = try parse(#""seed": 1"#, sources: [:])
        #expect(defaults.saving == .steps(500) && defaults.logging == .steps(1) && defaults.saveTotalLimit == nil)
        let (config, _) = try parse(#""save_strategy": "epoch", "logging_strategy": "no", "save_total_limit": null"#, sources: [:])
        #expect(config.saving == .epoch && config.logging == .never && config.saveTotalLimit == nil)
        #expect(try parse(#""save_strategy": false"#, sources: [:]).0.saving == .never)  // YAML reads an unquoted no as false
        // max_grad_norm: null turns clipping off in the Trainer, as 0 does.
        #expect(try parse(#""max_grad_norm": null"#, sources: [:]).0.maxGradNorm == 0)
        // Below 1, a fraction of the run rounded up: 0.25 of 10 steps is every 3rd.
        let (fraction, _) = try parse(#""save_steps": 0.25, "logging_steps": 4"#, sources: [:])
        #expect(fraction.saving.stepCount(total: 10) == 3 && fraction.logging.stepCount(total: 10) == 4)
        #expect(StepInterval.steps(1e-9).stepCount(total: 5) == 1 && StepInterval.epoch.stepCount(total: 5) == nil)
    }

    @Test func valueErrorsNameTheKeysLine() throws {
        for (extra, message) in [(#""max_steps": "three""#, "c.yaml:7: max_steps must be a number"),
                                 (#""max_steps": 1.5"#, "c.yaml:7: max_steps must be an integer"),
                                 (#""training_losses": "triplet""#, "c.yaml:9: training loss \"triplet\" is not supported"),
                                 (#""training_losses": {"kl_div": {"loss_kwargs": {"temperature": "warm"}}}"#,
                                  "c.yaml:9: training_losses: kl_div temperature must be a number"),
                                 (#""bf16": "please""#, "c.yaml:10: bf16 must be true or false"),
                                 // A loss's own settings are named at their own line.
                                 (#""training_losses": {"margin_mse": {"wieght": 5}}"#, "c.yaml:11: training_losses: margin_mse has no")] {
            let error = try #require(throws: SpladeError.self) { try parse(extra, sources: Self.lines) }
            #expect(error.kind == .badInput && error.description.hasPrefix(message), "\(error)")
        }
        // A key the tool has no line for is blamed on the file.
        let error = try #require(throws: SpladeError.self) { try parse(#""max_steps": "three""#, sources: [:]) }
        #expect(error.description == "c.yaml: max_steps must be a number")
    }

    @Test func commandLineOverridesAreUsageErrors() throws {
        let typed: [String: ConfigKeySource] = ["max_steps": .commandLine("--max_steps abc")]
        let bad = try #require(throws: SpladeError.self) { try parse(#""max_steps": "abc""#, sources: typed) }
        #expect(bad.kind == .usage && bad.description == "--max_steps abc: max_steps must be a number")
        // A key typed on the command line that the trainer does not know is refused, with the nearest key as a hint.
        let unknown = try #require(throws: SpladeError.self) {
            try parse(#""frobnicate": 3"#, sources: ["frobnicate": .commandLine("--frobnicate 3")])
        }
        #expect(unknown.kind == .usage && unknown.description == "--frobnicate 3: frobnicate is not a configuration key")
        let typo = try #require(throws: SpladeError.self) {
            try parse(#""lerning_rate": 1e-5"#, sources: ["lerning_rate": .commandLine("--lerning_rate 1e-5")])
        }
        #expect(typo.kind == .usage && typo.hint == "did you mean --learning_rate?")
        // Keys of the reference's Python runtime stay accepted there, as in the file, and are named as without effect.
        #expect(try parse(#""report_to": "none""#, sources: ["report_to": .commandLine("--report_to none")]).1
                    == ["c.yaml: settings of the reference's Python runtime, without effect here: report_to (--report_to none)"])
    }

    @Test func unknownKeysWarnWithTheirLineAndTheKeyTheyMayBeATypoOf() throws {
        let (config, warnings) = try parse(#""lerning_rate": 1e-5, "label_smoothing_factor": 0.1, "dataloader_num_workers": 4, "#
                                           + #""report_to": "none""#, sources: Self.lines)
        #expect(config.learningRate == 5e-5)
        #expect(warnings == ["c.yaml:11: not implemented, ignored: label_smoothing_factor",
                             "c.yaml:12: not implemented, ignored: lerning_rate (did you mean learning_rate?)",
                             "c.yaml: settings of the reference's Python runtime, without effect here: "
                                + "dataloader_num_workers (line 13), report_to (line 14)"])
        #expect(TrainingConfig.suggestion(for: "sed") == "seed")
        #expect(TrainingConfig.suggestion(for: "max_step") == "max_steps")
        #expect(TrainingConfig.suggestion(for: "frobnicate") == nil)
        #expect("kitten".editDistance(to: "sitting") == 3 && "".editDistance(to: "ab") == 2)
    }

    /// Keys a config leaves out train as the reference trainer's defaults (its SpladeTrainingArguments).
    @Test func leftOutSpladeKeysTakeTheReferencesDefaults() throws {
        let (config, warnings) = try parse(#"{"model_name_or_path": "m", "train_data": "t.jsonl"}"#)
        #expect(warnings.isEmpty)
        #expect(config.documentRegularizer == .flops && config.queryRegularizer == .l1)
        #expect(config.documentSparsityWeight == 5e-3 && config.querySparsityWeight == 5e-3)
        #expect(config.documentSparsityWarmup == 0.1 && config.querySparsityWarmup == 0.1)
        #expect(config.noiseTokens.isEmpty && config.noiseTokensWeight == 1 && config.groupSize == 8)
        #expect(!config.dropLastMicroBatch && !config.overwriteOutputDirectory && !config.resumeFromCheckpoint && !config.removeCheckpoints)
    }

    /// As in the Hugging Face Trainer, an epoch's last optimizer step takes the micro-batches left over, and the next
    /// step starts the next epoch; a fractional num_train_epochs rounds the steps up.
    @Test func anEpochsLastStepTakesTheMicroBatchesLeft() throws {
        let base = #""model_name_or_path": "m", "train_data": "t.jsonl", "per_device_train_batch_size": 2"#
        let (config, _) = try parse("{\(base), \"gradient_accumulation_steps\": 4, \"num_train_epochs\": 2}")
        // 19 rows: 10 micro-batches an epoch (the last of one row), in steps of 4, 4 and 2.
        #expect(config.optimizerStepsPerEpoch(rows: 19) == 3 && config.totalOptimizerSteps(rows: 19) == 6)
        let plan = (0..<7).map { config.microBatches(ofStep: $0, rows: 19) }
        #expect(plan.map(\.epoch) == [0, 0, 0, 1, 1, 1, 2])
        #expect(plan.map(\.indices) == [0..<4, 4..<8, 8..<10, 0..<4, 4..<8, 8..<10, 0..<4])
        // A whole number of steps an epoch leaves nothing over.
        #expect(config.microBatches(ofStep: 2, rows: 16) == (epoch: 1, indices: 0..<4))
        // Fewer micro-batches than A: one step an epoch, of all of them.
        #expect(config.optimizerStepsPerEpoch(rows: 3) == 1 && config.microBatches(ofStep: 1, rows: 3) == (epoch: 1, indices: 0..<2))
        let (half, _) = try parse("{\(base), \"gradient_accumulation_steps\": 4, \"num_train_epochs\": 1.5}")
        #expect(half.totalOptimizerSteps(rows: 19) == 5)
    }

    /// warmup_steps as transformers 5 reads it: a step count (truncated, as int() does), or below 1 a fraction of the run
    /// (transformers 5 drops warmup_ratio for it). Set with warmup_ratio, it wins, as in transformers 4, and that is said.
    @Test func warmupStepsBelowOneAreAFractionOfTheRun() throws {
        let base = #""model_name_or_path": "m", "train_data": "t.jsonl""#
        #expect(try parse("{\(base), \"warmup_steps\": 0.1}").0.warmupSteps(total: 64) == 7)
        #expect(try parse("{\(base), \"warmup_steps\": 2.7}").0.warmupSteps(total: 64) == 2)
        #expect(try parse("{\(base), \"warmup_steps\": 3}").0.warmupSteps(total: 64) == 3)
        let (ratio, quiet) = try parse("{\(base), \"warmup_ratio\": 0.5}")
        #expect(ratio.warmupSteps(total: 64) == 32 && quiet.isEmpty)
        let (both, warnings) = try parse("{\(base), \"warmup_ratio\": 0.5, \"warmup_steps\": 0.1}")
        #expect(both.warmupSteps(total: 64) == 7)
        #expect(warnings.contains { $0.contains("warmup_steps and warmup_ratio are both set: warmup_steps is used") }, "\(warnings)")
        for (huge, message) in [("1e19", "is not a step count"), ("\"inf\"", "must be a finite number"),
                                ("\"nan\"", "must be a finite number")] {
            let error = #expect(throws: SpladeError.self) { try parse("{\(base), \"warmup_steps\": \(huge)}") }
            #expect(error?.message.contains(message) == true, "\(huge): \(error?.message ?? "")")
        }
    }

    /// The log's epoch is rounded as the reference trainer rounds it, Python's round(epoch, 2).
    @Test func theLoggedEpochRoundsAsPython() {
        // 8 micro-batches an epoch, then 40 (values from Python 3's round).
        let eighths = (1...8).map { Trainer.StepLog.hundredths(Double($0) / 8) }
        #expect(eighths == [0.12, 0.25, 0.38, 0.5, 0.62, 0.75, 0.88, 1])
        #expect(Trainer.StepLog.hundredths(3.0 / 40) == 0.07 && Trainer.StepLog.hundredths(1 + 2.0 / 3) == 1.67)
    }

    /// dataloader_drop_last leaves out each epoch's partial micro-batch, which changes the number of steps.
    @Test func dropLastLeavesOutThePartialMicroBatch() throws {
        let base = #""model_name_or_path": "m", "train_data": "t.jsonl", "per_device_train_batch_size": 2, "num_train_epochs": 2"#
        let (kept, _) = try parse("{\(base)}")
        let (dropped, warnings) = try parse("{\(base), \"dataloader_drop_last\": true}")
        #expect(warnings.isEmpty && dropped.dropLastMicroBatch)
        #expect(kept.microBatchesPerEpoch(rows: 5) == 3 && kept.totalOptimizerSteps(rows: 5) == 6)
        #expect(dropped.microBatchesPerEpoch(rows: 5) == 2 && dropped.totalOptimizerSteps(rows: 5) == 4)
        #expect(dropped.microBatchesPerEpoch(rows: 1) == 0)
    }

    /// optim names Hugging Face's AdamW implementations silently; any other optimizer is not this trainer's and is said.
    @Test func optimizersOtherThanAdamWAreWarnedAbout() throws {
        for name in ["adamw_torch", "adamw_torch_fused", "adamw_hf"] {
            #expect(try parse(#"{"model_name_or_path": "m", "train_data": "t", "optim": "\#(name)"}"#).1.isEmpty)
        }
        let (_, warnings) = try parse(#""optim": "adafactor""#, sources: ["optim": .file(InputLocation(file: "c.yaml", line: 3))])
        #expect(warnings == ["c.yaml:3: optim adafactor is not implemented, ignored: training uses AdamW (adamw_torch)"])
    }

    /// noise_tokens as the reference reads it: re.split(r"\s+") of a string (an end's whitespace gives an empty token,
    /// which is unknown: [UNK]), or a list taken as it is.
    @Test func noiseTokensAreSplitAsTheReferenceSplitsThem() throws {
        func tokens(_ value: String) throws -> [String] {
            try parse(#"{"model_name_or_path": "m", "train_data": "t", "noise_tokens": \#(value)}"#).0.noiseTokens
        }
        #expect(try tokens(#""、  。\n「""#) == ["、", "。", "「"])
        #expect(try tokens(#"" 、 。\n""#) == ["", "、", "。", ""])
        #expect(try tokens(#""""#) == [""])
        #expect(try tokens(#"["、", "a b", ""]"#) == ["、", "a b", ""])
        #expect(try tokens("null").isEmpty && tokens("[]").isEmpty)
        #expect(throws: SpladeError.self) { try tokens("[1]") }
    }

    /// resume_from_checkpoint is read as the reference's run script reads it: any true value or path resumes.
    @Test func resumeFromCheckpointIsTruthy() throws {
        for (value, resumes) in [("true", true), ("false", false), (#""out/checkpoint-5""#, true), (#""""#, false), ("null", false)] {
            let config = try parse(#"{"model_name_or_path": "m", "train_data": "t", "resume_from_checkpoint": \#(value)}"#).0
            #expect(config.resumeFromCheckpoint == resumes, "\(value)")
        }
    }

    /// A group of one samples no negative: its label is the positive's score, whether the negatives have scores or not.
    @Test func aGroupOfOneKeepsThePositivesScore() {
        let row = TrainingExample(query: "q", positives: ["a"], negatives: ["b"], positiveScores: [0.3], negativeScores: nil,
                                  location: "t.jsonl:1")
        #expect(SampledGroup(row, groupSize: 1, binarize: false, seed: 1, epoch: 0, row: 0).labels == [0.3])
        #expect(SampledGroup(row, groupSize: 1, binarize: true, seed: 1, epoch: 0, row: 0).labels == [1])
    }

    /// Every loss takes the teacher's scores as its labels (SPEC-training.md), unless binarize_label.
    @Test func lossesNeedTeacherScoresOnEveryRow() throws {
        #expect(try parse(#""training_losses": "cross_entropy""#, sources: [:]).0.lossesNeedingTeacherScores == ["cross_entropy"])
        #expect(try parse(#""training_losses": {"cross_entropy": {}, "kl_div": {}}"#, sources: [:]).0.lossesNeedingTeacherScores
                == ["cross_entropy", "kl_div"])
        #expect(try parse(#""training_losses": "mse", "binarize_label": true"#, sources: [:]).0.lossesNeedingTeacherScores.isEmpty)

        let file = NSTemporaryDirectory() + "splade-rows-\(UUID()).jsonl"
        defer { try? FileManager.default.removeItem(atPath: file) }
        try """
            {"query": "q", "pos": ["p"], "neg": ["n", "m"], "pos_score": [0.9], "neg_score": [0.1, 0.2]}
            {"query": "q", "pos": ["p"], "neg": ["n", "m"], "pos_score": [0.9]}
            {"query": "q", "pos": ["p"], "neg": ["n", "m"]}

            """.write(toFile: file, atomically: true, encoding: .utf8)
        // cross_entropy trains on them (labels 1, 0, …, 0 where the scores are missing).
        #expect(try TrainingData.load([file], groupSize: 3).count == 3)
        let error = try #require(throws: SpladeError.self) {
            try TrainingData.load([file], groupSize: 3, teacherScoresNeededBy: ["kl_div"])
        }
        #expect(error.kind == .badInput && error.location == file + ":2", "\(error)")
        #expect(error.message.contains("neg_score|") && error.message.contains("kl_div"), "\(error)")
    }

    @Test func schedulesAndRegularizerWarmUp() {
        #expect(LearningRateSchedule.cosine.rate(base: 1, step: 0, totalSteps: 10, warmupSteps: 2) == 0)
        #expect(LearningRateSchedule.cosine.rate(base: 1, step: 1, totalSteps: 10, warmupSteps: 2) == 0.5)
        #expect(abs(LearningRateSchedule.cosine.rate(base: 1, step: 6, totalSteps: 10, warmupSteps: 2) - 0.5) < 1e-6)
        #expect(abs(LearningRateSchedule.linear.rate(base: 1, step: 6, totalSteps: 10, warmupSteps: 2) - 0.5) < 1e-6)
        #expect(LearningRateSchedule.constant.rate(base: 1, step: 0, totalSteps: 10, warmupSteps: 2) == 1)
        #expect(abs(regularizerWeight(maximum: 0.01, step: 3, warmupSteps: 10) - 0.01 * 9 / 121) < 1e-9)
        #expect(regularizerWeight(maximum: 0.01, step: 50, warmupSteps: 10) == 0.01)
    }
}
