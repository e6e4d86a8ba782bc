import Foundation

/// The one error type the library throws. It never prints or exits: the tools map `kind` to an exit
/// status (see SpladeCLI.ExitStatus) and print `message` with its location and hint.
public struct SpladeError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The command line asks for something impossible (exit 64).
        case usage
        /// A record, file or model is malformed (exit 65).
        case badInput
        /// An input file, directory or dictionary does not exist or cannot be read (exit 66).
        case missingInput
        /// A required service or device is not available (exit 69).
        case unavailable
        /// A bug: an invariant did not hold (exit 70).
        case internalError
        /// An output file or directory cannot be created (exit 73).
        case cannotCreateOutput
        /// Writing output failed, e.g. a full disk (exit 74).
        case writeFailure
        /// A temporary condition, e.g. another process holds a lock; retrying later may work (exit 75).
        case tempFail
    }

    public var kind: Kind
    public var message: String
    /// `FILE:LINE` (or just `FILE`) the message is about.
    public var location: String?
    /// A known fix, printed on its own `hint:` line.
    public var hint: String?

    public init(_ kind: Kind, _ message: String, location: String? = nil, hint: String? = nil) {
        self.kind = kind
        self.message = message
        self.location = location
        self.hint = hint
    }

    public var description: String {
        location.map { "\($0): \(message)" } ?? message
    }

    /// A failed file-system write of `what`, from Foundation's error: out of space, over quota or an I/O error
    /// is a write failure (74), anything else an output that cannot be created (73); the reason is the system's.
    public static func writing(_ what: String, failedWith error: any Error, at location: String) -> SpladeError {
        let nsError = error as NSError
        let underlying = (nsError.userInfo[NSUnderlyingErrorKey] as? any Error).map { $0 as NSError }
        let code = [underlying, nsError].compactMap { $0 }.first { $0.domain == NSPOSIXErrorDomain }.map { Int32($0.code) }
        let reason = code.map { systemErrorMessage($0) } ?? nsError.localizedDescription
        let full = code.map { [ENOSPC, EDQUOT, EIO, EFBIG].contains($0) } ?? (nsError.code == CocoaError.fileWriteOutOfSpace.rawValue)
        return SpladeError(full ? .writeFailure : .cannotCreateOutput, "cannot write \(what): \(reason)", location: location)
    }

    /// This error placed at `location` when it names no place of its own: whatever failed while a record was
    /// processed (MeCab refusing its text, say) is about that record.
    public func located(at location: String) -> SpladeError {
        var located = self
        if located.location == nil { located.location = location }
        return located
    }
}

/// A position in an input, for diagnostics: `docs.jsonl:1234`.
public struct InputLocation: Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}
