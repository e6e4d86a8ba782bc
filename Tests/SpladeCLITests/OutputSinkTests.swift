import Foundation
import Glibc
import SpladeCLI
import SpladeCore
import Testing

/// Where `-o` writes: files atomically (a temporary beside them, renamed into place), what is not a regular
/// file — a named pipe stands in for devices such as /dev/null — directly, links to their targets.
struct OutputSinkTests {
    let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.path + "/splade-output-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func fileType(_ path: String) -> mode_t {
        var info = stat()
        return lstat(path, &info) == 0 ? info.st_mode & S_IFMT : 0
    }

    func entries() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: directory).sorted() }

    @Test func aFileAppearsWholeOnCommitAndNotBefore() throws {
        let path = directory + "/out.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        let sink = try OutputSink(path: path)
        try sink.write("new\n")
        try sink.flush()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        try sink.commit()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "new\n")
        #expect(try entries() == ["out.txt"])
    }

    @Test func anAbandonedOutputLeavesTheOldFileAndNoTemporary() throws {
        let path = directory + "/out.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        do {
            let sink = try OutputSink(path: path)
            try sink.write("partial")
            try sink.flush()
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\n")
        #expect(try entries() == ["out.txt"])
    }

    func mode(_ path: String) -> mode_t {
        var info = stat()
        return stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0
    }

    /// Started with standard output closed, a tool that writes there fails (74) instead of losing its output.
    @Test(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
    func aClosedStandardOutputIsAWriteFailure() throws {
        for output in ["", "-o /dev/stdout"] {
            let run = try Tools.shell("printf '{\"id\":1,\"text\":\"a\"}\\n' | splade-tokenize --model '\(IndexCLISupport.model)' \(output) >&-")
            #expect(run.status == 74 && run.stderr.contains("standard output is closed"), "\(output): \(run.stderr)")
        }
    }

    /// Started with standard input closed, a tool that reads it fails (66) instead of taking it for an empty input.
    @Test(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
    func aClosedStandardInputIsMissingInput() throws {
        for (tool, arguments) in [("splade-tokenize", ""), ("splade-encode", ""), ("splade-tokenize", "-i -")] {
            let run = try Tools.shell("\(tool) --model '\(IndexCLISupport.model)' \(arguments) <&-")
            #expect(run.status == 66 && run.stderr.contains("<stdin>: standard input is closed"), "\(tool): \(run.stderr)")
        }
        // Closed standard input does not matter to a tool reading a file.
        let file = try Tools.shell("printf '{\"id\":1,\"text\":\"a\"}\\n' > '\(directory)/in.jsonl'; "
                                   + "splade-tokenize --model '\(IndexCLISupport.model)' -i '\(directory)/in.jsonl' <&-")
        #expect(file.status == 0 && file.stdoutLines.count == 1, "\(file.stderr)")
    }

    /// An output that would replace a file the tool reads — the vectors it converts, the configuration or data of a
    /// training run — or that lies inside its model's or index's directory (a new file there too: the refusal does not
    /// depend on what a first run left) is a usage error.
    @Test(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
    func anOutputThatWouldReplaceWhatIsReadIsRefused() throws {
        let model = directory + "/model"
        try FileManager.default.copyItem(atPath: IndexCLISupport.model, toPath: model)
        let text = directory + "/d.jsonl"
        try "{\"id\":1,\"text\":\"a b\"}\n".write(toFile: text, atomically: false, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: model + "/tokenizer.json"))
        let replacing = try Tools.run("splade-tokenize", ["--model", model, "-i", text, "-o", model + "/tokenizer.json"])
        #expect(replacing.status == 64 && replacing.stderr.contains("the output is inside \(model)"), "\(replacing.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: model + "/tokenizer.json")) == before)
        #expect(try Tools.run("splade-tokenize", ["--model", model, "-i", text, "-o", model + "/new.jsonl"]).status == 64)
        // A link into the model directory (a Hugging Face snapshot links its files to the cache's blobs) is refused too.
        #expect(symlink(model + "/tokenizer.json", directory + "/link.json") == 0)
        #expect(try Tools.run("splade-tokenize", ["--model", model, "-i", text, "-o", directory + "/link.json"]).status == 64)
        #expect(try Data(contentsOf: URL(fileURLWithPath: model + "/tokenizer.json")) == before)
        let vectors = directory + "/d.vec"
        #expect(try Tools.run("splade-encode", ["--model", model, "--format", "binary", "-i", text, "-o", vectors]).status == 0)
        let converted = try Tools.run("splade-encode", ["--convert", "--model", model, "--top-k", "1", "--format", "binary",
                                                        "-i", vectors, "-o", vectors])
        #expect(converted.status == 64 && converted.stderr.contains("the output is also an input"), "\(converted.stderr)")
        let config = directory + "/train.yaml"
        try "model_name_or_path: \(model)\ntrain_data: \(text)\noutput_dir: \(directory)/run\n".write(toFile: config, atomically: false, encoding: .utf8)
        for log in [config, text] {
            let training = try Tools.run("splade-train", ["--config", config, "--dry-run", "--log", log])
            #expect(training.status == 64 && training.stderr.contains("the output is also an input"), "\(training.stderr)")
        }
        // Output directories: an index or a training run's inside the model (directories not made yet too), the model
        // itself, or a directory of training data (whose log would be read as data by the next run); a report of
        // splade-eval inside the model whose vocabulary it reads.
        let dataDirectory = directory + "/data"
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: false)
        try FileManager.default.copyItem(atPath: text, toPath: dataDirectory + "/rows.jsonl")
        let runs: [(String, [String], String)] = [
            ("splade-index", ["--model", model, "--bm25", "-i", text, "-o", model + "/new/idx"], "the output is inside \(model)"),
            ("splade-index", ["--model", model, "--bm25", "-i", text, "-o", model], "the output is \(model),"),
            ("splade-eval", ["--model", model, "--documents", vectors, "-o", model + "/report.txt"], "the output is inside \(model)"),
            ("splade-train", ["--config", config, "--dry-run", "--output-dir", model + "/run"], "the output is inside \(model)"),
            ("splade-train", ["--config", config, "--dry-run", "--train_data", dataDirectory, "--output-dir", dataDirectory],
             "the output is \(dataDirectory),"),
            ("splade-train", ["--config", config, "--dry-run", "--train_data", dataDirectory + "/rows.jsonl", "--output-dir", dataDirectory],
             "the output directory holds the training data \(dataDirectory)/rows.jsonl"),
        ]
        for (tool, arguments, message) in runs {
            let run = try Tools.run(tool, arguments)
            #expect(run.status == 64 && run.stderr.contains(message), "\(tool) \(arguments): \(run.stderr)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: model).sorted()
                == ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dataDirectory) == ["rows.jsonl"])
        // The file behind standard input is an input too: `-o x < x` would replace it, `< x >> x` append to what is read.
        for redirection in ["-o '\(text)' < '\(text)'", "< '\(text)' >> '\(text)'"] {
            let run = try Tools.shell("splade-tokenize --model '\(model)' \(redirection)")
            #expect(run.status == 64 && run.stderr.contains("the output is also an input (<stdin>)"), "\(redirection): \(run.stderr)")
        }
        #expect(try String(contentsOfFile: text, encoding: .utf8) == "{\"id\":1,\"text\":\"a b\"}\n")
    }

    /// The replaced file keeps its permissions (a private output stays private).
    @Test func theReplacedFilesModeIsKept() throws {
        let path = directory + "/private.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(chmod(path, 0o600) == 0)
        let sink = try OutputSink(path: path)
        try sink.write("new\n")
        try sink.commit()
        #expect(mode(path) == 0o600)
    }

    /// A new output gets 0666 less the tool's umask, as a shell redirection would make it.
    @Test(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
    func aNewOutputFollowsTheUmask() throws {
        let path = directory + "/ids.jsonl"
        let run = try Tools.shell("umask 027; printf '{\"id\":1,\"text\":\"a\"}\\n' | splade-tokenize --model '\(IndexCLISupport.model)' -o '\(path)'")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(mode(path) == 0o640)
    }

    /// Temporaries killed writers left go when the output is next written: names of this output's temporaries
    /// exactly, that no running writer holds locked. Another output's temporaries and other files stay.
    @Test func abandonedTemporariesAreRemovedOnTheNextCommit() throws {
        let path = directory + "/out.txt"
        let gone = ".out.txt.tmp.\(Int32.max).a1b2c3", running = ".out.txt.tmp.\(getpid()).d4e5f6"
        let others = [".other.txt.tmp.\(Int32.max).a1b2c3", ".out.txt.tmp.5.tmp.77.Ab12Cd", ".out.txt.tmp.123.notes"]
        for name in [gone, running] + others { try "partial".write(toFile: directory + "/" + name, atomically: false, encoding: .utf8) }
        // A writer holds its temporary locked while it writes.
        let held = open(directory + "/" + running, O_RDONLY)
        defer { close(held) }
        #expect(flock(held, LOCK_EX) == 0)
        let sink = try OutputSink(path: path)
        try sink.write("new\n")
        try sink.commit()
        #expect(try entries() == (others + [running, "out.txt"]).sorted())
    }

    /// Started with standard error closed, a tool's warnings must not land in the output file, which would
    /// otherwise take descriptor 2.
    @Test(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
    func aClosedStandardErrorDoesNotBecomeTheOutput() throws {
        let path = directory + "/ids.jsonl"
        let run = try Tools.shell("printf '{\"id\":1,\"text\":\"a b\"}\\nnot json\\n' | splade-tokenize --model '\(IndexCLISupport.model)' "
                                  + "--skip-invalid -o '\(path)' 2>&-")
        #expect(run.status == 0)
        let written = try String(contentsOfFile: path, encoding: .utf8)
        #expect(written.hasPrefix("{\"id\":1,\"input_ids\":[") && !written.contains("warning") && written.split(separator: "\n").count == 1, "\(written)")
    }

    @Test func aLinkStaysALinkAndItsTargetIsReplaced() throws {
        let target = directory + "/target.txt", link = directory + "/link.txt"
        try "old\n".write(toFile: target, atomically: false, encoding: .utf8)
        #expect(symlink("target.txt", link) == 0)
        let sink = try OutputSink(path: link)
        try sink.write("new\n")
        try sink.commit()
        #expect(fileType(link) == S_IFLNK)
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "new\n")
        #expect(try entries() == ["link.txt", "target.txt"])
    }

    @Test func aLinkToAFileStillToBeMadeMakesIt() throws {
        let link = directory + "/link.txt"
        #expect(symlink("later.txt", link) == 0)
        let sink = try OutputSink(path: link)
        try sink.write("made\n")
        try sink.commit()
        #expect(fileType(link) == S_IFLNK)
        #expect(try String(contentsOfFile: directory + "/later.txt", encoding: .utf8) == "made\n")
    }

    /// /dev/fd/N (and /dev/stdout) is the descriptor the shell set up: `>>` keeps appending to the same file.
    @Test func aDescriptorPathIsWrittenThroughItsDescriptor() throws {
        let path = directory + "/log.txt"
        try "old\n".write(toFile: path, atomically: false, encoding: .utf8)
        let appending = open(path, O_WRONLY | O_APPEND)
        #expect(appending >= 0)
        defer { close(appending) }
        var before = stat()
        _ = stat(path, &before)
        let sink = try OutputSink(path: "/dev/fd/\(appending)")
        try sink.write("new\n")
        try sink.commit()
        var after = stat()
        _ = stat(path, &after)
        #expect(after.st_ino == before.st_ino)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "old\nnew\n")
        #expect(try entries() == ["log.txt"])
    }

    @Test func aNamedPipeIsWrittenNotReplaced() throws {
        let fifo = directory + "/pipe"
        #expect(mkfifo(fifo, 0o600) == 0)
        // The reader first (non-blocking, so that neither side waits for the other).
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        let sink = try OutputSink(path: fifo)
        try sink.write("through the pipe\n")
        try sink.commit()
        #expect(fileType(fifo) == S_IFIFO)
        var bytes = [UInt8](repeating: 0, count: 64)
        let count = read(reader, &bytes, bytes.count)
        #expect(String(decoding: bytes.prefix(max(count, 0)), as: UTF8.self) == "through the pipe\n")
        #expect(try entries() == ["pipe"])
    }

    @Test func anOutputThatIsAlsoAnInputIsAUsageError() throws {
        let input = directory + "/run.trec", link = directory + "/link.trec"
        try "q1 Q0 d1 1 2.0 t\n".write(toFile: input, atomically: false, encoding: .utf8)
        #expect(symlink("run.trec", link) == 0)
        for output in [input, link] {
            let error = #expect(throws: SpladeError.self) { try OutputSink(path: output, inputs: ["-", input]) }
            #expect(error?.kind == .usage)
        }
        #expect(try String(contentsOfFile: input, encoding: .utf8) == "q1 Q0 d1 1 2.0 t\n")
        // Another file, standard output, or a path that does not exist yet are fine.
        _ = try OutputSink(path: directory + "/report.txt", inputs: [input])
        _ = try OutputSink(path: "-", inputs: ["-", input])
    }

    @Test func aMissingDirectoryIsCannotCreate() throws {
        do {
            _ = try OutputSink(path: directory + "/missing/out.txt")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .cannotCreateOutput)
            #expect(error.location == directory + "/missing/out.txt")
        }
    }
}
