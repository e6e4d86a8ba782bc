#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import SpladeCore

/// Buffered output to standard output or to a file. A file is written under a temporary name in
/// the same directory and renamed into place by `commit()`, so a crash or kill never leaves a
/// half-written file where a reader looks. A symbolic link is followed (the link stays, its target is
/// replaced or made). What exists and is not a regular file — a device such as /dev/null, a named pipe —
/// is written directly, and /dev/stdout, /dev/fd/N (a shell's >(…)) through the descriptor they name:
/// renaming onto them would replace the device node, the pipe or the redirected file with a plain file.
public final class OutputSink {
    private let descriptor: Int32
    private let displayName: String
    /// For a file: the temporary path and the final one. Nil: a stream (standard output, a device, a pipe).
    private let paths: (temporary: String, final: String)?
    /// For a file: its directory (with its slash, or empty) and name, whose abandoned temporaries `commit` sweeps.
    private var sweep: (directory: String, base: String)?
    private var buffer: [UInt8] = []
    private let flushThreshold = 1 << 18

    /// Whether the tool started with standard output closed (`>&-`; /dev/null stands in for it).
    nonisolated(unsafe) public static var standardOutputWasClosed = false
    public static let closedStandardOutput = SpladeError(.writeFailure, "standard output is closed, so nothing can be written there",
                                                          location: "<stdout>", hint: "redirect it to a file, or to /dev/null to discard it")

