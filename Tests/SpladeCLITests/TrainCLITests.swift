import Foundation
import SpladeCore
import Testing

/// splade-train through the command line: the three-step fixture run, exact resume, interruption,
/// a diverging run, and configuration errors.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"), .serialized)
struct TrainCLITests {
    let fixture = Tools.fixtures + "/ja-tiny"

    func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "splade-train-\(UUID())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// The tensors of a safetensors file, by name.
    static func tensors(_ path: String) throws -> [String: [Float]] {
        try Safetensors.read(path).mapValues(\.values)
    }

    /// The training log and final model in `out` against the reference trainer's three steps.
    static func expectTheReferenceRun(in out: String, fixture: String) throws {
        // The log's loss terms, step by step.
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: fixture + "/train/steps-expected.json")))
            as! [String: Any]
        let steps = expected["steps"] as! [[String: Any]]
        let log = try String(contentsOfFile: out + "/training_log.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(log.count == steps.count)
        for (got, want) in zip(log, steps) {
            for key in ["lr", "lambda_doc", "lambda_query", "lambda_noise", "rank_loss", "reg_doc", "reg_query", "noise_sum", "loss", "grad_norm"] {
                let g = got[key] as! Double, w = want[key] as! Double
                #expect(abs(g - w) <= 1e-4 * max(1, abs(w)), "step \(want["step"]!) \(key): \(g) vs \(w)")
            }
        }
        // The parameters after three steps. Attention key biases have an exactly-zero gradient (softmax
        // ignores a constant per row), so Adam moves them by rounding noise: they are held to ≤ Σ lr.
        let got = try tensors(out + "/model.safetensors"), want = try tensors(fixture + "/train/steps-expected.safetensors")
        let start = try tensors(fixture + "/model/model.safetensors")
        #expect(Set(got.keys) == Set(want.keys))
        for (name, values) in want {
            let ours = try #require(got[name])
            if name.hasSuffix("attention.self.key.bias") {
                #expect(zip(ours, start[name]!).allSatisfy { abs($0 - $1) <= 0.0015 + 1e-6 }, "\(name) moved more than Σ lr")
            } else {
                let scale = values.map(abs).max()!
                let error = zip(ours, values).map { abs($0 - $1) }.max()! / scale
                #expect(error < 1e-4, "\(name): \(error)")
            }
        }
    }

    /// The final models of two runs agree to 1e-6 (a resumed run against the run straight through).
    static func expectTheSameModel(in straight: String, and resumed: String) throws {
        let a = try tensors(straight + "/model.safetensors"), b = try tensors(resumed + "/model.safetensors")
        for (name, values) in a {
            let error = zip(values, b[name]!).map { abs($0 - $1) }.max()!
            #expect(error <= 1e-6, "\(name): \(error)")
        }
    }

    /// Leaves `checkpoint-1` alone in a finished run's directory, as if the run had been killed after it.
    static func keepOnlyTheFirstCheckpoint(in directory: String) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) where name != "checkpoint-1" {
            try FileManager.default.removeItem(atPath: directory + "/" + name)
        }
    }

    func train(_ arguments: String, in directory: String) throws -> ToolRun {
        try Tools.shell("cd '\(fixture)' && splade-train --config train/steps-config.yaml --threads 2 \(arguments)")
    }

    /// A run into `output` (which must succeed) and the `"field":value` entries of `fields` in its log, step by step,
    /// as written: runs meant to match compare these texts.
    func logged(_ fields: [String], _ arguments: String, output: String) throws -> [Substring] {
        let run = try train("--output-dir '\(output)' " + arguments, in: output)
        #expect(run.status == 0, "\(run.stderr)")
        let log = try String(contentsOfFile: output + "/training_log.jsonl", encoding: .utf8)
        return log.split(separator: "\n").flatMap { line in
            line.split(separator: ",").filter { entry in fields.contains { entry.hasPrefix("\"\($0)\":") } }
        }
    }

    /// The fixture's two training rows and the first again, written to `directory`/three.jsonl: an epoch of 3 micro-batches
    /// of 1 row, or of 2 micro-batches of 2 rows, the second short.
    func threeRows(in directory: String) throws -> String {
        let rows = try String(contentsOfFile: fixture + "/train/batch.jsonl", encoding: .utf8).split(separator: "\n")
        let path = directory + "/three.jsonl"
        try (rows + rows.prefix(1)).map { $0 + "\n" }.joined().write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func threeStepsMatchTheReferenceTrainer() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try train("--output-dir '\(out)'", in: out)
        #expect(run.status == 0, "\(run.stderr)")
        try Self.expectTheReferenceRun(in: out, fixture: fixture)
        // The fixture model is read-only; what training writes is not.
        let vocabulary = try FileManager.default.attributesOfItem(atPath: out + "/vocab.txt")
        #expect(((vocabulary[.posixPermissions] as? Int) ?? 0) & 0o200 != 0)
        // What training writes is a model directory the other tools load.
        let encoded = try Tools.run("splade-encode", ["--model", out, "--lines"], stdin: "東京都に住んでいます。\n")
        #expect(encoded.status == 0 && encoded.stdoutLines.count == 1, "\(encoded.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint-3/optimizer.safetensors"))
    }

    @Test func resumingGivesTheSameModelAsRunningStraight() throws {
        let straight = try scratch(), resumed = try scratch()
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: resumed) }
        #expect(try train("--output-dir '\(straight)' --save_steps 1", in: straight).status == 0)
        #expect(try train("--output-dir '\(resumed)' --save_steps 1", in: resumed).status == 0)
        // Keep only checkpoint-1 and go on from there.
        try Self.keepOnlyTheFirstCheckpoint(in: resumed)
        let again = try train("--output-dir '\(resumed)' --save_steps 1 --resume", in: resumed)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("resuming from") && again.stderr.contains("at step 1"))
        #expect(!again.stderr.contains("was written by a run of"), "the same plan resumes quietly: \(again.stderr)")
        try Self.expectTheSameModel(in: straight, and: resumed)
        // Without --resume, existing checkpoints are not overwritten.
        let refused = try train("--output-dir '\(resumed)'", in: resumed)
        #expect(refused.status == 64 && refused.stderr.contains("already holds checkpoints"))
    }

    /// Dropout (BERT's default 0.1; the fixture's configuration turns it off): a run is repeatable, a resumed run draws the
    /// masks the straight one drew, and the masks change what is learned.
    @Test func dropoutIsRepeatableAcrossRunsAndResumes() throws {
        let straight = try scratch(), again = try scratch(), resumed = try scratch(), without = try scratch()
        defer { for directory in [straight, again, resumed, without] { try? FileManager.default.removeItem(atPath: directory) } }
        let dropout = "--hidden_dropout_prob 0.1 --attention_probs_dropout_prob 0.1 --save_steps 1"
        let losses = try logged(["loss"], dropout, output: straight)
        #expect(try logged(["loss"], dropout, output: again) == losses)
        try Self.expectTheSameModel(in: straight, and: again)
        #expect(try logged(["loss"], "--save_steps 1", output: without) != losses)
        #expect(try train("--output-dir '\(resumed)' \(dropout)", in: resumed).status == 0)
        try Self.keepOnlyTheFirstCheckpoint(in: resumed)
        let continued = try train("--output-dir '\(resumed)' \(dropout) --resume", in: resumed)
        #expect(continued.status == 0, "\(continued.stderr)")
        try Self.expectTheSameModel(in: straight, and: resumed)
    }

    /// A checkpoint records the run's plan; resuming it under another (here a longer run) goes on, and says so.
    @Test func resumingUnderAnotherPlanIsSaid() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try train("--output-dir '\(out)' --max_steps 2", in: out).status == 0)
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/checkpoint-2/trainer_state.json")))
            as! [String: Any]
        #expect(state["global_step"] as? Int == 2 && state["max_steps"] as? Int == 2 && state["training_rows"] as? Int == 2,
                "\(state)")
        let longer = try train("--output-dir '\(out)' --max_steps 3 --resume", in: out)
        #expect(longer.status == 0, "\(longer.stderr)")
        #expect(longer.stderr.contains("checkpoint-2 was written by a run of 2 training rows: 1 micro-batch of 2 an epoch, "
                                       + "1 optimizer step an epoch (accumulating 1); 2 steps, 2 epochs; from step 2 on"),
                "\(longer.stderr)")
        #expect(longer.stderr.contains("at step 2 of 3"), "\(longer.stderr)")
    }

    /// A checkpoint records the run's command-line overrides and flag: `--resume` alone continues that run, not the file's.
    /// A checkpoint past the end of a shorter plan is the final model, said.
    @Test func resumingCarriesTheOverridesOfTheRunItContinues() throws {
        let straight = try scratch(), resumed = try scratch()
        defer { try? FileManager.default.removeItem(atPath: straight); try? FileManager.default.removeItem(atPath: resumed) }
        let settings = "--max_steps 5 --learning_rate 2e-4 --save_steps 1 --sparsity-warmup-in-optimizer-steps"
        #expect(try train("--output-dir '\(straight)' \(settings)", in: straight).status == 0)
        #expect(try train("--output-dir '\(resumed)' \(settings)", in: resumed).status == 0)
        try Self.keepOnlyTheFirstCheckpoint(in: resumed)
        let state = try String(contentsOfFile: resumed + "/checkpoint-1/trainer_state.json", encoding: .utf8)
        #expect(state.contains("\"command_line_overrides\":{\"max_steps\":\"5\",\"learning_rate\":\"2e-4\",\"save_steps\":\"1\"}")
                && state.contains("\"sparsity_warmup_in_optimizer_steps\":true"), "\(state)")
        let again = try train("--output-dir '\(resumed)' --resume", in: resumed)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("was given on the command line: --max_steps 5 --learning_rate 2e-4 --save_steps 1 "
                                      + "--sparsity-warmup-in-optimizer-steps") && again.stderr.contains("at step 1 of 5"),
                "\(again.stderr)")
        #expect(!again.stderr.contains("was written by a run of"), "\(again.stderr)")
        try Self.expectTheSameModel(in: straight, and: resumed)
        // An override given again wins: here a plan that checkpoint-5 is already past.
        let shorter = try train("--output-dir '\(resumed)' --resume --max_steps 4", in: resumed)
        #expect(shorter.status == 0 && shorter.stderr.contains("checkpoint-5 is past the end of this run's 4 steps"),
                "\(shorter.stderr)")
        #expect(try Self.tensors(resumed + "/model.safetensors") == Self.tensors(resumed + "/checkpoint-5/model.safetensors"))
    }

    /// A checkpoint that records no plan (written before splade-train recorded one) resumes quietly where its epochs split
    /// evenly into steps, and with a warning where they do not: that run took micro-batches in one stream across epochs.
    @Test func resumingACheckpointWithoutAPlanIsSaidWhereEpochsDoNotSplitEvenly() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let rows = try threeRows(in: out)
        for (accumulation, warned) in [(3, false), (2, true)] {
            let output = "\(out)/a\(accumulation)"
            let run = "--output-dir '\(output)' --train_data '\(rows)' --per_device_train_batch_size 1 "
                + "--gradient_accumulation_steps \(accumulation)"
            #expect(try train(run + " --max_steps 1", in: out).status == 0)
            // The trainer_state.json of such a checkpoint: the steps alone.
            let state = output + "/checkpoint-1/trainer_state.json"
            var members = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: state))) as! [String: Any]
            members = members.filter { ["global_step", "adam_steps"].contains($0.key) }
            try JSONSerialization.data(withJSONObject: members).write(to: URL(fileURLWithPath: state))
            let resumed = try train(run + " --max_steps 2 --resume", in: out)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            #expect(resumed.stderr.contains("at step 1 of 2"), "\(resumed.stderr)")
            #expect(resumed.stderr.contains("checkpoint-1 records no plan") == warned, "\(resumed.stderr)")
        }
    }

    /// --dry-run reads and checks everything a run needs (the training data, the checkpoint to resume), says the plan, and
    /// writes nothing.
    @Test func aDryRunChecksAndSaysThePlanWithoutWriting() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let fresh = try train("--output-dir '\(out)/new' --dry-run", in: out)
        #expect(fresh.status == 0 && fresh.stderr.contains("2 training rows: 1 micro-batch of 2 an epoch"), "\(fresh.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/new"))
        let missing = try train("--output-dir '\(out)/new' --dry-run --train_data '\(out)/absent.jsonl'", in: out)
        #expect(missing.status == 66 && missing.stderr.contains("absent.jsonl"), "\(missing.stderr)")
        // Over a run's checkpoints: the one --resume would continue is loaded and compared, and nothing changes.
        #expect(try train("--output-dir '\(out)/run' --max_steps 2", in: out).status == 0)
        let before = try FileManager.default.contentsOfDirectory(atPath: out + "/run").sorted()
        let log = try String(contentsOfFile: out + "/run/training_log.jsonl", encoding: .utf8)
        let longer = try train("--output-dir '\(out)/run' --dry-run --resume --max_steps 3", in: out)
        #expect(longer.status == 0 && longer.stderr.contains("would resume from \(out)/run/checkpoint-2 at step 2 of 3")
                && longer.stderr.contains("was written by a run of"), "\(longer.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out + "/run").sorted() == before)
        #expect(try String(contentsOfFile: out + "/run/training_log.jsonl", encoding: .utf8) == log)
    }

    @Test func resumingRemovesDeadRunsStagingDirectoriesAndCutsTheLogBack() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try train("--output-dir '\(out)' --save_steps 1", in: out).status == 0)
        // As if killed (-9) while saving checkpoint-2 after logging step 1 and half of step 2.
        let fm = FileManager.default
        for name in ["checkpoint-2", "checkpoint-3"] { try fm.removeItem(atPath: out + "/" + name) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: out + "/training_log.jsonl"))
        log.seekToEndOfFile()
        log.write(Data(#"{"step":2,"lr":"#.utf8))
        try log.close()
        // Staging directories: a dead process's (removed), a live one's and a name that is not a checkpoint's (kept).
        // The final model's staging directory, left by a run killed while moving its files into place, goes too.
        let dead = out + "/checkpoint-2.tmp-2147483646", live = out + "/checkpoint-3.tmp-\(ProcessInfo.processInfo.processIdentifier)"
        // One named like the final model's but holding a file no checkpoint has is not ours: it stays.
        let other = out + "/notes.tmp-2147483646", deadFinal = out + "/.final-2147483646", notOurs = out + "/.final-2147483645"
        for path in [dead, live, other, deadFinal, notOurs] { try fm.createDirectory(atPath: path, withIntermediateDirectories: false) }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: deadFinal + "/config.json"))
        try Data("mine".utf8).write(to: URL(fileURLWithPath: notOurs + "/notes.txt"))

        let resumed = try train("--output-dir '\(out)' --save_steps 1 --resume", in: out)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("removed \(dead)") && resumed.stderr.contains("removed \(deadFinal)"), "\(resumed.stderr)")
        #expect(!fm.fileExists(atPath: dead) && !fm.fileExists(atPath: deadFinal) && fm.fileExists(atPath: live) && fm.fileExists(atPath: other))
        #expect(fm.fileExists(atPath: notOurs + "/notes.txt"))
        // Each step is logged once: the lines after checkpoint-1 were dropped before the resumed run logged them again.
        let steps = try String(contentsOfFile: out + "/training_log.jsonl", encoding: .utf8).split(separator: "\n").map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])["step"] as? Int
        }
        #expect(steps == [0, 1, 2])
    }

    @Test func aDivergingRunStopsWith70AndSavesNothing() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try train("--output-dir '\(out)' --learning_rate 1e30 --warmup_steps 0 --max_steps 3", in: out)
        #expect(run.status == 70, "\(run.stderr)")
        #expect(run.stderr.contains("at step"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        #expect(!((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).contains { $0.hasPrefix("checkpoint-") })
    }

    @Test func sigtermSavesACheckpointAndExits143() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // Start a longer run, stop it once a step is logged, then let --resume finish it.
        let script = """
            cd '\(fixture)' && (splade-train --config train/steps-config.yaml --output-dir '\(out)' --max_steps 50 --save_steps 1000 & pid=$!
            for i in $(seq 600); do [ -s '\(out)/training_log.jsonl' ] && break; sleep 0.1; done
            kill -TERM $pid; wait $pid; echo "status $?")
            """
        let run = try Tools.shell(script)
        #expect(run.stdoutText.contains("status 143"), "\(run.stdoutText) \(run.stderr)")
        #expect(run.stderr.contains("interrupted: saved"))
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("checkpoint-") }
        #expect(checkpoints.count == 1)
    }

    /// A run refused for its inputs makes no output directory; a run locks the one it writes (an overlapping cron job
    /// exits 75); --dry-run says what the output side would fail on; the log is written through a link.
    @Test func theOutputDirectoryIsMadeLateAndLockedAndTheLogFollowsALink() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let fm = FileManager.default
        let refused = try train("--output-dir '\(out)/never' --model_name_or_path /nonexistent", in: out)
        #expect(refused.status == 66 && !fm.fileExists(atPath: out + "/never"), "\(refused.stderr)")

        try fm.createDirectory(atPath: out + "/locked", withIntermediateDirectories: false)
        let holder = open(out + "/locked", O_RDONLY | O_DIRECTORY)
        #expect(holder >= 0 && flock(holder, LOCK_EX) == 0)
        let locked = try train("--output-dir '\(out)/locked' --max_steps 1", in: out)
        close(holder)
        #expect(locked.status == 75 && locked.stderr.contains("another splade-train is writing into this output directory"),
                "\(locked.stderr)")
        #expect(try fm.contentsOfDirectory(atPath: out + "/locked").isEmpty)
        // Its checkpoints are a run still going: 75, not "already holds checkpoints" (64).
        let running = try train("--output-dir '\(out)/running' --max_steps 2 --save_steps 1", in: out)
        #expect(running.status == 0, "\(running.stderr)")
        let again = open(out + "/running", O_RDONLY | O_DIRECTORY)
        #expect(again >= 0 && flock(again, LOCK_EX) == 0)
        let overlapping = try train("--output-dir '\(out)/running' --max_steps 2", in: out)
        close(again)
        #expect(overlapping.status == 75 && overlapping.stderr.contains("another splade-train is writing"), "\(overlapping.stderr)")

        try "old\n".write(toFile: out + "/real.log", atomically: true, encoding: .utf8)
        try fm.createSymbolicLink(atPath: out + "/link.log", withDestinationPath: "real.log")
        let linked = try train("--output-dir '\(out)/run' --max_steps 1 --log '\(out)/link.log'", in: out)
        #expect(linked.status == 0, "\(linked.stderr)")
        #expect(try fm.destinationOfSymbolicLink(atPath: out + "/link.log") == "real.log")
        let log = try String(contentsOfFile: out + "/real.log", encoding: .utf8)
        #expect(log.hasPrefix("{\"step\":0,") && log.split(separator: "\n").count == 1, "\(log)")

        let underAFile = try train("--output-dir '\(out)/real.log/sub' --dry-run", in: out)
        #expect(underAFile.status == 73 && underAFile.stderr.contains("Not a directory"), "\(underAFile.stderr)")
        let logNowhere = try train("--output-dir '\(out)/run2' --log '\(out)/missing/x.jsonl' --dry-run", in: out)
        #expect(logNowhere.status == 73 && logNowhere.stderr.contains("cannot create the training log"), "\(logNowhere.stderr)")
        // A log that fails at its first line fails the run (74) before anything is saved: the directories it made go too.
        let logFull = try train("--output-dir '\(out)/full/p/q' --max_steps 2 --log /dev/full", in: out)
        #expect(logFull.status == 74 && !fm.fileExists(atPath: out + "/full"), "\(logFull.stderr)")
        // One that existed stays.
        try fm.createDirectory(atPath: out + "/kept", withIntermediateDirectories: false)
        #expect(try train("--output-dir '\(out)/kept' --max_steps 2 --log /dev/full", in: out).status == 74)
        #expect(fm.fileExists(atPath: out + "/kept"))
    }

    /// Relative output directories with one-character names (NSString's deletingLastPathComponent traps on those).
    @Test func oneCharacterOutputDirectoriesRelativeToTheWorkingDirectory() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let fromScratch = "cd '\(out)' && splade-train --config '\(fixture)/train/steps-config.yaml' --model_name_or_path '\(fixture)/model' "
            + "--train_data '\(fixture)/train/batch.jsonl' --threads 2 --max_steps 1"
        let made = try Tools.shell(fromScratch + " --output-dir q/r")
        #expect(made.status == 0 && FileManager.default.fileExists(atPath: out + "/q/r/model.safetensors"), "\(made.stderr)")
        // A run failing at its first log line removes the directories it made, outermost included.
        let failed = try Tools.shell(fromScratch + " --output-dir x/y --log /dev/full")
        #expect(failed.status == 74 && !FileManager.default.fileExists(atPath: out + "/x"), "\(failed.stderr)")
    }

    /// A text MeCab refuses stops the run at the row it came from, which may be sampled hours into it.
    @Test func aTextMeCabRefusesIsNamedByItsRow() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let first = try String(contentsOfFile: fixture + "/train/batch.jsonl", encoding: .utf8).split(separator: "\n")[0]
        var row = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        row["positives"] = [String(repeating: ",1", count: 71_000)]
        try JSONSerialization.data(withJSONObject: row).write(to: URL(fileURLWithPath: out + "/huge.jsonl"))
        let run = try train("--output-dir '\(out)/o' --train_data '\(out)/huge.jsonl'", in: out)
        #expect(run.status == 65 && run.stderr.contains("huge.jsonl:1: MeCab cannot analyse this text"), "\(run.stderr)")
    }

    /// save_strategy / logging_strategy as the Trainer reads them: no checkpoints under "no" (the model is still
    /// saved), one at every epoch's end under "epoch".
    @Test func saveAndLoggingStrategies() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let fm = FileManager.default
        func checkpoints(_ directory: String) throws -> [String] {
            try fm.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("checkpoint-") }.sorted()
        }
        let none = try train("--output-dir '\(out)/no' --max_steps 2 --save_steps 1 --save_strategy no --logging_strategy no", in: out)
        #expect(none.status == 0, "\(none.stderr)")
        #expect(try checkpoints(out + "/no").isEmpty && fm.fileExists(atPath: out + "/no/model.safetensors"))
        #expect(try String(contentsOfFile: out + "/no/training_log.jsonl", encoding: .utf8).isEmpty)
        // Two rows in micro-batches of 1: an epoch is two steps, the first ending after step 2.
        func loggedSteps(_ directory: String) throws -> [String] {
            try String(contentsOfFile: directory + "/training_log.jsonl", encoding: .utf8).split(separator: "\n")
                .map { String($0.split(separator: ",")[0]) }
        }
        let epochs = try train("--output-dir '\(out)/epoch' --max_steps 3 --per_device_train_batch_size 1 --save_strategy epoch "
                               + "--logging_strategy epoch", in: out)
        #expect(epochs.status == 0, "\(epochs.stderr)")
        #expect(try checkpoints(out + "/epoch") == ["checkpoint-2", "checkpoint-3"])
        #expect(try loggedSteps(out + "/epoch") == ["{\"step\":1", "{\"step\":2"])
        // Below 1, a fraction of the run: half of 4 steps is every 2nd.
        let fraction = try train("--output-dir '\(out)/fraction' --max_steps 4 --save_steps 0.5 --logging_steps 0.5", in: out)
        #expect(fraction.status == 0, "\(fraction.stderr)")
        #expect(try checkpoints(out + "/fraction") == ["checkpoint-2", "checkpoint-4"])
        #expect(try loggedSteps(out + "/fraction") == ["{\"step\":0", "{\"step\":2", "{\"step\":3"])
    }

    /// A checkpoint whose trainer_state.json is not its own (edited, or copied from another) is refused, not resumed
    /// into a crash or a checkpoint-9999999999999.
    @Test func aCheckpointWithAnotherStepIsRefused() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        #expect(try train("--output-dir '\(out)' --max_steps 1", in: out).status == 0)
        for state in [#"{"global_step": -5, "adam_steps": 0}"#, #"{"global_step": 9999999999999, "adam_steps": 1}"#] {
            try state.write(toFile: out + "/checkpoint-1/trainer_state.json", atomically: true, encoding: .utf8)
            let resumed = try train("--output-dir '\(out)' --max_steps 2 --resume --overwrite_output_dir true", in: out)
            #expect(resumed.status == 65 && resumed.stderr.contains("are not the state of this checkpoint"), "\(resumed.stderr)")
        }
        let zeroPlan = #"{"global_step": 1, "adam_steps": 1, "training_rows": 2, "micro_batches_per_epoch": 1, "train_batch_size": 2, "#
            + #""optimizer_steps_per_epoch": 0, "gradient_accumulation_steps": 1, "max_steps": 1}"#
        try zeroPlan.write(toFile: out + "/checkpoint-1/trainer_state.json", atomically: true, encoding: .utf8)
        let planless = try train("--output-dir '\(out)' --max_steps 2 --resume --overwrite_output_dir true", in: out)
        #expect(planless.status == 65 && planless.stderr.contains("a plan without rows or steps"), "\(planless.stderr)")
    }

    @Test func configurationErrors() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try "model_name_or_path: [unclosed\n".write(toFile: out + "/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try Tools.run("splade-train", ["--config", out + "/bad.yaml"])
        #expect(bad.status == 65 && bad.stderr.contains("bad.yaml"), "\(bad.stderr)")
        try "model_name_or_path: /nonexistent\ntrain_data: x.jsonl\noutput_dir: \(out)/o\nfancy_option: 3\n"
            .write(toFile: out + "/missing.yaml", atomically: true, encoding: .utf8)
        let missing = try Tools.run("splade-train", ["--config", out + "/missing.yaml"])
        #expect(missing.status == 66, "\(missing.stderr)")
        let noConfig = try Tools.run("splade-train", ["--config", out + "/none.yaml"])
        #expect(noConfig.status == 66 && noConfig.stderr.contains("none.yaml: cannot read the configuration: No such file or directory"),
                "\(noConfig.stderr)")
        #expect(missing.stderr.contains("not implemented, ignored: fancy_option"))
        #expect(try Tools.run("splade-train", ["--config", out + "/missing.yaml", "--learning_rate"]).status == 64)
        // Aliases of aliases ("billion laughs": 9^9 values) are refused at once, not expanded into all memory.
        var laughs = "a: &a [x, x, x, x, x, x, x, x, x]\n"
        for (name, previous) in zip("bcdefghi", "abcdefgh") {
            laughs += "\(name): &\(name) [" + Array(repeating: "*\(previous)", count: 9).joined(separator: ", ") + "]\n"
        }
        try (laughs + "model_name_or_path: /nonexistent\n").write(toFile: out + "/laughs.yaml", atomically: true, encoding: .utf8)
        let expanded = try Tools.run("splade-train", ["--config", out + "/laughs.yaml", "--dry-run"])
        #expect(expanded.status == 65 && expanded.stderr.contains("expands to more than 100000 values"), "\(expanded.stderr)")
        // A byte-order mark is skipped, as PyYAML skips it: the file's own error comes next.
        try "\u{FEFF}model_name_or_path: /nonexistent\noutput_dir: \(out)/o\n".write(toFile: out + "/bom.yaml", atomically: true, encoding: .utf8)
        let marked = try Tools.run("splade-train", ["--config", out + "/bom.yaml", "--dry-run"])
        #expect(marked.status == 65 && marked.stderr.contains("missing train_data"), "\(marked.stderr)")
    }

    @Test func configurationErrorsNameTheKeysLineOrTheOverride() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let config = out + "/c.yaml"
        try "model_name_or_path: /nonexistent\ntrain_data: x.jsonl\noutput_dir: \(out)/o\n\nmax_steps: three\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let bad = try Tools.run("splade-train", ["--config", config])
        #expect(bad.status == 65 && bad.stderr.contains("c.yaml:5: max_steps must be a number"), "\(bad.stderr)")
        // A bad override is the command line's fault, not the file's.
        let override = try Tools.run("splade-train", ["--config", config, "--max_steps", "abc"])
        #expect(override.status == 64 && override.stderr.contains("--max_steps abc: max_steps must be a number"), "\(override.stderr)")
        // --KEY=VALUE is the same override, as the reference trainer's argument parser reads it.
        let joined = try Tools.run("splade-train", ["--config", config, "--max_steps=abc"])
        #expect(joined.status == 64 && joined.stderr.contains("--max_steps abc: max_steps must be a number"), "\(joined.stderr)")
        let unpaired = try Tools.run("splade-train", ["--config", config, "--max_steps=3", "--seed"])
        #expect(unpaired.status == 64 && unpaired.stderr.contains("(or --KEY=VALUE) pairs"), "\(unpaired.stderr)")
        let unknown = try Tools.run("splade-train", ["--config", config, "--max_steps", "3", "--frobnicate", "3"])
        #expect(unknown.status == 64 && unknown.stderr.contains("--frobnicate 3: frobnicate is not a configuration key"),
                "\(unknown.stderr)")
        // Unknown keys in the file stay warnings, with their line and the key they may be a typo of.
        try "model_name_or_path: /nonexistent\ntrain_data: x.jsonl\noutput_dir: \(out)/o\nlerning_rate: 1e-5\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let typo = try Tools.run("splade-train", ["--config", config])
        #expect(typo.status == 66, "\(typo.stderr)")
        #expect(typo.stderr.contains("c.yaml:4: not implemented, ignored: lerning_rate (did you mean learning_rate?)"), "\(typo.stderr)")
        // A value YAML reads as something else than a number, string or list (a date) is named with its key's line.
        try "model_name_or_path: /nonexistent\ntrain_data: x.jsonl\nseed: 2024-01-01\n".write(toFile: config, atomically: true, encoding: .utf8)
        let date = try Tools.run("splade-train", ["--config", config, "--dry-run"])
        #expect(date.status == 65 && date.stderr.contains("c.yaml:3: seed: a YAML timestamp (2024-01-01") && date.stderr.contains("hint: quote it"),
                "\(date.stderr)")
    }

    @Test func noiseTokensOutsideTheVocabularyAreNamed() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try train("--output-dir '\(out)' --max_steps 1 --noise_tokens '、 ZZZ QQQ ZZZ'", in: out)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("noise_tokens: 2 tokens are not in the vocabulary and count as [UNK]: ZZZ, QQQ"), "\(run.stderr)")
        let known = try train("--output-dir '\(out)/known' --max_steps 1", in: out)
        #expect(known.status == 0 && !known.stderr.contains("noise_tokens"), "\(known.stderr)")
    }

    @Test func aRepeatedNoiseTokenCountsOnceAsInTheReference() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        // The reference takes set(noise_tokens): "。" (which has weight in these rows) listed twice penalises the same
        // as once (step 1 has λ_noise > 0).
        func losses(_ tokens: String, _ name: String) throws -> [Substring] {
            try logged(["noise_sum", "loss"], "--max_steps 2 --noise_tokens '\(tokens)'", output: "\(out)/\(name)")
        }
        let once = try losses("、 。 ・", "once")
        #expect(once.count == 4)
        #expect(try losses("、 。 ・ 。", "twice") == once)
    }

    /// The reference's keys for where a run starts and what it leaves. overwrite_output_dir lets a new run train over a
    /// finished model (else refused), never over checkpoints (continued with --resume); remove_checkpoints leaves only the
    /// final model; resume_from_checkpoint: true is --resume.
    @Test func overwriteRemoveAndResumeKeys() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let fm = FileManager.default
        func checkpoints() throws -> [String] { try fm.contentsOfDirectory(atPath: out).filter { $0.hasPrefix("checkpoint-") }.sorted() }
        let finished = try train("--output-dir '\(out)' --save_steps 1 --remove_checkpoints true", in: out)
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try checkpoints().isEmpty)
        let first = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        let refused = try train("--output-dir '\(out)'", in: out)
        #expect(refused.status == 64 && refused.stderr.contains("already holds a trained model"), "\(refused.stderr)")
        #expect(refused.stderr.contains("overwrite_output_dir: true"), "\(refused.stderr)")

        let again = try train("--output-dir '\(out)' --save_steps 1 --overwrite_output_dir true", in: out)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try checkpoints() == ["checkpoint-1", "checkpoint-2", "checkpoint-3"])
        // Started at step 0: the same run again, and its log only.
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors")) == first)
        #expect(try String(contentsOfFile: out + "/training_log.jsonl", encoding: .utf8).split(separator: "\n").count == 3)
        // Checkpoints are continued, never trained over, whatever overwrite_output_dir says.
        let kept = try train("--output-dir '\(out)' --overwrite_output_dir true", in: out)
        #expect(kept.status == 64 && kept.stderr.contains("already holds checkpoints"), "\(kept.stderr)")

        for name in ["checkpoint-2", "checkpoint-3"] { try fm.removeItem(atPath: out + "/" + name) }
        let resumed = try train("--output-dir '\(out)' --save_steps 1 --resume_from_checkpoint true", in: out)
        #expect(resumed.status == 0 && resumed.stderr.contains("at step 1"), "\(resumed.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors")) == first)
    }

    /// dataloader_drop_last: an epoch of 3 rows in micro-batches of 2 is one step, not two; no full micro-batch is an error.
    /// Rows with fewer negatives than the group needs are trained (sampled with replacement, as before) but said.
    @Test func rowsShortOfNegativesAreSaid() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let enough = try train("--output-dir '\(out)/a' --dry-run", in: out)
        #expect(enough.status == 0 && !enough.stderr.contains("fewer than train_group_size"), "\(enough.stderr)")
        let short = try train("--output-dir '\(out)/b' --dry-run --train_group_size 9", in: out)
        #expect(short.status == 0 && short.stderr.contains("warning: 2 of 2 rows (the first at train/batch.jsonl:1) have fewer than "
                                                           + "train_group_size − 1 = 8 negatives"), "\(short.stderr)")
    }

    @Test func dropLastLeavesOutTheShortMicroBatch() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let epoch = "--train_data '\(try threeRows(in: out))' --max_steps -1 --num_train_epochs 1"
        // One learning rate logged per step.
        #expect(try logged(["lr"], epoch, output: out + "/kept").count == 2)
        #expect(try logged(["lr"], epoch + " --dataloader_drop_last true", output: out + "/dropped").count == 1)
        let none = try train("--output-dir '\(out)/none' \(epoch) --per_device_train_batch_size 4 --dataloader_drop_last true", in: out)
        #expect(none.status == 64 && none.stderr.contains("dataloader_drop_last leaves no micro-batch: 3 training rows"), "\(none.stderr)")
    }

    /// With 3 micro-batches an epoch and accumulation 2, the epoch's second step is its last micro-batch alone, averaged
    /// over that one (the Hugging Face Trainer's current_gradient_accumulation_steps), not over 2. With a learning rate
    /// of 0 and no regularisers the model never moves, so each step's loss and gradient norm are those of its
    /// micro-batches, which a run without accumulation gives one by one.
    @Test func anEpochsLastStepAveragesTheMicroBatchesItHas() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let frozen = "--train_data '\(try threeRows(in: out))' --max_steps -1 --num_train_epochs 1 --per_device_train_batch_size 1 "
            + "--learning_rate 0 --sparsity_weight_doc 0 --sparsity_weight_query 0 --noise_tokens_weight 0"
        func numbers(_ entries: [Substring]) -> [Double] { entries.map { Double($0.split(separator: ":")[1])! } }
        let fields = ["epoch", "rank_loss", "grad_norm"]
        let single = try logged(fields, frozen + " --gradient_accumulation_steps 1", output: out + "/single")
        let paired = try logged(fields, frozen + " --gradient_accumulation_steps 2", output: out + "/paired")
        try #require(single.count == 9 && paired.count == 6, "\(single) \(paired)")
        // Field by field: epoch, rank_loss, grad_norm of each step.
        let one = numbers(single), two = numbers(paired)
        #expect(two[0] == 0.67 && two[3] == 1)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-5 * max(1, abs(b)) }
        #expect(close(two[1], (one[1] + one[4]) / 2), "the first step's loss is the mean of its two micro-batches")
        #expect(close(two[4], one[7]) && close(two[5], one[8]), "the last step is its one micro-batch, unscaled: \(two) \(one)")
        // The plan is said at the start, in the Trainer's terms.
        let capped = try train("--output-dir '\(out)/capped' \(frozen) --gradient_accumulation_steps 2 --max_steps 3", in: out)
        #expect(capped.status == 0 && capped.stderr.contains("splade-train: 3 training rows: 3 micro-batches of 1 an epoch, "
                                                             + "2 optimizer steps an epoch (accumulating 2); 3 steps, 1.50 epochs"),
                "\(capped.stderr)")
    }

    @Test func lengthsBeyondTheModelAndRunsWithoutStepsAreRefusedAtOnce() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let long = try train("--output-dir '\(out)/long' --max_length 600", in: out)
        #expect(long.status == 64 && long.stderr.contains("max_length 600 exceeds the model's 512 positions"), "\(long.stderr)")
        let none = try train("--output-dir '\(out)/none' --max_steps -1 --num_train_epochs 0", in: out)
        #expect(none.status == 64 && none.stderr.contains("no training steps"), "\(none.stderr)")
    }

    /// max_grad_norm 0 turns clipping off, as in the Hugging Face Trainer: the same run as with a bound no norm reaches.
    @Test func aZeroMaxGradNormDoesNotClip() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        func losses(_ norm: String) throws -> [Substring] {
            try logged(["rank_loss"], "--max_steps 3 --learning_rate 1e-5 --max_grad_norm \(norm)", output: "\(out)/\(norm)")
        }
        let unclipped = try losses("1e9")
        #expect(unclipped.count == 3 && unclipped[2] != unclipped[0])
        #expect(try losses("0") == unclipped)
    }

    /// `--log - | head -1`: the view closed, the run is not: it finishes and saves its model.
    @Test func aClosedLogPipeLetsTheRunFinish() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Tools.shell("cd '\(fixture)' && splade-train --config train/steps-config.yaml --threads 2 "
                                  + "--output-dir '\(out)/o' --log - | true; exit ${PIPESTATUS[0]}")
        // `true` exits at once, long before the first step is logged: every write meets the closed pipe.
        #expect(run.status == 0 && run.stderr.contains("training goes on without the log"), "\(run.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/o/model.safetensors"))
    }

    @Test func rowsWithoutTeacherScoresNeedBinarizeLabel() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        try """
            {"query": "東京", "pos": ["東京都"], "neg": ["大阪"], "pos_score": [0.9], "neg_score": [0.1]}
            {"query": "東京", "pos": ["東京都"], "neg": ["大阪"], "pos_score": [0.9]}

            """.write(toFile: out + "/rows.jsonl", atomically: true, encoding: .utf8)
        let data = "--output-dir '\(out)/o' --train_data '\(out)/rows.jsonl'"
        let run = try train(data + " --training_losses kl_div", in: out)
        #expect(run.status == 65 && run.stderr.contains("rows.jsonl:2: no teacher scores"), "\(run.stderr)")
        // kl_div takes log y: a negative teacher score is refused.
        try """
            {"query": "東京", "pos": ["東京都"], "neg": ["大阪"], "pos_score": [0.9], "neg_score": [-2.5]}

            """.write(toFile: out + "/negative.jsonl", atomically: true, encoding: .utf8)
        let negative = try train("--output-dir '\(out)/n' --train_data '\(out)/negative.jsonl' --training_losses kl_div", in: out)
        #expect(negative.status == 65 && negative.stderr.contains("negative.jsonl:1: teacher score -2.5 is negative"), "\(negative.stderr)")
        // cross_entropy takes the scores as labels too; binarize_label: true trains on 1, 0 instead.
        #expect(try train(data, in: out).status == 65)
        #expect(try train(data + " --max_steps 1 --binarize_label true", in: out).status == 0)
    }
}
