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
    /// The signal (SIGINT or SIGTERM) received by a tool run with `interruptible`, or 0.
    nonisolated(unsafe) public static var interruption: Int32 = 0

    /// Runs `body`; a `SpladeError` is printed in the toolkit's format and becomes its exit status.
    /// With `interruptible`, the first SIGINT/SIGTERM only sets `interruption` (the tool finishes
    /// its step, saves and exits 128 + signal); a second one ends it at once.
    public static func run(_ toolName: String, interruptible: Bool = false, _ body: () throws -> Void) throws {
        Diagnostics.toolName = toolName
        installSignalHandlers(interruptible: interruptible)
        do {
            try body()
        } catch let error as SpladeError {
            Diagnostics.error(error)
            throw ExitCode(ExitStatus(error.kind).rawValue)
        }
    }

    private static func installSignalHandlers(interruptible: Bool) {
        // A closed pipe shows up as EPIPE from write(2), which OutputSink turns into a quiet exit.
        signal(SIGPIPE, SIG_IGN)
        // A parent may have started us with these signals blocked (the mask survives exec): unblock them.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        sigaddset(&unblock, SIGINT)
        sigaddset(&unblock, SIGTERM)
        sigprocmask(SIG_UNBLOCK, &unblock, nil)
        for sig in [SIGINT, SIGTERM] {
            if interruptible {
                signal(sig) { received in
                    if ToolMain.interruption != 0 {
                        TemporaryFiles.removeAll()
                        _exit(128 + received)
                    }
                    ToolMain.interruption = received
                }
            } else {
                signal(sig) { received in
                    TemporaryFiles.removeAll()
                    _exit(128 + received)
                }
            }
        }
    }
}
