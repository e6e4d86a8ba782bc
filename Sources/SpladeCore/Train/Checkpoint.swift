import Foundation

/// Hugging Face model directories written by training: config.json, model.safetensors (the tied
/// decoder not stored, as save_pretrained does) and the tokenizer files, so transformers and
/// splade-encode load them; checkpoints add the optimizer moments and the trainer state needed to
/// resume exactly. Every directory is assembled under a temporary name and renamed into place.
public enum Checkpoint {
    static let tokenizerFiles = ["vocab.txt", "tokenizer_config.json", "tokenizer.json", "special_tokens_map.json"]

    public struct State: Sendable {
        public var globalStep: Int
        public var adamSteps: Int
        /// The run's plan, to compare on resuming (nil in checkpoints that do not record it).
        public var plan: TrainingPlan?
        /// What the run was given on the command line besides its configuration file (written; a resuming run reads
        /// it first, with `recordedSettings`, since it shapes the configuration).
        public var settings = RunSettings()
    }

    /// The command-line settings that shape a run besides its configuration file. A checkpoint records them, so that
    /// `--resume` continues the run it interrupted (`--max_steps 1000` included) where the resuming command repeats
    /// only the configuration and the output directory.
    public struct RunSettings: Sendable, Equatable {
        public var overrides: [ConfigOverride] = []
        public var warmupInOptimizerSteps = false
        public init(overrides: [ConfigOverride] = [], warmupInOptimizerSteps: Bool = false) {
            self.overrides = overrides
            self.warmupInOptimizerSteps = warmupInOptimizerSteps
        }

        /// The trainer_state.json members that hold them (none for a run given nothing on the command line).
        var members: [(key: String, value: JSONValue)] {
            var members: [(key: String, value: JSONValue)] = []
            if !overrides.isEmpty {
                members.append(("command_line_overrides", .object(overrides.map { ($0.key, .string($0.value)) })))
            }
            if warmupInOptimizerSteps { members.append(("sparsity_warmup_in_optimizer_steps", .bool(true))) }
            return members
        }

        init(_ state: JSONValue) {
            if case .object(let recorded)? = state["command_line_overrides"] {
                overrides = recorded.compactMap { member in member.value.stringValue.map { ConfigOverride(key: member.key, value: $0) } }
            }
            if case .bool(let flag)? = state["sparsity_warmup_in_optimizer_steps"] { warmupInOptimizerSteps = flag }
        }
    }

    /// The command-line settings recorded in a checkpoint's trainer_state.json; nil when it cannot be read (loading the
    /// checkpoint says why).
    public static func recordedSettings(_ directory: String) -> RunSettings? {
        guard let data = FileManager.default.contents(atPath: directory + "/trainer_state.json"),
              let json = try? JSON.parse(data) else { return nil }
        return RunSettings(json)
    }

