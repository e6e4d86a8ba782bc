#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One input line without its terminator, with its 1-based number for diagnostics.
public struct Line: Sendable {
    public var number: Int
    public var bytes: [UInt8]

    /// Nothing but spaces and tabs: in JSON Lines, no record (every tool skips it).
    public var isBlank: Bool { bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 } }
}

/// Splits a byte source into lines (`\n`, with a trailing `\r` removed), holding one read buffer.
public final class LineReader {
    private let source: ByteSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var ended = false
    public private(set) var lineNumber = 0
    /// Bytes of (decompressed) input consumed so far, for progress.
    public private(set) var bytesConsumed = 0
    /// The input's display name (`<stdin>` or the path), for diagnostics.
    public let name: String

    public init(source: ByteSource, name: String, bufferSize: Int = 1 << 20) {
        self.source = source
        self.name = name
        self.buffer = [UInt8](repeating: 0, count: bufferSize)
    }

    public convenience init(path: String) throws(SpladeError) {
        self.init(source: try InputFile.open(path), name: InputFile.displayName(path))
    }

    /// The next line, or nil at the end of the input. A final line without `\n` is still a line.
    public func next() throws(SpladeError) -> Line? {
        var scanFrom = start
        while true {
            let newline: Int? = buffer.withUnsafeBytes { raw in
                guard scanFrom < end,
                      let hit = memchr(raw.baseAddress! + scanFrom, 0x0A, end - scanFrom) else { return nil }
                return raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
            }
            if let newline {
                return emit(upTo: newline, consumed: newline + 1)
            }
            if ended {
                guard start < end else { return nil }
                return emit(upTo: end, consumed: end)
            }
            scanFrom = end
            // Make room: slide the partial line to the front, or grow for a very long line.
            if start > 0 {
                buffer.withUnsafeMutableBytes { raw in
                    raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
                }
                scanFrom -= start
                end -= start
                start = 0
            }
            if end == buffer.count {
                buffer.append(contentsOf: repeatElement(0, count: buffer.count))
            }
            let n = try buffer.withMutableBytes { raw throws(SpladeError) in
                try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
            }
            if n == 0 { ended = true }
            end += n
        }
    }

    private func emit(upTo lineEnd: Int, consumed: Int) -> Line {
        var stop = lineEnd
        if stop > start && buffer[stop - 1] == 0x0D { stop -= 1 }
        // A UTF-8 byte order mark (editors on Windows write one) is no part of the first field: it would make the
        // first qid of a run another query, and the first JSON line invalid.
        var first = start
        if lineNumber == 0 && buffer[start..<stop].starts(with: [0xEF, 0xBB, 0xBF]) { first += 3 }
        lineNumber += 1
        let line = Line(number: lineNumber, bytes: Array(buffer[first..<stop]))
        bytesConsumed += consumed - start
        start = consumed
        return line
    }
}
