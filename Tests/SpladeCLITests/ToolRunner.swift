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
    /// `stdoutPath` redirects standard output to a file (e.g. /dev/full) instead of capturing it.
    static func run(_ tool: String, _ arguments: [String], stdin: String? = nil, stdoutPath: String? = nil,
                    environment: [String: String] = [:]) throws -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binDirectory + "/" + tool)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let outPipe = Pipe(), errPipe = Pipe()
        if let stdoutPath {
            process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
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
        DispatchQueue.global().async(group: group) { out = outPipe.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { err = errPipe.fileHandleForReading.readDataToEndOfFile() }
        if let stdin {
            try? inPipe.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
            try? inPipe.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        if stdoutPath != nil { try? outPipe.fileHandleForWriting.close() }
        group.wait()
        return ToolRun(status: process.terminationStatus, stdout: out, stderr: String(decoding: err, as: UTF8.self))
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
