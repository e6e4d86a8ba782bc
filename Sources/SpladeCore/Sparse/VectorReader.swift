/// How the keys of JSON Lines vectors name vocabulary entries.
public enum VectorKeys: Sendable {
    /// Token strings (`{"東京": 1.2}`), resolved through the vocabulary: the Seismic/Anserini shape.
    case tokens(Vocabulary)
    /// Token ids written as strings (`{"4292": 1.2}`).
    case ids(vocabularySize: Int?)
    /// Token strings with no vocabulary to resolve them: JSON Lines input is this error, at its first line (the
    /// binary stream and `.csr` matrices carry token ids, and read as usual).
    case unresolvable(SpladeError)
}

/// Reads vectors from the binary stream or from JSON Lines (`{"id": …, "vector": {key: weight}}`),
/// whichever it is given (either may be zstd-compressed), or from a big-ann-benchmarks sparse
/// matrix (a file named `*.csr`, see `CSRMatrixReader`).
public final class VectorReader {
    /// The binary stream's header; nil for JSON Lines, which carry no vocabulary fingerprint.
    public private(set) var header: VectorStreamHeader?
    public let name: String
    private var binary: BinaryInput?
    private var lines: LineReader?
    private var matrix: CSRMatrixReader?
    private let keys: VectorKeys
    /// The option that says how JSON Lines vectors are keyed, as hints name it.
    private let keysOption: String
    private var ended = false
    /// Where the record `next()` returned last was read: its line in JSON Lines, its number (from 1) in the
    /// binary stream, its row (from 0) in a matrix.
    public private(set) var position = 0

    /// A position of this input as errors name it: `FILE:LINE`, `FILE: record N` or `FILE: row N`.
    public func location(of position: Int) -> String {
        if matrix != nil { return "\(name): row \(position)" }
        return binary != nil ? "\(name): record \(position)" : "\(name):\(position)"
    }

    /// Where the record `next()` returned last was read.
    public var location: String { location(of: position) }

    public init(path: String, keys: VectorKeys, keysOption: String = "--keys") throws(SpladeError) {
        name = InputFile.displayName(path)
        self.keys = keys
        self.keysOption = keysOption
        if path.hasSuffix(".csr") {
            matrix = try CSRMatrixReader(path: path)
            position = -1  // rows count from 0
            return
        }
        let (head, rest) = try InputFile.open(path).peek(VectorStreamHeader.magic.count)
        if head == VectorStreamHeader.magic {
            let input = BinaryInput(source: rest, name: name)
            header = try input.readHeader()
            binary = input
        } else {
            lines = LineReader(source: rest, name: name)
        }
    }

    /// The next record, or nil at the end.
    public func next() throws(SpladeError) -> VectorRecord? {
        if let matrix {
            position += 1
            return try matrix.next()
        }
        if let binary {
            guard !ended else { return nil }
            position += 1
            guard let record = try binary.readRecord(location: location, header: header!) else {
                ended = true
                try binary.expectEnd(records: position - 1)
                return nil
            }
            return record
        }
        while let line = try lines!.next() {
            if line.isBlank { continue }
            position = line.number
            return try parseJSONLine(line)
        }
        return nil
    }

