/// The Protocol Buffers wire format, as much of it as CIFF needs: varints (int32, int64), 64-bit
/// doubles and length-delimited fields (strings, nested messages), written as proto3 writes them
/// (fields at their default value are left out) and read with unknown fields skipped.
/// See https://protobuf.dev/programming-guides/encoding/.
public enum Protobuf {
    public enum WireType: UInt8, Sendable {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    /// Bytes a varint of `value` takes.
    public static func varintSize(_ value: UInt64) -> Int {
        var size = 1, v = value >> 7
        while v != 0 { size += 1; v >>= 7 }
        return size
    }
}

/// Serialises one message's fields into a growing byte buffer.
public struct ProtobufWriter: Sendable {
    public var bytes: [UInt8] = []

    public init() {}

    public mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func tag(_ field: Int, _ type: Protobuf.WireType) {
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    /// An int32 or int64 field; negative values take ten bytes (sign-extended), as protobuf does.
    public mutating func int(_ field: Int, _ value: Int64) {
        guard value != 0 else { return }
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    public mutating func double(_ field: Int, _ value: Double) {
        guard value.bitPattern != 0 else { return }
        tag(field, .fixed64)
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ field: Int, _ value: String) {
        guard !value.isEmpty else { return }
        lengthDelimited(field, Array(value.utf8))
    }

    /// A nested message (written even when empty: a repeated element must keep its place).
    public mutating func message(_ field: Int, _ message: ProtobufWriter) {
        lengthDelimited(field, message.bytes)
    }

    private mutating func lengthDelimited(_ field: Int, _ value: [UInt8]) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }
}

/// A malformed message: what is wrong and the byte offset where it was found.
public struct ProtobufError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

/// Reads the fields of one message held in memory. `base` is the message's offset in its file, so
/// errors name the byte in the file.
public struct ProtobufReader {
    public let bytes: [UInt8]
    private let range: Range<Int>
    private let base: Int
    public private(set) var position: Int

    public init(_ bytes: [UInt8], base: Int = 0) {
        self.init(bytes, range: bytes.indices, base: base)
    }

    private init(_ bytes: [UInt8], range: Range<Int>, base: Int) {
        self.bytes = bytes
        self.range = range
        self.base = base
        position = range.lowerBound
    }

    /// The file offset of the current position.
    public var offset: Int { base + position }
    public var isAtEnd: Bool { position >= range.upperBound }

    private func error(_ message: String, at position: Int) -> ProtobufError {
        ProtobufError(message: message, offset: base + position)
    }

