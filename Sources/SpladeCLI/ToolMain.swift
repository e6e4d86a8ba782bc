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
    /// The long options the tool's help names (set before parsing), for `hasUnknownLongOption`.
    nonisolated(unsafe) static var knownLongOptions: Set<String>?

    /// Whether the command line holds a long option this tool does not have. The option groups' and the tool's own
    /// checks come first in the parser, and would report a consequence of the misspelling ("name the index with -o
    /// DIR" for `--chek`): they step aside when this holds, so that the parser names the option, with its "did you mean".
    public static var hasUnknownLongOption: Bool {
        guard let known = knownLongOptions else { return false }
        return CommandLine.arguments.dropFirst().prefix { $0 != "--" }.contains { argument in
            argument.hasPrefix("--") && argument != "--" && !known.contains(String(argument.prefix { $0 != "=" }))
        }
    }

    /// The tool's long option that `argument` (`--dryrun`, `--confg=x`), not one of them, is likely a typo of.
    public static func option(nearestTo argument: String) -> String? {
        let name = String(argument.prefix { $0 != "=" })
        guard name.hasPrefix("--"), let known = knownLongOptions, !known.contains(name) else { return nil }
        return known.map { String($0.dropFirst(2)) }.nearest(to: String(name.dropFirst(2))).map { "--" + $0 }
    }

    /// The signal (SIGINT, SIGTERM or SIGHUP) received by a tool run with `interruptible`, or 0.
    nonisolated(unsafe) public static var interruption: Int32 = 0
    /// What a second SIGINT/SIGTERM/SIGHUP says before ending an interruptible tool (allocated once, never freed).
    nonisolated(unsafe) private static var secondInterruptionMessage: UnsafeBufferPointer<UInt8>?

    /// Runs `body`; a `SpladeError` is printed in the toolkit's format and becomes its exit status.
    /// With `interruptible`, the first SIGINT/SIGTERM/SIGHUP only sets `interruption` (the tool finishes
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
        // Blocked while the handlers are set, so that none meets a half-made state (one that comes meanwhile stays
        // pending); unblocked after, also when a parent started us with them blocked (the mask survives exec).
        var stops = sigset_t()
        sigemptyset(&stops)
        for sig in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&stops, sig) }
        sigprocmask(SIG_BLOCK, &stops, nil)
        defer { sigprocmask(SIG_UNBLOCK, &stops, nil) }
        InterruptionCleanup.prepare()
        if interruptible {
            // Formatted now: a signal handler may only write(2) what exists.
            // On a terminal, a progress line drawn there is cleared first.
            let message = Array(((Diagnostics.stderrIsTerminal ? "\r\u{1B}[K" : "")
                                 + "\(Diagnostics.toolName): interrupted again: stopping now, without saving\n").utf8)
            let buffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: message.count)
            _ = buffer.initialize(from: message)
            secondInterruptionMessage = UnsafeBufferPointer(buffer)
        }
        // A signal ignored from the start stays ignored: nohup asks that for SIGHUP (a dropped ssh session), and a shell
        // for SIGINT of what a script starts in the background, so that Ctrl-C stops the script's foreground job only.
        // (Read with sigaction(2), which changes nothing: setting SIG_IGN to look would discard a pending signal.)
        let handled = [SIGINT, SIGTERM, SIGHUP].filter { sig in
            var current = sigaction()
            return sigaction(sig, nil, &current) != 0
                || unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) != unsafeBitCast(SIG_IGN, to: Int.self)
        }
        for sig in handled {
            if interruptible {
                signal(sig) { received in
                    if ToolMain.interruption != 0 {
                        // A hang-up comes twice (from the exiting shell, then from the kernel to the foreground group):
                        // only a second SIGINT or SIGTERM, which a person sends, stops without saving.
                        guard received != SIGHUP else { return }
                        InterruptionCleanup.removeAll()
                        if let message = ToolMain.secondInterruptionMessage { _ = write(2, message.baseAddress, message.count) }
                        _exit(128 + received)
                    }
                    ToolMain.interruption = received
                }
            } else {
                signal(sig) { received in
                    guard InterruptionCleanup.stopsNow else { return }
                    InterruptionCleanup.removeAll()
                    _exit(128 + received)
                }
            }
        }
    }
}

/// The tools' entry point: ArgumentParser's, with its usage errors in the toolkit's format
/// (`splade-eval: error: unknown option '--bogus'`, then its usage lines) like every other error, and
/// SIGPIPE ignored from the start, so that help or a usage error written into a closed pipe ends quietly.
public protocol SpladeTool: ParsableCommand {}