    /// `path` nil or `-`: standard output. `inputs`: the files the tool reads; an output that is one of them
    /// would replace it (`-o runs.trec runs.trec` would leave only the report), so that is a usage error.
    /// `inputDirectories` (a model, an index): an output inside one of them is refused likewise.
    public init(path: String?, inputs: [String] = [], inputDirectories: [String] = []) throws(SpladeError) {
        buffer.reserveCapacity(flushThreshold * 2)
        try Self.refuseReplacingAnInput(path ?? "-", inputs: inputs, inputDirectories: inputDirectories)
        guard let path, path != "-" else {
            if Self.standardOutputWasClosed { throw Self.closedStandardOutput }
            descriptor = 1
            displayName = "<stdout>"
            paths = nil
            return
        }
        displayName = path
        if let inherited = Self.inheritedDescriptor(path) {
            if inherited == 1 && Self.standardOutputWasClosed { throw Self.closedStandardOutput }
            let fd = fcntl(inherited, F_DUPFD_CLOEXEC, 3)
            guard fd >= 0 else {
                throw SpladeError(.cannotCreateOutput, "cannot write: \(systemErrorMessage())", location: path)
            }
            descriptor = fd
            paths = nil
            return
        }
        var target = stat()
        if stat(path, &target) == 0 && (target.st_mode & S_IFMT) != S_IFREG {
            let fd = open(path, O_WRONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw SpladeError(.cannotCreateOutput, "cannot open: \(systemErrorMessage())", location: path)
            }
            descriptor = fd
            paths = nil
            return
        }
        let final = Self.linkTarget(path) ?? path
        // The directory part keeps its slash ("/x" → "/", "x" → ""), so the temporary is always beside the output.
        let slash = final.lastIndex(of: "/")
        let directory = slash.map { String(final[...$0]) } ?? ""
        let base = slash.map { String(final[final.index(after: $0)...]) } ?? final
        // A new file of a name no one can plant a link at (mkstemp: O_EXCL, a random suffix), locked while it is
        // written (so no sweep takes it), with the mode the replaced file had, or a new file's (0666 less the umask).
        var template = Array((directory + ".\(base)" + Self.temporaryMarker + "\(getpid()).XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw SpladeError(.cannotCreateOutput, "cannot create: \(systemErrorMessage())", location: path)
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        _ = flock(fd, LOCK_EX)
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        fchmod(fd, stat(final, &target) == 0 ? target.st_mode & 0o7777 : 0o666 & ~Self.umask)
        descriptor = fd
        paths = (temporary, final)
        sweep = (directory, base)
        InterruptionCleanup.register(file: temporary)
    }

    /// Temporaries are named `.NAME.tmp.PID.XXXXXX`.
    private static let temporaryMarker = ".tmp."

    /// The process's file-creation mask, from /proc (umask(2) reads it only by setting it, for every thread);
    /// where /proc is missing, by setting and restoring it.
    private static let umask: mode_t = {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Umask:") }),
           let mask = mode_t(line.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) {
            return mask
        }
        let mask = Glibc.umask(0o022)
        Glibc.umask(mask)
        return mask
    }()

    /// Removes the temporaries of this output that killed writers left: names `.NAME.tmp.PID.XXXXXX` exactly,
    /// on which no one holds the lock a writer holds while it writes (the kernel drops a killed process's locks).
    private func removeAbandonedTemporaries(directory: String, base: String) {
        guard let stream = opendir(directory.isEmpty ? "." : directory) else { return }
        defer { closedir(stream) }
        let namePrefix = ".\(base)" + Self.temporaryMarker
        func isTemporarySuffix(_ suffix: Substring) -> Bool {
            let parts = suffix.split(separator: ".", omittingEmptySubsequences: false)
            return parts.count == 2 && (1...10).contains(parts[0].count) && parts[0].allSatisfy(\.isASCII) && parts[0].allSatisfy(\.isNumber)
                && parts[1].utf8.count == 6 && parts[1].utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
        }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            guard name.hasPrefix(namePrefix), isTemporarySuffix(name.dropFirst(namePrefix.count)) else { continue }
            let candidate = directory + name
            let fd = open(candidate, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { continue }
            if flock(fd, LOCK_EX | LOCK_NB) == 0 && candidate != paths?.temporary { unlink(candidate) }
            close(fd)
        }
    }

    /// A usage error when writing `output` would replace one of `inputs`, or would write inside one of `inputDirectories`
    /// or be one (an output directory: a training run's, an index): checked where the output itself lies (its
    /// directories made later too) and at its target (a Hugging Face cache links a snapshot's files to its blobs).
    public static func refuseReplacingAnInput(_ output: String, inputs: [String], inputDirectories: [String] = []) throws(SpladeError) {
        if let input = inputs.first(where: { sameFile(output: output, input: $0) }) {
            throw SpladeError(.usage, "the output is also an input (\(InputFile.displayName(input))): writing it would replace what is read",
                              location: output == "-" ? "<stdout>" : output, hint: "write to another file, then rename it")
        }
        guard output != "-", inheritedDescriptor(output) == nil else { return }
        let url = URL(fileURLWithPath: output)
        let places = [resolvedAncestors(url.deletingLastPathComponent().path).map { $0 + "/" + url.lastPathComponent }, resolved(output)]
            .compactMap { $0 }
        for directory in inputDirectories {
            guard let prefix = resolved(directory) else { continue }
            let inside = prefix.hasSuffix("/") ? prefix : prefix + "/"
            if places.contains(prefix) {
                throw SpladeError(.usage, "the output is \(directory), which this tool reads: writing it could replace what is read",
                                  location: output, hint: "write to another directory")
            }
            if places.contains(where: { $0.hasPrefix(inside) }) {
                throw SpladeError(.usage, "the output is inside \(directory), which this tool reads: it could replace what is read",
                                  location: output, hint: "write outside that directory")
            }
        }
    }

    /// The path with links and `..` resolved, or nil (when it does not exist).
    public static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// The path resolved as far as it exists, the directories not made yet appended as named (`a/new/dirs`):
    /// where a file written there, once its directories are made, will lie.
    private static func resolvedAncestors(_ path: String) -> String? {
        if let whole = resolved(path) { return whole }
        let url = URL(fileURLWithPath: path)
        let parent = url.deletingLastPathComponent().path
        guard parent != path, url.lastPathComponent != "..", url.lastPathComponent != "." else { return nil }
        return resolvedAncestors(parent).map { ($0 == "/" ? "" : $0) + "/" + url.lastPathComponent }
    }

    /// Whether an output and an input name one regular file (links followed). `-` is the file behind standard
    /// output or input: `tool -o x < x` would replace what it reads, `tool -i x >> x` would read what it appends.
    private static func sameFile(output: String, input: String) -> Bool {
        var x = stat(), y = stat()
        guard (output == "-" ? fstat(1, &x) : stat(output, &x)) == 0, (input == "-" ? fstat(0, &y) : stat(input, &y)) == 0,
              (x.st_mode & S_IFMT) == S_IFREG else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }

    /// Binary output (a vector stream, CIFF) bound for a terminal is refused before any work, as zstd refuses:
    /// it would only garble the screen. `path` nil or `-` is standard output.
    public static func refuseBinaryOnATerminal(_ path: String?, what: String, hint: String) throws(SpladeError) {
        guard isTerminal(path) else { return }
        throw SpladeError(.usage, "\(what) is binary and will not be written to a terminal",
                          location: path == nil || path == "-" ? "<stdout>" : path!, hint: hint)
    }

    /// Whether the output `path` names is a terminal: standard output or a descriptor named as a path, or a
    /// character device that is one (/dev/tty, /dev/pts/N; opened without becoming the controlling terminal).
    private static func isTerminal(_ path: String?) -> Bool {
        guard let path, path != "-" else { return isatty(1) != 0 }
        if let inherited = inheritedDescriptor(path) { return isatty(inherited) != 0 }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFCHR else { return false }
        let fd = open(path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return isatty(fd) != 0
    }

    /// A descriptor the process already has, named as a path (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N).
    /// It is written through a duplicate, which keeps what the shell set up (`>>` appends, a terminal, a pipe):
    /// opening the path anew would start a new description at offset 0, and renaming onto it would replace the file.
    private static func inheritedDescriptor(_ path: String) -> Int32? {
        switch path {
        case "/dev/stdout": return 1
        case "/dev/stderr": return 2
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) { return Int32(path.dropFirst(prefix.count)) }
            return nil
        }
    }

    /// The file a symbolic link at `path` points to (its target may not exist yet), or nil when `path` is no link.
    private static func linkTarget(_ path: String) -> String? {
        var link = stat()
        guard lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK else { return nil }
        if let resolved = resolved(path) { return resolved }
        // A link to a file still to be made: its target, relative to the link's directory.
        var bytes = [UInt8](repeating: 0, count: Int(PATH_MAX))
        let count = readlink(path, &bytes, bytes.count)
        guard count > 0 else { return nil }
        let target = String(decoding: bytes[..<count], as: UTF8.self)
        guard !target.hasPrefix("/"), let slash = path.lastIndex(of: "/") else { return target }
        return String(path[...slash]) + target
    }

    deinit {
        if let paths {
            close(descriptor)
            unlink(paths.temporary)
            InterruptionCleanup.unregister(paths.temporary)
        } else if descriptor != 1 {
            close(descriptor)
        }
    }

    public func write(_ bytes: [UInt8]) throws(SpladeError) {
        buffer.append(contentsOf: bytes)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func write(_ text: String) throws(SpladeError) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= flushThreshold { try flush() }
    }

    public func flush() throws(SpladeError) {
        var offset = 0
        defer { buffer.removeFirst(offset) }
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE && paths == nil {
                    // Not an error: the reader of our output (a pipe) is done. Status 0, no message.
                    exit(ExitStatus.ok.rawValue)
                }
                throw SpladeError(.writeFailure, "write failed: \(systemErrorMessage())", location: displayName)
            }
            offset += n
        }
    }

    /// Flushes, and for a file makes it durable and moves it into place.
    public func commit() throws(SpladeError) {
        try flush()
        guard let paths else { return }
        if fsync(descriptor) != 0 && errno != EINVAL {
            throw SpladeError(.writeFailure, "fsync failed: \(systemErrorMessage())", location: displayName)
        }
        if rename(paths.temporary, paths.final) != 0 {
            throw SpladeError(.cannotCreateOutput, "cannot move the output into place: \(systemErrorMessage())",
                              location: displayName)
        }
        InterruptionCleanup.unregister(paths.temporary)
        if let sweep { removeAbandonedTemporaries(directory: sweep.directory, base: sweep.base) }
    }
}
