#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import SpladeCore

/// What every tool does around its work: process set-up, and turning errors into the documented
/// exit statuses and messages.
public enum ToolMain {
    /// Runs `body`; a `SpladeError` is printed in the toolkit's format and becomes its exit status.
    public static func run(_ toolName: String, _ body: () throws -> Void) throws {
        Diagnostics.toolName = toolName
        installSignalHandlers()
        do {
            try body()
        } catch let error as SpladeError {
            Diagnostics.error(error)
            throw ExitCode(ExitStatus(error.kind).rawValue)
        }
    }

    private static func installSignalHandlers() {
        // A closed pipe shows up as EPIPE from write(2), which OutputSink turns into a quiet exit.
        signal(SIGPIPE, SIG_IGN)
        for sig in [SIGINT, SIGTERM] {
            signal(sig) { received in
                TemporaryFiles.removeAll()
                _exit(128 + received)
            }
        }
    }
}