extension SpladeTool {
    public static func main() {
        keepStandardDescriptorsOpen()
        signal(SIGPIPE, SIG_IGN)
        refuseArgumentsThatAreNotUTF8()
        ToolMain.knownLongOptions = Set(helpMessage(includeHidden: true, columns: 10_000).matches(of: /--[A-Za-z0-9][A-Za-z0-9-]*/)
            .map { String($0.output) })
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let text = fullMessage(for: error)
            let prefix = "Error: "
            guard exitCode(for: error) == .validationFailure, text.hasPrefix(prefix) else { exit(withError: error) }
            var lines = lowercasingFirstWord(text.dropFirst(prefix.count)).split(separator: "\n", omittingEmptySubsequences: false)
            if let hint = negativeValueHint(for: lines[0]) ?? misspeltOptionHint(for: lines[0]) { lines.insert(Substring(hint), at: 1) }
            Diagnostics.write("\(configuration.commandName ?? "splade"): error: \(lines.joined(separator: "\n"))\n")
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
    }

    /// A value starting with '-' reads as an option to the parser, which then says the option has none
    /// ("missing value for '--max-length <n>'" for `--max-length -5`): say how to give such a value.
    private static func negativeValueHint(for message: Substring) -> String? {
        guard let option = message.firstMatch(of: /^missing value for '(--?[A-Za-z0-9][A-Za-z0-9-]*)/)?.output.1 else { return nil }
        let arguments = CommandLine.arguments
        guard let index = arguments.lastIndex(of: String(option)), index + 1 < arguments.count,
              arguments[index + 1].wholeMatch(of: /-[0-9.].*/) != nil else { return nil }
        return "hint: a value that starts with '-' goes after '=': \(option)=\(arguments[index + 1])"
    }

    /// A tool that takes other arguments as they come (splade-train's overrides) reads a misspelt required option as
    /// one of them, and the parser says the option is missing: name the argument it likely was.
    private static func misspeltOptionHint(for message: Substring) -> String? {
        guard let option = message.firstMatch(of: /^missing expected argument '(--[A-Za-z0-9-]+)/)?.output.1 else { return nil }
        guard let typed = CommandLine.arguments.dropFirst().prefix(while: { $0 != "--" })
            .first(where: { ToolMain.option(nearestTo: $0) == String(option) }) else { return nil }
        return "hint: did you mean \(option)? '\(typed.prefix { $0 != "=" })' is not an option of this tool"
    }

    /// Started with standard input, output or error closed (`2>&-`), the next file opened would take that
    /// descriptor, and messages meant for standard error would be written into it (an output file, the index
    /// lock). /dev/null takes each closed one instead.
    /// A closed standard input or output is remembered: reading the input is then missing input (66), output meant
    /// for it a write failure (74), not lost quietly.
    private static func keepStandardDescriptorsOpen() {
        for descriptor: Int32 in 0...2 where fcntl(descriptor, F_GETFD) == -1 && errno == EBADF {
            // open(2) returns the lowest free descriptor: this one, the lower ones being open.
            let opened = open("/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY)
            if opened != descriptor && opened >= 0 { close(opened) }
            if descriptor == 0 { InputFile.standardInputWasClosed = true }
            if descriptor == 1 { OutputSink.standardOutputWasClosed = true }
        }
    }

    /// Swift decodes the arguments as UTF-8, replacing what is not: a file name in another encoding would name
    /// another file (a U+FFFD in its place). Such an argument is a usage error instead.
    private static func refuseArgumentsThatAreNotUTF8() {
        for index in stride(from: 1, to: Int(CommandLine.argc), by: 1) {
            guard let argument = CommandLine.unsafeArgv[index], String(validatingCString: argument) == nil else { continue }
            let shown = TRECField.quoted(String(decoding: UnsafeRawBufferPointer(start: argument, count: strlen(argument)), as: UTF8.self))
            Diagnostics.write("\(configuration.commandName ?? "splade"): error: argument \(index) is not valid UTF-8 (\(shown)): "
                              + "file names and values must be UTF-8\n")
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
    }

    /// "Unknown option …" → "unknown option …" (the toolkit's messages start in lower case); "CUDA …" stays.
    private static func lowercasingFirstWord(_ text: Substring) -> String {
        guard let first = text.first, first.isUppercase, text.dropFirst().first?.isLowercase == true else { return String(text) }
        return first.lowercased() + text.dropFirst()
    }
}
