import Foundation

/// Runs a built tool as a user would, feeding stdin and capturing stdout, stderr and the status.
struct ToolRun {
    var status: Int32
    var stdout: Data
    var stderr: String
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stdoutLines: [String] { stdoutText.split(separator: "\n").map(String.init) }
}

enum Tools {
    /// The directory of the built executables: $SPLADE_BIN_DIR, else the build directory these
    /// tests were built into.
    static let binDirectory: String = {
        if let path = ProcessInfo.processInfo.environment["SPLADE_BIN_DIR"] { return path }
        var url = Bundle.main.bundleURL
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("splade-tokenize").path),
              url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url.path
    }()

    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    static let fixtures: String = {
        ProcessInfo.processInfo.environment["SPLADE_FIXTURES"]
            ?? URL(fileURLWithPath: projectRoot).deletingLastPathComponent().appendingPathComponent("shared/fixtures").path
    }()

    static var fixturesAvailable: Bool { FileManager.default.fileExists(atPath: fixtures + "/README.md") }

    static func data(_ relative: String) -> String {
        URL(fileURLWithPath: fixtures).deletingLastPathComponent().appendingPathComponent("data/" + relative).path
    }

    /// Runs `tool` with `arguments`; `stdin` is written to its standard input (or /dev/null).
    /// `stdoutPath` redirects standard output to a file (e.g. /dev/full) instead of capturing it;
    /// `stdoutOnTerminal` gives it a pseudo-terminal (what it writes there is captured as stdout).
    static func run(_ tool: String, _ arguments: [String], stdin: String? = nil, stdoutPath: String? = nil,
                    stdoutOnTerminal: Bool = false, environment: [String: String] = [:]) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binDirectory + "/" + tool)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let outPipe = Pipe(), errPipe = Pipe()
        var terminal: (master: FileHandle, replica: FileHandle, path: String)?
        if let stdoutPath {
            process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        } else if stdoutOnTerminal {
            terminal = try pseudoTerminal()
            process.standardOutput = terminal!.replica
        } else {
            process.standardOutput = outPipe
        }
        process.standardError = errPipe
        let inPipe = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : inPipe
        try process.run()
        // Feed stdin and drain both outputs concurrently so no pipe fills up.
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        if let terminal {
            // Read until the tool's side is closed (EIO on Linux): our copy of it is closed once the tool has it.
            try terminal.replica.close()
            DispatchQueue.global().async(group: group) {
                var chunk = [UInt8](repeating: 0, count: 1 << 16)
                while true {
                    let n = chunk.withUnsafeMutableBytes { read(terminal.master.fileDescriptor, $0.baseAddress, $0.count) }
                    if n > 0 { out += chunk[..<n] } else if n < 0 && errno == EINTR { continue } else { break }
                }
            }
        } else {
            DispatchQueue.global().async(group: group) { out = outPipe.fileHandleForReading.readDataToEndOfFile() }
        }
        DispatchQueue.global().async(group: group) { err = errPipe.fileHandleForReading.readDataToEndOfFile() }
        if let stdin {
            try? inPipe.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        if stdoutPath != nil || terminal != nil { try? outPipe.fileHandleForWriting.close() }
        group.wait()
        return ToolRun(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
    }

    /// A new pseudo-terminal's two ends (the replica is what a tool sees as its terminal). Linux's /dev/ptmx with
    /// its ioctls, as posix_openpt, unlockpt and ptsname do (which Swift's Glibc module does not declare).
    static func pseudoTerminal() throws -> (master: FileHandle, replica: FileHandle, path: String) {
        let getNumber: UInt = 0x8004_5430, setLock: UInt = 0x4004_5431  // TIOCGPTN, TIOCSPTLCK
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var number: CInt = 0, unlocked: CInt = 0
        guard master >= 0, ioctl(master, setLock, &unlocked) == 0, ioctl(master, getNumber, &number) == 0 else {
            throw CocoaError(.fileReadUnknown)
        }
        let replica = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        guard replica >= 0 else { throw CocoaError(.fileReadUnknown) }
        return (FileHandle(fileDescriptor: master, closeOnDealloc: true), FileHandle(fileDescriptor: replica, closeOnDealloc: true),
                "/dev/pts/\(number)")
    }

    /// Runs a shell pipeline (for `| head -1` style tests) with the tools on PATH.
    static func shell(_ script: String) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "set -o pipefail; " + script]
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = binDirectory + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        process.environment = env
        let outPipe = Pipe(), errPipe = Pipe()
        process.standardOutput = outPipe
        process.standardError = errPipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var out = Data(), err = Data()
        DispatchQueue.global().async(group: group) { out = outPipe.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { err = errPipe.fileHandleForReading.readDataToEndOfFile() }
        process.waitUntilExit()
        group.wait()
        return ToolRun(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
    }
}