    /// Writes the model (and, with `optimizer`, the resumable state) as `directory`, replacing it; errors speak of
    /// `what` at `location` (the final model is staged in a directory of its own that users never see).
    static func write(to directory: String, weights: BertWeights, config: BertConfig, modelConfigJSON: JSONValue,
                      sourceModel: String, optimizer: AdamW?, state: State?,
                      describedAs what: String = "the checkpoint", at location: String? = nil) throws(SpladeError) {
        let fm = FileManager.default
        let temporary = directory + ".tmp-\(getpid())"
        try? fm.removeItem(atPath: temporary)
        do {
            try fm.createDirectory(atPath: temporary, withIntermediateDirectories: true)
            try Data(Safetensors.encode(weights.namedTensors(config: config))).write(to: URL(fileURLWithPath: temporary + "/model.safetensors"))
            var json = JSONWriter()
            json.appendValue(modelConfigJSON)
            try Data(json.bytes + [0x0A]).write(to: URL(fileURLWithPath: temporary + "/config.json"))
            for file in tokenizerFiles where fm.fileExists(atPath: sourceModel + "/" + file) {
                // The contents only: a read-only source (an installed model) must not make the copies read-only.
                try Data(contentsOf: URL(fileURLWithPath: sourceModel + "/" + file)).write(to: URL(fileURLWithPath: temporary + "/" + file))
            }
            if let optimizer, let state {
                var moments: [String: NamedTensor] = [:]
                for (name, tensor) in optimizer.firstMoments.namedTensors(config: config) { moments["m." + name] = tensor }
                for (name, tensor) in optimizer.secondMoments.namedTensors(config: config) { moments["v." + name] = tensor }
                try Data(Safetensors.encode(moments)).write(to: URL(fileURLWithPath: temporary + "/optimizer.safetensors"))
                var members: [(key: String, value: JSONValue)] = [("global_step", .number("\(state.globalStep)")),
                                                                   ("adam_steps", .number("\(state.adamSteps)"))]
                if let plan = state.plan { members += zip(TrainingPlan.keys, plan.values).map { ($0, .number("\($1)")) } }
                var stateJSON = JSONWriter()
                stateJSON.appendValue(.object(members + state.settings.members))
                try Data(stateJSON.bytes + [0x0A]).write(to: URL(fileURLWithPath: temporary + "/trainer_state.json"))
            }
            if fm.fileExists(atPath: directory) {
                // Move the old one aside first: a crash between the two renames leaves both, never neither.
                let old = directory + ".old-\(getpid())"
                try fm.moveItem(atPath: directory, toPath: old)
                try fm.moveItem(atPath: temporary, toPath: directory)
                try fm.removeItem(atPath: old)
            } else {
                try fm.moveItem(atPath: temporary, toPath: directory)
            }
        } catch {
            try? fm.removeItem(atPath: temporary)
            throw SpladeError.writing(what, failedWith: error, at: location ?? directory)
        }
    }

