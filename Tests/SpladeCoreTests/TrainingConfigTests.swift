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
             "noise_tokens": "、 。 ิ 「", "bf16": true, "dataloader_num_workers": 4, "report_to": "none"}
            """)
        #expect(config.learningRate == 2e-5 && config.scheduler == .cosine && config.trainData == ["a.jsonl", "dir"])
        #expect(config.documentRegularizer == .l1 && config.queryRegularizer == .flops)
        // Split like Python's str.split(): the Thai combining mark stays a token of its own.
        #expect(config.noiseTokens == ["、", "。", "ิ", "「"])
        // bf16: true asks a GPU for bfloat16 products (where the device is known, the CPU warns that it computes in fp32).
        #expect(config.precision == .bf16 && !warnings.contains { $0.contains("bf16") })
        #expect(warnings.contains { $0.contains("not implemented, ignored: dataloader_num_workers") })
        #expect(!warnings.contains { $0.contains("report_to") })
        // 100 rows, batch 4, accumulation 8: 25 micro-batches an epoch, 3 optimizer steps, 6 in 2 epochs.
        #expect(config.totalOptimizerSteps(rows: 100) == 6)
        #expect(config.warmupSteps(total: 6) == 1)
        // A fractional warm-up counts micro-batches, as the reference does, unless asked otherwise.
        #expect(config.sparsityWarmupLength(0.1, totalSteps: 100) == 80)
        var optimizerSteps = config
        optimizerSteps.warmupInOptimizerSteps = true
        #expect(optimizerSteps.sparsityWarmupLength(0.1, totalSteps: 100) == 10)
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
