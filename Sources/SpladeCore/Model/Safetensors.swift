import Foundation

/// A tensor read from a safetensors file, converted to Float32.
public struct NamedTensor: Sendable {
    public var shape: [Int]
    public var values: [Float]
}

/// The safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`name → {dtype, shape, data_offsets: [begin, end]}`, plus optional `__metadata__`), then the data
/// (offsets relative to its start). Every length and offset is checked against the file before
/// anything is read, so a hostile or truncated file is an error, never a crash or an over-read.
public enum Safetensors {
    /// Float tensors (model weights), and integer ones (index arrays) whose values a Float holds exactly.
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", i32 = "I32", i64 = "I64"
        var size: Int {
            switch self {
            case .f16, .bf16: return 2
            case .f32, .i32: return 4
            case .i64: return 8
            }
        }
    }

    struct Entry {
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Largest header accepted: real headers are kilobytes; this bounds what a hostile file can make us parse.
    static let maxHeaderBytes = 100 << 20

    /// Reads every tensor of `path`. The file is mapped, not read: only the converted tensors take memory.
    public static func read(_ path: String) throws(SpladeError) -> [String: NamedTensor] {
        let file = try MappedFile(path: path)
        let entries = try parseHeader(file.bytes, path: path)
        var tensors: [String: NamedTensor] = [:]
        for (name, entry) in entries {
            let values = convert(file.bytes, entry)
            if entry.dtype == .i32 || entry.dtype == .i64, values.contains(where: { abs($0) > 16_777_216 }) {
                throw SpladeError(.badInput, "integer tensor \(name) holds values beyond 2^24, which Float32 cannot represent exactly",
                                  location: path)
            }
            // A diverged run's weights: every vector computed from them would be NaN, silently empty once pooled.
            guard values.withUnsafeBufferPointer(VectorMath.allFinite) else {
                throw SpladeError(.badInput, "tensor \(name) holds NaN or infinite values", location: path,
                                  hint: "the checkpoint is broken (a training run that diverged?): take an earlier one")
            }
            tensors[name] = NamedTensor(shape: entry.shape, values: values)
        }
        return tensors
    }

    static func parseHeader(_ bytes: UnsafeRawBufferPointer, path: String) throws(SpladeError) -> [(String, Entry)] {
        func fail(_ message: String) -> SpladeError { SpladeError(.badInput, "not a valid safetensors file: \(message)", location: path) }
        guard bytes.count >= 8 else { throw fail("shorter than its 8-byte header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= UInt64(min(maxHeaderBytes, bytes.count - 8)) else {
            throw fail("header length \(headerLength) exceeds the file (\(bytes.count) bytes)")
        }
        let dataStart = 8 + Int(headerLength)
        let dataSize = bytes.count - dataStart
        let header: JSONValue
        do {
            header = try JSON.parse(UnsafeRawBufferPointer(rebasing: bytes[8..<dataStart]))
        } catch {
            throw fail("header: \(error.description)")
        }
        guard case .object(let members) = header else { throw fail("header is not a JSON object") }
        var entries: [(String, Entry)] = []
        for (name, value) in members where name != "__metadata__" {
            guard let dtypeName = value["dtype"]?.stringValue else { throw fail("\(name): no dtype") }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw SpladeError(.badInput, "tensor \(name) has unsupported dtype \(dtypeName) (supported: F32, F16, BF16, I32, I64)",
                                  location: path)
            }
            guard case .array(let shapeValues)? = value["shape"], case .array(let offsetValues)? = value["data_offsets"],
                  offsetValues.count == 2 else { throw fail("\(name): missing shape or data_offsets") }
            var shape: [Int] = []
            var count = 1
            for dimension in shapeValues {
                guard let d = dimension.doubleValue.flatMap({ Int(exactly: $0) }), d >= 0 else {
                    throw fail("\(name): bad shape")
                }
                let (product, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, product <= dataSize else { throw fail("\(name): shape \(shapeValues.count)-d product exceeds the file") }
                shape.append(d)
                count = product
            }
            guard let begin = offsetValues[0].doubleValue.flatMap({ Int(exactly: $0) }),
                  let end = offsetValues[1].doubleValue.flatMap({ Int(exactly: $0) }),
                  begin >= 0, begin <= end, end <= dataSize else {
                throw fail("\(name): data offsets outside the file's \(dataSize) data bytes")
            }
            guard end - begin == count * dtype.size else {
                throw fail("\(name): \(end - begin) data bytes for shape \(shape) of \(dtypeName)")
            }
            entries.append((name, Entry(dtype: dtype, shape: shape, begin: dataStart + begin, end: dataStart + end)))
        }
        // Two tensors over the same bytes are a corrupt header (safetensors and transformers refuse it too).
        let byPlace = entries.filter { $0.1.begin < $0.1.end }.sorted { ($0.1.begin, $0.0) < ($1.1.begin, $1.0) }
        for (previous, next) in zip(byPlace, byPlace.dropFirst()) where next.1.begin < previous.1.end {
            throw fail("tensors \(previous.0) and \(next.0) overlap in the data")
        }
        return entries
    }

    static func convert(_ bytes: UnsafeRawBufferPointer, _ entry: Entry) -> [Float] {
        let count = (entry.end - entry.begin) / entry.dtype.size
        let base = bytes.baseAddress! + entry.begin
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
                switch entry.dtype {
                case .f32:
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
                case .f16:
                    for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
                case .bf16:
                    for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
                case .i32:
                    for i in 0..<count { out[i] = Float(Int32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
                case .i64:
                    for i in 0..<count { out[i] = Float(Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
                }
                initialized = count
        }
    }

    /// Writes tensors (Float32) in the safetensors layout, header padded to 8 bytes, names sorted.
    public static func encode(_ tensors: [String: NamedTensor], metadata: [String: String] = ["format": "pt"]) -> [UInt8] {
        var json = JSONWriter()
        json.appendRaw("{")
        var offset = 0
        var first = true
        if !metadata.isEmpty {
            json.appendString("__metadata__")
            json.appendRaw(":")
            json.appendValue(.object(metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) }))
            first = false
        }
        let names = tensors.keys.sorted()
        for name in names {
            let tensor = tensors[name]!
            if !first { json.appendRaw(",") }
            first = false
            json.appendString(name)
            json.appendRaw(":{\"dtype\":\"F32\",\"shape\":[")
            for (i, d) in tensor.shape.enumerated() {
                if i > 0 { json.appendRaw(",") }
                json.appendInt(d)
            }
            json.appendRaw("],\"data_offsets\":[")
            json.appendInt(offset)
            json.appendRaw(",")
            offset += tensor.values.count * 4
            json.appendInt(offset)
            json.appendRaw("]}")
        }
        json.appendRaw("}")
        while json.bytes.count % 8 != 0 { json.bytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.bytes.count + offset)
        let length = UInt64(json.bytes.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        out.append(contentsOf: json.bytes)
        for name in names {
            for value in tensors[name]!.values {
                let bits = value.bitPattern
                out.append(UInt8(truncatingIfNeeded: bits))
                out.append(UInt8(truncatingIfNeeded: bits >> 8))
                out.append(UInt8(truncatingIfNeeded: bits >> 16))
                out.append(UInt8(truncatingIfNeeded: bits >> 24))
            }
        }
        return out
    }
}