    public mutating func varint() throws(ProtobufError) -> UInt64 {
        let start = position
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < range.upperBound else { throw error("truncated varint", at: start) }
            let byte = bytes[position]
            position += 1
            guard shift < 64, shift < 63 || byte <= 1 else { throw error("varint longer than 64 bits", at: start) }
            result |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    /// The next field's number and wire type, or nil at the end of the message.
    public mutating func nextField() throws(ProtobufError) -> (field: Int, type: Protobuf.WireType)? {
        guard !isAtEnd else { return nil }
        let start = position
        let key = try varint()
        guard let type = Protobuf.WireType(rawValue: UInt8(key & 7)) else {
            throw error("unsupported wire type \(key & 7)", at: start)
        }
        guard key >> 3 >= 1, key >> 3 <= 0x1FFF_FFFF else { throw error("invalid field number \(key >> 3)", at: start) }
        return (Int(key >> 3), type)
    }

    /// An int32 field: protobuf sign-extends negative values to 64 bits.
    public mutating func int32(_ type: Protobuf.WireType) throws(ProtobufError) -> Int32 {
        let start = position
        let value = Int64(bitPattern: try integer(type))
        guard let result = Int32(exactly: value) else { throw error("int32 field out of range", at: start) }
        return result
    }

    public mutating func int64(_ type: Protobuf.WireType) throws(ProtobufError) -> Int64 {
        Int64(bitPattern: try integer(type))
    }

    private mutating func integer(_ type: Protobuf.WireType) throws(ProtobufError) -> UInt64 {
        guard type == .varint else { throw error("expected a varint field", at: position) }
        return try varint()
    }

    public mutating func double(_ type: Protobuf.WireType) throws(ProtobufError) -> Double {
        guard type == .fixed64 else { throw error("expected a 64-bit field", at: position) }
        let raw = try take(8)
        var bits: UInt64 = 0
        for i in raw.reversed() { bits = bits << 8 | UInt64(bytes[i]) }
        return Double(bitPattern: bits)
    }

    public mutating func string(_ type: Protobuf.WireType) throws(ProtobufError) -> String {
        let start = position
        let raw = try lengthDelimited(type)
        let valid = bytes.withUnsafeBufferPointer { UTF8Validation.isValid(UnsafeBufferPointer(rebasing: $0[raw])) }
        guard valid else { throw error("string is not valid UTF-8", at: start) }
        return String(decoding: bytes[raw], as: UTF8.self)
    }

    /// A nested message, read in place.
    public mutating func message(_ type: Protobuf.WireType) throws(ProtobufError) -> ProtobufReader {
        ProtobufReader(bytes, range: try lengthDelimited(type), base: base)
    }

    /// Skips a field this reader does not know.
    public mutating func skip(_ type: Protobuf.WireType) throws(ProtobufError) {
        switch type {
        case .varint: _ = try varint()
        case .fixed64: _ = try take(8)
        case .fixed32: _ = try take(4)
        case .lengthDelimited: _ = try lengthDelimited(type)
        }
    }

    private mutating func lengthDelimited(_ type: Protobuf.WireType) throws(ProtobufError) -> Range<Int> {
        guard type == .lengthDelimited else { throw error("expected a length-delimited field", at: position) }
        let start = position
        let length = try varint()
        guard length <= UInt64(range.upperBound - position) else {
            throw error("field of \(length) bytes runs past the end of its message", at: start)
        }
        return try take(Int(length))
    }

    private mutating func take(_ count: Int) throws(ProtobufError) -> Range<Int> {
        guard count <= range.upperBound - position else { throw error("field runs past the end of its message", at: position) }
        defer { position += count }
        return position..<(position + count)
    }
}

/// Reads a stream of varint-length-delimited messages (protobuf's `writeDelimitedTo`), one at a
/// time, so a file larger than memory's worth of messages is never held whole.
public final class DelimitedMessageReader {
    private let source: ByteSource
    private let corrupt: (ProtobufError) -> SpladeError
    private var buffer = [UInt8](repeating: 0, count: 1 << 20)
    private var start = 0, end = 0
    /// The file offset of the next unread byte.
    public private(set) var offset = 0

    /// `corrupt` turns a malformed stream into the caller's error (naming the file and format).
    public init(source: ByteSource, corrupt: @escaping (ProtobufError) -> SpladeError) {
        self.source = source
        self.corrupt = corrupt
    }

    /// The next message, or nil at the end of the stream (between two messages).
    public func next() throws(SpladeError) -> ProtobufReader? {
        let messageStart = offset
        var length: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard let byte = try readByte() else {
                if offset == messageStart { return nil }
                throw corrupt(ProtobufError(message: "stream cut short inside a length prefix", offset: messageStart))
            }
            guard shift < 63 || byte <= 1 else {
                throw corrupt(ProtobufError(message: "length prefix longer than 64 bits", offset: messageStart))
            }
            length |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { break }
            shift += 7
        }
        // Protobuf messages are limited to 2 GiB; a larger length is corruption, not data.
        guard length < 1 << 31 else {
            throw corrupt(ProtobufError(message: "message length \(length) exceeds protobuf's 2 GiB limit", offset: messageStart))
        }
        let bodyStart = offset
        var body: [UInt8] = []
        body.reserveCapacity(min(Int(length), buffer.count))
        while body.count < Int(length) {
            if start == end {
                guard try refill() else {
                    throw corrupt(ProtobufError(message: "stream cut short inside a message of \(length) bytes (only \(body.count) follow)",
                                                offset: messageStart))
                }
            }
            let n = min(end - start, Int(length) - body.count)
            body.append(contentsOf: buffer[start..<(start + n)])
            start += n
            offset += n
        }
        return ProtobufReader(body, base: bodyStart)
    }

    private func readByte() throws(SpladeError) -> UInt8? {
        if start == end, !(try refill()) { return nil }
        defer { start += 1; offset += 1 }
        return buffer[start]
    }

    private func refill() throws(SpladeError) -> Bool {
        let n = try buffer.withMutableBytes { raw throws(SpladeError) in try source.read(into: raw) }
        start = 0
        end = n
        return n > 0
    }
}
