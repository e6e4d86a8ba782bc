#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SpladeCore
import Synchronization

/// Messages on standard error in the toolkit's format:
/// `splade-tokenize: error: docs.jsonl:12: missing field "text"`, then `hint: …` when a fix is known.
public enum Diagnostics {
    /// The running tool's name, set once at start-up by `ToolMain.run`.
    nonisolated(unsafe) public static var toolName = "splade"

    /// Whether a progress line is drawn on the terminal without its newline: a message clears it first
    /// (the display redraws itself at its next update). Atomic: a build's reordering reports from worker threads.
    static let progressLineShown = Atomic<Bool>(false)

    public static func error(_ error: SpladeError) {
        clearProgressLine()
        write("\(toolName): error: \(error.description)\n")
        if let hint = error.hint { write("hint: \(hint)\n") }
    }

    public static func warning(_ message: String) {
        clearProgressLine()
        write("\(toolName): warning: \(message)\n")
    }

    public static func warning(_ message: String, hint: String) {
        warning(message)
        write("hint: \(hint)\n")
    }

    public static func note(_ message: String) {
        clearProgressLine()
        write("\(toolName): \(message)\n")
    }

    private static func clearProgressLine() {
        guard progressLineShown.exchange(false, ordering: .relaxed) else { return }
        write("\r\u{1B}[K")
    }

    static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let n = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }

    /// Whether standard error is a terminal (progress bars are drawn only then, unless asked for).
    public static var stderrIsTerminal: Bool { isatty(2) != 0 }
}
