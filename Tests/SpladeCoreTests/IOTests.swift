import Foundation
import Testing
@testable import SpladeCore

@Suite struct JSONTests {
    @Test func parsesAndKeepsNumberLiteralsAndKeyOrder() throws {
        let value = try JSON.parse(#" {"id": 12345678901234567890, "b": [true, null, -1.5e3], "a": "x\"\u00e9\ud83d\ude00"} "#)
        var writer = JSONWriter()
        writer.appendValue(value)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #"{"id":12345678901234567890,"b":[true,null,-1.5e3],"a":"x\"é😀"}"#)
        #expect(value["a"]?.stringValue == "x\"é😀")
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "01", "\"\\x\"", "\"a\nb\"", "{\"a\":1} x", "\"\\ud800\"", "nul", "1.", "-"])
    func rejectsInvalidJSON(_ text: String) {
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(text) }
    }

    @Test func rejectsHostileNesting() {
        #expect(throws: JSONSyntaxError.self) { try JSON.parse(String(repeating: "[", count: 100_000)) }
    }

    @Test func writerEscapesControlCharacters() {
        var writer = JSONWriter()
        writer.appendString("a\u{1}\n\"\\")
        #expect(String(decoding: writer.bytes, as: UTF8.self) == #""a\u0001\n\"\\""#)
        writer = JSONWriter()
        writer.appendInt(-1234)
        #expect(String(decoding: writer.bytes, as: UTF8.self) == "-1234")
    }
}

@Suite struct LineReaderTests {
    func lines(of content: [UInt8], bufferSize: Int = 4) throws -> [String] {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("splade-lines-\(UUID())").path
        try Data(content).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = LineReader(source: try InputFile.open(path), name: path, bufferSize: bufferSize)
        var result: [String] = []
        while let line = try reader.next() { result.append(String(decoding: line.bytes, as: UTF8.self)) }
        return result
    }

    @Test func splitsLinesAcrossBufferRefillsAndGrowth() throws {
        #expect(try lines(of: Array("a\r\nbb\n\nlong line here\nlast".utf8)) == ["a", "bb", "", "long line here", "last"])
        #expect(try lines(of: Array("x\n".utf8)) == ["x"])
        #expect(try lines(of: []) == [])
    }

    @Test func dropsAByteOrderMarkAtTheStartOnly() throws {
        let mark: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(try lines(of: mark + Array("q1 Q0\n".utf8) + mark + Array("q2".utf8)) == ["q1 Q0", "\u{FEFF}q2"])
        #expect(try lines(of: mark) == [""])
    }

    @Test func decompressesZstdTransparently() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("splade-zstd-\(UUID())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = (1...5000).map { "line \($0)" }.joined(separator: "\n") + "\n"
        try text.write(toFile: dir + "/a.txt", atomically: true, encoding: .utf8)
        let zstd = Process()
        zstd.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        zstd.arguments = ["zstd", "-q", "-f", dir + "/a.txt", "-o", dir + "/a.txt.zst"]
        try zstd.run()
        zstd.waitUntilExit()
        try #require(zstd.terminationStatus == 0)
        let reader = try LineReader(path: dir + "/a.txt.zst")
        var count = 0
        var last = ""
        while let line = try reader.next() {
            count += 1
            last = String(decoding: line.bytes, as: UTF8.self)
        }
        #expect(count == 5000 && last == "line 5000")

        // A truncated stream is an error, not a silently short input.
        let data = try Data(contentsOf: URL(fileURLWithPath: dir + "/a.txt.zst"))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.zst"))
        let cut = try LineReader(path: dir + "/cut.zst")
        let error = #expect(throws: SpladeError.self) { while try cut.next() != nil {} }
        #expect(error?.message == "truncated zstd stream: it ends inside a frame, after \(data.count / 2) bytes")
    }

    /// What the tools compress carries zstd's checksum: a flipped bit inside a stored block (bytes zstd cannot
    /// compress, kept as they are) still decodes, to other bytes, and only the checksum tells.
    @Test func aFlippedBitInCompressedOutputIsAnError() throws {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<4000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let compressor = ZstdCompressor()
        var compressed = compressor.compress(bytes) + compressor.finish()
        #expect(compressed.count > bytes.count)  // stored, not compressed: the flip below lands in the data
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("splade-zstd-\(UUID()).zst").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        let intact = try LineReader(path: path)
        while try intact.next() != nil {}
        compressed[compressed.count / 2] ^= 0x10
        try Data(compressed).write(to: URL(fileURLWithPath: path))
        let flipped = try LineReader(path: path)
        let error = #expect(throws: SpladeError.self) { while try flipped.next() != nil {} }
        #expect(error?.message.contains("checksum") == true, "\(String(describing: error))")
    }
}

/// File-system write errors become the toolkit's statuses with the system's reason.
@Suite struct WriteErrorTests {
    /// /dev/full fails every write with ENOSPC, as a full disk does: a write failure (74), not "cannot create" (73).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/dev/full"), "needs /dev/full"))
    func aFullDiskIsAWriteFailure() throws {
        let error = #expect(throws: (any Error).self) { try Data([1]).write(to: URL(fileURLWithPath: "/dev/full")) }
        let converted = SpladeError.writing("the checkpoint", failedWith: try #require(error), at: "out")
        #expect(converted.kind == .writeFailure)
        #expect(converted.description == "out: cannot write the checkpoint: No space left on device")
    }

    @Test func aMissingDirectoryCannotBeCreated() throws {
        let error = #expect(throws: (any Error).self) {
            try Data([1]).write(to: URL(fileURLWithPath: "/nonexistent-\(UUID().uuidString)/file"))
        }
        let converted = SpladeError.writing("the training log", failedWith: try #require(error), at: "log")
        #expect(converted.kind == .cannotCreateOutput)
        #expect(converted.message == "cannot write the training log: No such file or directory")
    }
}
