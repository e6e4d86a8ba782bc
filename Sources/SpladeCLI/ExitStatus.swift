import SpladeCore

/// The exit statuses every tool uses (the BSD sysexits values), documented in each --help and man page.
public enum ExitStatus: Int32, CaseIterable, Sendable {
    case ok = 0
    case gateFailed = 1
    case usage = 64
    case badInput = 65
    case missingInput = 66
    case unavailable = 69
    case internalError = 70
    case cannotCreateOutput = 73
    case writeFailure = 74
    case tempFail = 75

    public init(_ kind: SpladeError.Kind) {
        switch kind {
        case .usage: self = .usage
        case .badInput: self = .badInput
        case .missingInput: self = .missingInput
        case .unavailable: self = .unavailable
        case .internalError: self = .internalError
        case .cannotCreateOutput: self = .cannotCreateOutput
        case .writeFailure: self = .writeFailure
        case .tempFail: self = .tempFail
        }
    }

    var meaning: String {
        switch self {
        case .ok: return "success"
        case .gateFailed: return "a requested gate failed (e.g. splade-eval --fail-under)"
        case .usage: return "usage error (bad option or argument)"
        case .badInput: return "bad input data (the message names FILE:LINE)"
        case .missingInput: return "missing or unreadable input (file, model, dictionary)"
        case .unavailable: return "a required service or device is unavailable"
        case .internalError: return "internal error (a bug: please report it), or a non-finite training loss"
        case .cannotCreateOutput: return "cannot create an output file or directory"
        case .writeFailure: return "write failure (e.g. disk full)"
        case .tempFail: return "temporary failure (e.g. the index lock is held); try again later"
        }
    }

    /// The table printed at the end of every tool's --help and man page. A closed output pipe
    /// (`| head`) ends the tool quietly with status 0.
    public static let table: String = {
        var lines = ["EXIT STATUS"]
        for status in allCases {
            lines.append("  \(String(status.rawValue).padding(toLength: 4, withPad: " ", startingAt: 0))\(status.meaning)")
        }
        lines.append("  A closed output pipe (e.g. `| head -1`) ends the tool quietly with status 0.")
        return lines.joined(separator: "\n")
    }()
}
