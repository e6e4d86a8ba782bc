/// A small, strict JSON (RFC 8259) reader and writer for JSON Lines records.
///
/// Records are short and hot (one per document), so this avoids Foundation: the parser walks UTF-8
/// bytes once, numbers keep their literal text (an id such as 12345678901234567890 round-trips
/// exactly), and objects keep their key order so extra fields can pass through unchanged.
public enum JSONValue: Sendable {
    case null
    case bool(Bool)
    /// The number's literal text, already checked against the JSON grammar.
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(key: String, value: JSONValue)])

    /// The value of `key` in an object (the last one when a key repeats, as Python's json does).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last(where: { $0.key == key })?.value
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let literal) = self { return Double(literal) }
        return nil
    }

    /// The name of the value's JSON type, for error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// Why a JSON text was rejected, with the 1-based column (in bytes) where parsing stopped.
public struct JSONSyntaxError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public let column: Int
    public var description: String { "invalid JSON at column \(column): \(message)" }
}

public enum JSON {
    /// Parses a whole file's JSON text (a model's configuration, a weight index); a syntax error is bad input at its
    /// `FILE:LINE`, with the column in that line.
    public static func parseFile(_ bytes: [UInt8], path: String) throws(SpladeError) -> JSONValue {
        do { return try parse(bytes) } catch {
            if error.column > bytes.count {
                throw SpladeError(.badInput, "invalid JSON at the end of the file: \(error.message)", location: path)
            }
            let before = bytes[..<(error.column - 1)]
            let lineStart = before.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            let line = 1 + before.count(where: { $0 == UInt8(ascii: "\n") })
            throw SpladeError(.badInput, "invalid JSON at column \(before.count - lineStart + 1): \(error.message)", location: "\(path):\(line)")
        }
    }

    /// Parses one complete JSON text (leading and trailing whitespace allowed).
    public static func parse(_ bytes: some Collection<UInt8>) throws(JSONSyntaxError) -> JSONValue {
        let array = Array(bytes)
        return try array.withUnsafeBufferPointer { buffer throws(JSONSyntaxError) in
            var parser = Parser(bytes: buffer)
            parser.skipWhitespace()
            let value = try parser.parseValue(depth: 0)
            parser.skipWhitespace()
            guard parser.position == buffer.count else { throw parser.error("unexpected data after the value") }
            return value
        }
    }

    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    /// Whether `bytes` are exactly one JSON number (no whitespace), as a number id is written into JSON.
    public static func isNumber(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { buffer in
            var parser = Parser(bytes: buffer)
            return (try? parser.skipNumber()) != nil && parser.position == buffer.count
        }
    }
}

private struct Parser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    /// Nesting limit: a hostile line must not overflow the stack.
    static let maxDepth = 512

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    func error(_ message: String) -> JSONSyntaxError {
        JSONSyntaxError(message: message, column: position + 1)
    }

    var current: UInt8? { position < bytes.count ? bytes[position] : nil }

    mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: StaticString, value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw error("unexpected end of input") }
        for i in 0..<count where bytes[position + i] != literal.utf8Start[i] {
            throw error("unexpected character")
        }
        position += count
        return value
    }

    mutating func parseValue(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        guard let byte = current else { throw error("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth)
        case UInt8(ascii: "["): return try parseArray(depth: depth)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): return try expect("true", value: .bool(true))
        case UInt8(ascii: "f"): return try expect("false", value: .bool(false))
        case UInt8(ascii: "n"): return try expect("null", value: .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        default: throw error("unexpected character")
        }
    }

    mutating func parseObject(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        position += 1
        var members: [(key: String, value: JSONValue)] = []
        skipWhitespace()
        if current == UInt8(ascii: "}") { position += 1; return .object(members) }
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw error("expected ':'") }
            position += 1
            skipWhitespace()
            let value = try parseValue(depth: depth + 1)
            members.append((key, value))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "}"): position += 1; return .object(members)
            default: throw error("expected ',' or '}'")
            }
        }
    }

    mutating func parseArray(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        position += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") { position += 1; return .array(elements) }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth + 1))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): position += 1
            case UInt8(ascii: "]"): position += 1; return .array(elements)
            default: throw error("expected ',' or ']'")
            }
        }
    }

    mutating func parseNumber() throws(JSONSyntaxError) -> JSONValue {
        let start = position
        try skipNumber()
        return .number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self))
    }

    /// Moves past a number as RFC 8259 writes it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
    mutating func skipNumber() throws(JSONSyntaxError) {
        func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
        if current == UInt8(ascii: "-") { position += 1 }
        if current == UInt8(ascii: "0") {
            position += 1
        } else if isDigit(current) {
            while isDigit(current) { position += 1 }
        } else {
            throw error("invalid number")
        }
        if current == UInt8(ascii: ".") {
            position += 1
            guard isDigit(current) else { throw error("invalid number") }
            while isDigit(current) { position += 1 }
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            position += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { position += 1 }
            guard isDigit(current) else { throw error("invalid number") }
            while isDigit(current) { position += 1 }
        }
    }

    mutating func parseHex4() throws(JSONSyntaxError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[position]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - 0x30)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - 0x61 + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - 0x41 + 10)
            default: throw error("invalid \\u escape")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Parses a string starting at the opening quote. The caller has validated the line as UTF-8,
    /// so raw bytes are copied through; only escapes and control characters need attention.
    mutating func parseString() throws(JSONSyntaxError) -> String {
        position += 1
        let start = position
        // Fast path: no escapes.
        while position < bytes.count {
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
                position += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string") }
            position += 1
        }
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<position]))
        while position < bytes.count {
            let b = bytes[position]
            switch b {
            case UInt8(ascii: "\""):
                position += 1
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                position += 1
                guard let e = current else { throw error("unexpected end of input") }
                position += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var code = try parseHex4()
                    if code >= 0xD800 && code < 0xDC00 {
                        guard position + 6 <= bytes.count, bytes[position] == UInt8(ascii: "\\"),
                              bytes[position + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate in \\u escape")
                        }
                        position += 2
                        let low = try parseHex4()
                        guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate in \\u escape") }
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    } else if code >= 0xDC00 && code < 0xE000 {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    out.append(contentsOf: String(Character(Unicode.Scalar(code)!)).utf8)
                default:
                    throw error("invalid escape")
                }
            default:
                if b < 0x20 { throw error("control character in string") }
                out.append(b)
                position += 1
            }
        }
        throw error("unterminated string")
    }
}

