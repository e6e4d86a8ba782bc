#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A readable stream of bytes: a file, standard input, or a decompressor over either.
public protocol ByteSource: AnyObject {
    /// Fills up to `buffer.count` bytes and returns how many; 0 means the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpladeError) -> Int
}

/// Reads a file descriptor (a file, a pipe or a terminal), retrying interrupted reads.
public final class FileDescriptorSource: ByteSource {
    let descriptor: Int32
    let name: String
    let ownsDescriptor: Bool

    init(descriptor: Int32, name: String, ownsDescriptor: Bool) {
        self.descriptor = descriptor
        self.name = name
        self.ownsDescriptor = ownsDescriptor
    }

    deinit { if ownsDescriptor { close(descriptor) } }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpladeError) -> Int {
        while true {
            let n = Glibc.read(descriptor, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw SpladeError(.missingInput, "cannot read: \(systemErrorMessage())", location: name)
        }
    }
}

/// Returns already-read bytes first, then the rest of the underlying source (used to sniff formats).
final class PrefixedSource: ByteSource {
    private var prefix: [UInt8]
    private var prefixOffset = 0
    private let rest: ByteSource

    init(prefix: [UInt8], rest: ByteSource) {
        self.prefix = prefix
        self.rest = rest
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpladeError) -> Int {
        if prefixOffset < prefix.count {
            let n = min(buffer.count, prefix.count - prefixOffset)
            prefix.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + prefixOffset, byteCount: n)
            }
            prefixOffset += n
            if prefixOffset == prefix.count { prefix = [] ; prefixOffset = Int.max }
            return n
        }
        return try rest.read(into: buffer)
    }
}

extension ByteSource {
    /// The first `count` bytes (fewer at the end of the input; a pipe may deliver them in several
    /// reads), and a source that yields them again before the rest: for sniffing formats.
    func peek(_ count: Int) throws(SpladeError) -> (head: [UInt8], source: ByteSource) {
        var head = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = try head.withMutableBytes { buffer throws(SpladeError) in
                try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            }
            if n == 0 { break }
            filled += n
        }
        head.removeLast(count - filled)
        return (head, PrefixedSource(prefix: head, rest: self))
    }
}

public func systemErrorMessage(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}

/// Opening inputs by path, with `-` for standard input and transparent zstd decompression.
public enum InputFile {
    /// The name diagnostics use for an input path.
    public static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    /// Whether the tool started with standard input closed (`<&-`; /dev/null stands in for it): reading `-` is then
    /// missing input (66), not an empty input that gives an empty output.
    nonisolated(unsafe) public static var standardInputWasClosed = false

    /// Opens `path` (`-` is standard input). A zstd stream (magic 28 B5 2F FD) is decompressed.
    public static func open(_ path: String) throws(SpladeError) -> ByteSource {
        let name = displayName(path)
        let raw: FileDescriptorSource
        if path == "-" {
            guard !standardInputWasClosed else {
                throw SpladeError(.missingInput, "standard input is closed, so nothing can be read from it", location: name,
                                  hint: "give the input as a file (-i FILE), or redirect standard input from one")
            }
            raw = FileDescriptorSource(descriptor: 0, name: name, ownsDescriptor: false)
        } else {
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
                throw SpladeError(.missingInput, "is a directory, expected a file", location: name)
            }
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                throw SpladeError(.missingInput, "cannot open: \(systemErrorMessage())", location: name)
            }
            raw = FileDescriptorSource(descriptor: fd, name: name, ownsDescriptor: true)
        }
        let (head, source) = try raw.peek(4)
        if ZstdDecompressingSource.hasMagic(head) {
            return try ZstdDecompressingSource(compressed: source, name: name)
        }
        return source
    }

    /// A small file's whole contents (a configuration, a vocabulary), or an error saying what it is and
    /// why it cannot be read: "cannot read the configuration: No such file or directory".
    public static func contents(_ path: String, what: String) throws(SpladeError) -> [UInt8] {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw SpladeError(.missingInput, "cannot read \(what): \(systemErrorMessage())", location: path) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            throw SpladeError(.missingInput, "cannot read \(what): is a directory, expected a file", location: path)
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return bytes }
            if n < 0 {
                if errno == EINTR { continue }
                throw SpladeError(.missingInput, "cannot read \(what): \(systemErrorMessage())", location: path)
            }
            bytes += chunk[..<n]
        }
    }
}
