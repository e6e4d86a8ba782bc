/// The deleted documents of a segment, as a bitset over its document numbers.
///
/// On disk (`seg-NNNNNN.del`, written whole for each generation that changes it, never edited):
///     magic "SPLADEDL" · u64 count n · n × u32 document numbers (ascending) · u64 checksum of the numbers
public struct Deletions: Sendable {
    public static let magic: [UInt8] = Array("SPLADEDL".utf8)
    private(set) var words: [UInt64]
    public private(set) var count = 0

    public init(documents: Int) {
        words = [UInt64](repeating: 0, count: (documents + 63) / 64)
    }

    @inline(__always)
    public func contains(_ document: Int) -> Bool { words[document >> 6] & (1 << UInt64(document & 63)) != 0 }

    public mutating func insert(_ document: Int) {
        guard !contains(document) else { return }
        words[document >> 6] |= 1 << UInt64(document & 63)
        count += 1
    }

    public var documents: [Int] {
        var result: [Int] = []
        for (w, word) in words.enumerated() where word != 0 {
            for bit in 0..<64 where word & (1 << UInt64(bit)) != 0 { result.append(w * 64 + bit) }
        }
        return result
    }

    public func serialized() -> [UInt8] {
        var writer = ByteWriter()
        writer.bytes.append(contentsOf: Self.magic)
        writer.append(UInt64(count))
        let numbers = documents.map { UInt32($0) }
        writer.append(contentsOf: numbers)
        writer.append(numbers.withUnsafeBytes { SegmentLayout.checksum($0) })
        return writer.bytes
    }

    public init(path: String, documents: Int) throws(SpladeError) {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        func corrupt(_ what: String) -> SpladeError {
            SpladeError(.badInput, "corrupt deletion list: \(what)", location: path, hint: "rebuild the index")
        }
        guard bytes.count >= 24, Array(bytes[0..<8]) == Self.magic else { throw corrupt("bad magic or cut short") }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        guard n <= UInt64(documents), bytes.count == 24 + 4 * Int(n) else { throw corrupt("wrong length") }
        let numbers = UnsafeRawBufferPointer(rebasing: bytes[16..<(16 + 4 * Int(n))])
        guard SegmentLayout.checksum(numbers) == UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 16 + 4 * Int(n), as: UInt64.self))
        else { throw corrupt("checksum mismatch") }
        self.init(documents: documents)
        for i in 0..<Int(n) {
            let document = Int(UInt32(littleEndian: numbers.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)))
            guard document < documents else { throw corrupt("document \(document) is outside the segment") }
            insert(document)
        }
    }
}