/// Appends JSON text to a byte buffer (output is UTF-8; only what JSON requires is escaped).
public struct JSONWriter {
    public var bytes: [UInt8] = []

    public init() { bytes.reserveCapacity(1024) }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x61 + nibble - 10 }

    public mutating func appendRaw(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    public mutating func appendString(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in value.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes.append(0x5C); bytes.append(0x22)
            case UInt8(ascii: "\\"): bytes.append(0x5C); bytes.append(0x5C)
            case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
            case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
            case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
            case 0..<0x20:
                bytes.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, Self.hexDigit(b >> 4), Self.hexDigit(b & 15)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// `,"key":value` for each of `fields`, in order: members after the first of an object being written.
    public mutating func appendMembers(_ fields: [(key: String, value: JSONValue)]) {
        for (key, value) in fields {
            appendRaw(",")
            appendString(key)
            appendRaw(":")
            appendValue(value)
        }
    }

    public mutating func appendInt(_ value: Int) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var v = value.magnitude
        // Digits are produced backwards into a small stack buffer, two at a time.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = 20
            while v >= 100 {
                let pair = Int(v % 100) * 2
                v /= 100
                start -= 2
                digits[start] = Self.digitPairs[pair]
                digits[start + 1] = Self.digitPairs[pair + 1]
            }
            if v >= 10 {
                start -= 2
                digits[start] = Self.digitPairs[Int(v) * 2]
                digits[start + 1] = Self.digitPairs[Int(v) * 2 + 1]
            } else {
                start -= 1
                digits[start] = UInt8(v) + 0x30
            }
            for i in start..<20 { bytes.append(digits[i]) }
        }
    }

    /// "00" "01" … "99", for writing integers two digits at a time.
    private static let digitPairs: [UInt8] = {
        var pairs: [UInt8] = []
        for n in 0..<100 {
            pairs.append(UInt8(0x30 + n / 10))
            pairs.append(UInt8(0x30 + n % 10))
        }
        return pairs
    }()

    public mutating func appendValue(_ value: JSONValue) {
        switch value {
        case .null: appendRaw("null")
        case .bool(let b): if b { appendRaw("true") } else { appendRaw("false") }
        case .number(let literal): bytes.append(contentsOf: literal.utf8)
        case .string(let s): appendString(s)
        case .array(let elements):
            bytes.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { appendRaw(",") }
                appendValue(e)
            }
            bytes.append(UInt8(ascii: "]"))
        case .object(let members):
            bytes.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { appendRaw(",") }
                appendString(m.key)
                appendRaw(":")
                appendValue(m.value)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }
}

extension JSONValue {
    /// The value written as JSON, for messages that quote it.
    public var jsonText: String {
        var writer = JSONWriter()
        writer.appendValue(self)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    /// This object with `key` set to `value` (replaced in place, or appended).
    public func setting(_ key: String, to value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.lastIndex(where: { $0.key == key }) {
            members[index].value = value
        } else {
            members.append((key, value))
        }
        return .object(members)
    }
}