    /// The checkpoint-N directories of `outputDirectory`, oldest first.
    public static func list(in outputDirectory: String) -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: outputDirectory)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), let step = Int(name.dropFirst("checkpoint-".count)) else { return nil }
            return (step, outputDirectory + "/" + name)
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes the staging directories (`checkpoint-N.tmp-PID`, `.final-PID.tmp-PID`, `.final-PID`) that runs
    /// killed while saving left in `outputDirectory`, and returns their paths. Those of a live process are kept: it
    /// may still be writing them; so is a directory holding anything a checkpoint does not (not ours, whatever its
    /// name). Nothing else is touched.
    public static func removeStagingLeftovers(in outputDirectory: String) -> [String] {
        let fm = FileManager.default
        let names = (try? fm.contentsOfDirectory(atPath: outputDirectory)) ?? []
        let checkpointFiles = Set(["model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json"] + tokenizerFiles)
        return names.compactMap { name -> String? in
            guard let pid = stagingProcess(name), !isRunning(pid) else { return nil }
            let path = outputDirectory + "/" + name
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue,
                  let contents = try? fm.contentsOfDirectory(atPath: path), contents.allSatisfy(checkpointFiles.contains),
                  (try? fm.removeItem(atPath: path)) != nil else { return nil }
            return path
        }
    }

    /// The process that staged `name`, if it is the staging name `write` gives a checkpoint or the final model,
    /// or the final model's staging directory itself (`.final-PID`, left when killed while moving its files).
    static func stagingProcess(_ name: String) -> pid_t? {
        if name.hasPrefix(".final-"), let pid = pid_t(name.dropFirst(".final-".count)) { return pid }
        guard let marker = name.range(of: ".tmp-", options: .backwards), let pid = pid_t(name[marker.upperBound...]) else { return nil }
        let target = name[..<marker.lowerBound]
        for prefix in ["checkpoint-", ".final-"] where target.hasPrefix(prefix) {
            if let number = Int(target.dropFirst(prefix.count)), number >= 0 { return pid }
        }
        return nil
    }

    /// Whether process `pid` exists (signal 0 checks without sending; EPERM means it exists as another user's).
    static func isRunning(_ pid: pid_t) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// Loads a checkpoint's weights, optimizer moments and state; the optimizer takes `settings`.
    static func load(_ directory: String, config: BertConfig, settings: AdamW.Settings)
        throws(SpladeError) -> (BertWeights, AdamW, State) {
        let loaded = try BertWeights.load(directory: directory, config: config)
        let moments = try Safetensors.read(directory + "/optimizer.safetensors")
        var first: [String: NamedTensor] = [:], second: [String: NamedTensor] = [:]
        for (name, tensor) in moments {
            if name.hasPrefix("m.") { first[String(name.dropFirst(2))] = tensor }
            if name.hasPrefix("v.") { second[String(name.dropFirst(2))] = tensor }
        }
        let firstMoments = try BertWeights.assemble(first, config: config, source: directory + "/optimizer.safetensors")
        let secondMoments = try BertWeights.assemble(second, config: config, source: directory + "/optimizer.safetensors")
        guard let data = FileManager.default.contents(atPath: directory + "/trainer_state.json"),
              let json = try? JSON.parse(data),
              let step = json["global_step"]?.doubleValue.flatMap({ Int(exactly: $0) }),
              let adam = json["adam_steps"]?.doubleValue.flatMap({ Int(exactly: $0) }) else {
            throw SpladeError(.badInput, "missing or malformed trainer_state.json", location: directory)
        }
        // The step names the directory (checkpoint-N); one that does not, or a negative count, is not what a run wrote.
        let name = URL(fileURLWithPath: directory).lastPathComponent
        let named = name.hasPrefix("checkpoint-") ? Int(name.dropFirst("checkpoint-".count)) : nil
        guard step >= 0, adam >= 0, named == nil || named == step else {
            throw SpladeError(.badInput, "trainer_state.json: global_step \(step) and adam_steps \(adam) are not the state of "
                              + "this checkpoint", location: directory)
        }
        // A recorded plan counts rows, micro-batches and steps: every one at least 1.
        let plan = TrainingPlan(json)
        if let plan, plan.values.contains(where: { $0 < 1 }) {
            throw SpladeError(.badInput, "trainer_state.json: a plan without rows or steps (\(plan.values))", location: directory)
        }
        let optimizer = AdamW(settings, steps: adam, firstMoments: firstMoments, secondMoments: secondMoments)
        return (loaded, optimizer, State(globalStep: step, adamSteps: adam, plan: plan))
    }
}

extension Checkpoint {
    /// Writes the final model's files (no optimizer state) into `outputDirectory` itself, next to any checkpoint-N
    /// directories: staged whole in `.final-PID`, then moved into place file by file. The weights a previous run
    /// left go first and the new ones come last, so a run killed in between leaves a directory without weights
    /// (loading it fails), never new files beside old weights; its staging directory goes at the next run.
    static func writeFinalModel(into outputDirectory: String, weights: BertWeights, config: BertConfig,
                                modelConfigJSON: JSONValue, sourceModel: String) throws(SpladeError) {
        let staging = outputDirectory + "/.final-\(getpid())"
        try write(to: staging, weights: weights, config: config, modelConfigJSON: modelConfigJSON, sourceModel: sourceModel,
                  optimizer: nil, state: nil, describedAs: "the final model", at: outputDirectory)
        let fm = FileManager.default
        let weightsFile = "model.safetensors"
        do {
            if fm.fileExists(atPath: outputDirectory + "/" + weightsFile) { try fm.removeItem(atPath: outputDirectory + "/" + weightsFile) }
            let names = try fm.contentsOfDirectory(atPath: staging)
            for name in names.filter({ $0 != weightsFile }) + names.filter({ $0 == weightsFile }) {
                let target = outputDirectory + "/" + name
                if fm.fileExists(atPath: target) { try fm.removeItem(atPath: target) }
                try fm.moveItem(atPath: staging + "/" + name, toPath: target)
            }
            try fm.removeItem(atPath: staging)
        } catch {
            throw SpladeError.writing("the final model", failedWith: error, at: outputDirectory)
        }
    }
}