    /// The record of `line`, which `location` names.
    private func parseJSONLine(_ line: Line) throws(SpladeError) -> VectorRecord {
        let json = try JSONLine.value(line.bytes, location: location)
        guard let id = json["id"] else { throw SpladeError(.badInput, "missing \"id\" (a string or number)", location: location) }
        guard id.stringValue != nil || id.doubleValue != nil else {
            throw SpladeError(.badInput, "\"id\" is a JSON \(id.typeName), expected a string or number", location: location)
        }
        guard case .object(let entries)? = json["vector"] else {
            // Texts or token ids where vectors were expected: the encoder was left out of the pipeline.
            let unencoded = json["text"] != nil || json["input_ids"] != nil
            throw SpladeError(.badInput, "missing \"vector\" object", location: location,
                              hint: unencoded ? "this is a text record, not a vector: splade-encode turns texts and token ids into vectors" : nil)
        }
        // Each term's weight and entry (zero weights too: a term given twice is a writer's bug, not a value to pick one of).
        var terms: [Int32: (weight: Float, entry: Int)] = [:]
        for (position, (key, value)) in entries.enumerated() {
            guard let number = value.doubleValue else {
                throw SpladeError(.badInput, "weight of \"\(key)\" is not a number", location: location)
            }
            let weight = Float(number)
            guard weight.isFinite else {
                throw SpladeError(.badInput, "weight of \"\(key)\" (\(number)) is beyond the range of a float32", location: location)
            }
            guard weight >= 0 else { throw SpladeError(.badInput, "weight of \"\(key)\" is negative", location: location) }
            let index: Int32
            switch keys {
            case .tokens(let vocabulary):
                guard let id = vocabulary.id(of: key) else {
                    throw SpladeError(.badInput, "token \"\(key)\" is not in the model's vocabulary", location: location)
                }
                index = id
            case .ids(let size):
                guard let id = Int32(key), id >= 0 else {
                    // With a vocabulary at hand, ids were asked for (the tools' default with one is token strings).
                    throw SpladeError(.badInput, "key \"\(key)\" is not a token id", location: location,
                                      hint: size == nil ? "vectors keyed by token strings need --model"
                                          : "vectors keyed by token strings are read as tokens, not ids: \(keysOption) tokens")
                }
                if let size, Int(id) >= size {
                    throw SpladeError(.badInput, "token id \(id) is outside the vocabulary of \(size)", location: location)
                }
                index = id
            case .unresolvable(var error):
                error.location = location
                throw error
            }
            if let first = terms.updateValue((weight, position), forKey: index) {
                let firstKey = entries[first.entry].key
                throw SpladeError(.badInput, firstKey == key ? "\"\(key)\" is given twice"
                                  : "\"\(firstKey)\" and \"\(key)\" name the same token (id \(index))", location: location)
            }
        }
        let sorted = terms.keys.filter { terms[$0]!.weight > 0 }.sorted()
        return VectorRecord(id: id, vector: SparseVector(indices: sorted, values: sorted.map { terms[$0]!.weight }))
    }
}

/// Exact-length little-endian reads from a byte source, for the binary stream.
private final class BinaryInput {
    let source: ByteSource
    let name: String
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var start = 0, end = 0

    init(source: ByteSource, name: String) {
        self.source = source
        self.name = name
    }

    /// Exactly `count` bytes, or nil at a clean end of input (nothing left); a partial read is an error.
    func read(_ count: Int, what: String) throws(SpladeError) -> ArraySlice<UInt8>? {
        if end - start < count {
            // Slide the unread bytes to the front, grow for a large record, and refill.
            buffer.replaceSubrange(0..<(end - start), with: buffer[start..<end])
            end -= start
            start = 0
            if buffer.count < count { buffer.append(contentsOf: repeatElement(0, count: count - buffer.count)) }
            while end < count {
                let n = try buffer.withMutableBytes { raw throws(SpladeError) in
                    try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
                }
                if n == 0 { break }
                end += n
            }
            if end == 0 { return nil }
            guard end >= count else { throw SpladeError(.badInput, "vector stream cut short inside \(what)", location: name) }
        }
        defer { start += count }
        return buffer[start..<(start + count)]
    }

    func require(_ count: Int, what: String) throws(SpladeError) -> ArraySlice<UInt8> {
        guard let bytes = try read(count, what: what) else {
            throw SpladeError(.badInput, "vector stream cut short: no end record", location: name)
        }
        return bytes
    }

