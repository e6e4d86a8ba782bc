import Foundation
import Testing

/// Command-line mistakes, caught by the argument parser before a tool starts its work, are reported like
/// every other error: `TOOL: error: message` on standard error, then the usage lines, and status 64.
struct UsageErrorTests {
    static let tools = ["splade-tokenize", "splade-encode", "splade-index", "splade-search", "splade-train",
                        "splade-eval", "splade-filter", "splade-noise"]

    @Test(arguments: tools) func anUnknownOptionIsReportedInTheToolkitsFormat(tool: String) throws {
        let run = try Tools.run(tool, ["--no-such-option"])
        #expect(run.status == 64 && run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("\(tool): error: "), "\(run.stderr)")
        #expect(run.stderr.contains("Usage: \(tool)"), "\(run.stderr)")
    }

    /// An empty file name would be found out only when the output is moved into place, after all the work.
    @Test(arguments: ["splade-tokenize", "splade-encode", "splade-index", "splade-search", "splade-eval", "splade-filter"])
    func anEmptyFileNameIsAUsageError(tool: String) throws {
        let run = try Tools.run(tool, ["-o", ""])
        #expect(run.status == 64 && run.stderr.contains("-o needs a file name"), "\(run.stderr)")
        if tool != "splade-eval" {
            let input = try Tools.run(tool, ["-i", ""])
            #expect(input.status == 64 && input.stderr.contains("-i needs a file name"), "\(input.stderr)")
        }
    }

    /// A thread count or batch size no machine holds is a typo: 64, not a crash or an exhausted memory.
    @Test(arguments: [("splade-tokenize", "--threads"), ("splade-encode", "--threads"), ("splade-encode", "--batch-size"),
                      ("splade-search", "--threads"), ("splade-search", "--batch-size"), ("splade-filter", "--threads"),
                      ("splade-train", "--threads")])
    func hugeCountsAreUsageErrors(tool: String, option: String) throws {
        let required = ["splade-search": ["--index", "idx"], "splade-train": ["--config", "train.yaml"]][tool] ?? []
        let run = try Tools.run(tool, required + [option, "9223372036854775807"])
        #expect(run.status == 64 && run.stderr.contains("\(option) must be between 1 and "), "\(run.stderr)")
    }

