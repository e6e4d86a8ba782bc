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
