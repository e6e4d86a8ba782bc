/// The binary sparse-vector stream (specified in man/splade-vectors.5): a zstd-compressed byte
/// stream, written and read incrementally, so it passes through pipes.
///
///     header   magic "SPLADEVS" · u16 version (1) · u8 value type (1 = float32) · u8 0
///              · u32 vocabulary size · u64 vocabulary fingerprint            (24 bytes)
///     record   u8 id kind (0 string, 1 number) · u32 id length · id (UTF-8)
///              · u32 n · n × u32 token ids (ascending) · n × f32 weights
///     end      u8 0xFF · u64 number of records
///
/// All integers and floats are little-endian. The end record makes a cut-short stream detectable
/// even when it was cut at a zstd frame boundary.
public struct VectorStreamHeader: Sendable, Equatable {
    public static let magic: [UInt8] = Array("SPLADEVS".utf8)
    public static let version: UInt16 = 1
    public static let float32: UInt8 = 1

    public var vocabularySize: Int
    public var fingerprint: UInt64

    public init(vocabularySize: Int, fingerprint: UInt64) {
        self.vocabularySize = vocabularySize
        self.fingerprint = fingerprint
    }

    /// The fingerprint of a vocabulary: FNV-1a (64-bit) over each token's UTF-8 followed by "\n".
    /// Two models share it exactly when their token lists are identical.
    public static func fingerprint(of tokens: [String]) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for token in tokens {
            for b in token.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
            h = (h ^ 0x0A) &* 0x100_0000_01b3
        }
        return h
    }
}

/// One vector with its id (a JSON string or number, passed through).
public struct VectorRecord: Sendable {
    public var id: JSONValue
    public var vector: SparseVector

    public init(id: JSONValue, vector: SparseVector) {
        self.id = id
        self.vector = vector
    }
}

/// Serialises records into the binary stream (compressed); the caller writes the returned bytes.
public final class VectorStreamEncoder {
    private let compressor = ZstdCompressor()
    private var pending: [UInt8] = []
    private var records: UInt64 = 0

    public init(header: VectorStreamHeader) {
        pending = VectorStreamHeader.magic
        append(VectorStreamHeader.version)
        pending.append(VectorStreamHeader.float32)
        pending.append(0)
        append(UInt32(header.vocabularySize))
        append(header.fingerprint)
    }

    /// Compressed bytes of the stream so far that are ready to be written (possibly none).
    public func encode(_ record: VectorRecord) -> [UInt8] {
        let id: String
        switch record.id {
        case .number(let literal): pending.append(1); id = literal
        case .string(let s): pending.append(0); id = s
        default: preconditionFailure("vector ids are strings or numbers")
        }
        append(UInt32(id.utf8.count))
        pending.append(contentsOf: id.utf8)
        append(UInt32(record.vector.count))
        for index in record.vector.indices { append(UInt32(index)) }
        for value in record.vector.values { append(value.bitPattern) }
        records += 1
        return drain(threshold: 1 << 17)
    }

    /// The end record and the rest of the compressed stream.
    public func finish() -> [UInt8] {
        pending.append(0xFF)
        append(records)
        return drain(threshold: 0) + compressor.finish()
    }

    private func drain(threshold: Int) -> [UInt8] {
        guard pending.count >= threshold, !pending.isEmpty else { return [] }
        defer { pending.removeAll(keepingCapacity: true) }
        return compressor.compress(pending)
    }

    private func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { pending.append(contentsOf: $0) }
    }
}