    /// A negative number after an option reads as an option to the parser: the error says how to give it.
    @Test func aNegativeValueIsShownHowToBeGiven() throws {
        let run = try Tools.run("splade-tokenize", ["--max-length", "-5"])
        #expect(run.status == 64 && run.stderr.contains("""
            splade-tokenize: error: missing value for '--max-length <n>'
            hint: a value that starts with '-' goes after '=': --max-length=-5
            """), "\(run.stderr)")
        #expect(try !Tools.run("splade-tokenize", ["--max-length"]).stderr.contains("hint:"))
        // A short option too (-k=-1 then gets the range check).
        let short = try Tools.run("splade-search", ["--index", "idx", "-k", "-1"])
        #expect(short.status == 64 && short.stderr.contains("hint: a value that starts with '-' goes after '=': -k=-1"), "\(short.stderr)")
    }

    /// The one-input tools keep only the last of several -i: refused rather than reading part of what was named.
    @Test(arguments: ["splade-tokenize", "splade-encode", "splade-search", "splade-filter"])
    func aRepeatedInputIsAUsageError(tool: String) throws {
        let run = try Tools.run(tool, ["-i", "a.jsonl", "--input=b.jsonl"])
        #expect(run.status == 64 && run.stderr.contains("-i is given 2 times"), "\(run.stderr)")
    }

    /// A misspelt option is what the error names, not a check it made fail (`--chek` leaves no --check, so no -o).
    @Test(arguments: [("splade-index", ["--chek", "idx"], "--check"), ("splade-search", ["--idnex", "idx"], "--index"),
                      ("splade-eval", ["--qrles", "q.trec", "run.trec"], "--qrels"), ("splade-filter", ["--rerankrs", "a"], "--rerankers"),
                      ("splade-encode", ["--batch-sise", "0"], "--batch-size")])
    func aMisspeltOptionIsNamed(tool: String, arguments: [String], meant: String) throws {
        let run = try Tools.run(tool, arguments)
        #expect(run.status == 64 && run.stderr.contains("unknown option '\(arguments[0])'. Did you mean '\(meant)'?"), "\(run.stderr)")
    }

    /// splade-train takes unknown --names as configuration overrides: one near its own options and no configuration
    /// key is named as a misspelt option (`--dryrun` would otherwise train), and a misspelt --config gets a hint.
    @Test func spladeTrainNamesAMisspeltOptionAmongItsOverrides() throws {
        for (arguments, meant) in [(["--dryrun"], "--dry-run"), (["--outptu-dir", "runs"], "--output-dir"), (["--dry-rn", "1"], "--dry-run")] {
            let run = try Tools.run("splade-train", ["--config", "train.yaml"] + arguments)
            #expect(run.status == 64 && run.stderr.contains("unknown option '\(arguments[0])'. Did you mean '\(meant)'?"), "\(run.stderr)")
        }
        let missing = try Tools.run("splade-train", ["--confg=train.yaml"])
        #expect(missing.status == 64 && missing.stderr.contains("""
            splade-train: error: missing expected argument '--config <file>'
            hint: did you mean --config? '--confg' is not an option of this tool
            """), "\(missing.stderr)")
        // A configuration key near an option (output_dir, --output-dir) is an override as ever.
        let key = try Tools.run("splade-train", ["--config", "missing.yaml", "--output_dir", "runs"])
        #expect(key.status == 66 && !key.stderr.contains("Did you mean"), "\(key.stderr)")
    }

    /// splade-index: -i that --check or --export --index would not read, and standard input named twice.
    @Test func inputsSpladeIndexWouldNotReadAreUsageErrors() throws {
        for arguments in [["-i", "-", "-i", "-", "-o", "idx"], ["--check", "idx", "-i", "a.vec"],
                          ["--export", "qdrant", "--index", "idx", "-i", "a.vec"]] {
            let run = try Tools.run("splade-index", arguments)
            #expect(run.status == 64, "\(arguments): \(run.stderr)")
        }
    }

    /// A stale $SPLADE_MODEL: the error says where the missing directory came from.
    @Test func aMissingModelFromTheEnvironmentSaysSo() throws {
        let run = try Tools.shell("SPLADE_MODEL=/nonexistent/model splade-tokenize -i /dev/null")
        #expect(run.status == 66 && run.stderr.contains("/nonexistent/model: model directory not found")
                && run.stderr.contains("comes from $SPLADE_MODEL"), "\(run.stderr)")
    }

    /// Swift would read an argument that is not UTF-8 with U+FFFD in place of its bad bytes: another file name.
    @Test func anArgumentThatIsNotUTF8IsAUsageError() throws {
        let run = try Tools.shell("splade-tokenize -i \"$(printf 'bad\\377name.jsonl')\"")
        #expect(run.status == 64 && run.stderr.contains("argument 2 is not valid UTF-8"), "\(run.stderr)")
    }

    @Test func theParsersMessagesStartInLowerCase() throws {
        let missing = try Tools.run("splade-eval", ["--metrics"])
        #expect(missing.status == 64 && missing.stderr.hasPrefix("splade-eval: error: missing value for '--metrics <list>'"),
                "\(missing.stderr)")
    }

    /// A usage error written into a pipe nobody reads (its reading end closed before the tool starts) ends
    /// with the usage status, not SIGPIPE's 141; help written there ends with 0.
    @Test func aClosedPipeEndsQuietly() throws {
        func status(_ arguments: [String], closing stream: KeyPath<Process, Any?>) throws -> Int32 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Tools.binDirectory + "/splade-eval")
            process.arguments = arguments
            let closed = Pipe()
            try closed.fileHandleForReading.close()
            if stream == \Process.standardError { process.standardError = closed } else { process.standardOutput = closed }
            process.standardInput = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            return process.terminationStatus
        }
        #expect(try status(["--no-such-option"], closing: \.standardError) == 64)
        #expect(try status(["--help"], closing: \.standardOutput) == 0)
    }
}