    static func integer<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, at offset: Int, as: T.Type) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(bytes[bytes.startIndex + offset + i]) << (8 * i) }
        return value
    }

    func readHeader() throws(SpladeError) -> VectorStreamHeader {
        let bytes = try require(24, what: "the header")
        let version = Self.integer(bytes, at: 8, as: UInt16.self)
        guard version == VectorStreamHeader.version else {
            throw SpladeError(.badInput, "vector stream version \(version) is not supported (this build reads version 1)", location: name)
        }
        let valueType = bytes[bytes.startIndex + 10]
        guard valueType == VectorStreamHeader.float32 else {
            throw SpladeError(.badInput, "unknown value type \(valueType) in the vector stream header", location: name)
        }
        return VectorStreamHeader(vocabularySize: Int(Self.integer(bytes, at: 12, as: UInt32.self)),
                                  fingerprint: Self.integer(bytes, at: 16, as: UInt64.self))
    }

    /// The next record, or nil at the end record. `location` names it in errors (built only for one).
    func readRecord(location: @autoclosure () -> String, header: VectorStreamHeader) throws(SpladeError) -> VectorRecord? {
        let kind = try require(1, what: "a record").first!
        if kind == 0xFF { return nil }
        guard kind <= 1 else { throw SpladeError(.badInput, "corrupt vector stream (record kind \(kind))", location: location()) }
        let idLength = Int(Self.integer(try require(4, what: "an id length"), at: 0, as: UInt32.self))
        guard idLength <= 1 << 20 else { throw SpladeError(.badInput, "corrupt vector stream (id of \(idLength) bytes)", location: location()) }
        let idBytes = Array(try require(idLength, what: "an id"))
        guard UTF8Validation.isValid(idBytes) else { throw SpladeError(.badInput, "id is not valid UTF-8", location: location()) }
        let idText = String(decoding: idBytes, as: UTF8.self)
        // A number id is written into JSON as it is: it must be a JSON number (man 5 splade-vectors).
        if kind == 1 && !JSON.isNumber(idBytes) {
            throw SpladeError(.badInput, "corrupt vector stream (number id \"\(idText)\" is not a JSON number)", location: location())
        }
        let count = Int(Self.integer(try require(4, what: "a vector length"), at: 0, as: UInt32.self))
        guard count <= header.vocabularySize else {
            throw SpladeError(.badInput, "corrupt vector stream (\(count) entries for a vocabulary of \(header.vocabularySize))",
                              location: location())
        }
        let indexBytes = try require(4 * count, what: "token ids")
        var indices = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let index = Self.integer(indexBytes, at: 4 * i, as: UInt32.self)
            guard Int(index) < header.vocabularySize, i == 0 || Int32(index) > indices[i - 1] else {
                throw SpladeError(.badInput, "corrupt vector stream (token ids not ascending within the vocabulary)", location: location())
            }
            indices[i] = Int32(index)
        }
        let valueBytes = try require(4 * count, what: "weights")
        var values = [Float](repeating: 0, count: count)
        for i in 0..<count {
            // Checked as JSON Lines and matrix weights are: an infinite weight would make the index's scale infinite.
            let value = Float(bitPattern: Self.integer(valueBytes, at: 4 * i, as: UInt32.self))
            guard value.isFinite, value >= 0 else {
                throw SpladeError(.badInput, "weight \(value) of token id \(indices[i]) is negative or not finite", location: location())
            }
            values[i] = value
        }
        return VectorRecord(id: kind == 1 ? .number(idText) : .string(idText),
                            vector: SparseVector(indices: indices, values: values))
    }

    func expectEnd(records: Int) throws(SpladeError) {
        let count = Self.integer(try require(8, what: "the end record"), at: 0, as: UInt64.self)
        guard count == UInt64(records) else {
            throw SpladeError(.badInput, "vector stream end record counts \(count) records, \(records) were read", location: name)
        }
        if try read(1, what: "the end") != nil {
            throw SpladeError(.badInput, "data after the end record", location: name)
        }
    }
}
