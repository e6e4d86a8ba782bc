#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns documents into a segment file (layout in `SegmentLayout`).
public struct SegmentWriter {
    public var blockSize: Int
    public var vocabularySize: Int
    public var fingerprint: UInt64
    public var scale: ImpactScale

    public init(blockSize: Int, vocabularySize: Int, fingerprint: UInt64, scale: ImpactScale) {
        precondition((1...SegmentLayout.maxBlockSize).contains(blockSize))
        self.blockSize = blockSize
        self.vocabularySize = vocabularySize
        self.fingerprint = fingerprint
        self.scale = scale
    }

    public struct Summary: Sendable {
        public var bytes: Int
        /// Weights above 255 units of the scale (possible only when adding to an index).
        public var clampedWeights: Int
    }

    /// Writes the segment of `documents` to `path` and makes it durable. `order[place]` is the
    /// document stored at each place of the blocks (nil: input order).
    public func write(_ documents: DocumentBatch, order: [Int]? = nil, to path: String) throws(SpladeError) -> Summary {
        precondition(order == nil || order!.count == documents.count)
        let order = order ?? Array(0..<documents.count)
        let blocks = (documents.count + blockSize - 1) / blockSize
        var clamped = 0

        // Block-forward index: each block's postings sorted by (term, document in block). A posting
        // packs into one UInt64 (term << 16 | document << 8 | impact) so a plain integer sort orders it.
        var blockEntryStart: [UInt64] = [0]
        var entryTerms: [UInt32] = []
        var entryMaxes: [UInt8] = []
        var entryPostingStart: [UInt32] = []
        var blockPostingStart: [UInt64] = [0]
        var postings: [UInt8] = []
        var packed: [UInt64] = []
        blockEntryStart.reserveCapacity(blocks + 1)
        blockPostingStart.reserveCapacity(blocks + 1)
        postings.reserveCapacity(2 * documents.postings)
        for block in 0..<blocks {
            packed.removeAll(keepingCapacity: true)
            let first = block * blockSize
            for place in first..<min(documents.count, first + blockSize) {
                for p in documents.postings(of: order[place]) {
                    let (impact, wasClamped) = scale.impact(documents.weights[p])
                    if wasClamped { clamped += 1 }
                    guard impact > 0 else { continue }
                    packed.append(UInt64(documents.terms[p]) << 16 | UInt64(place - first) << 8 | UInt64(impact))
                }
            }
            packed.sort()
            let base = postings.count / 2
            var previousTerm = UInt64.max
            for key in packed {
                let term = key >> 16, impact = UInt8(truncatingIfNeeded: key)
                if term != previousTerm {
                    entryTerms.append(UInt32(term))
                    entryMaxes.append(impact)
                    entryPostingStart.append(UInt32(postings.count / 2 - base))
                    previousTerm = term
                } else {
                    entryMaxes[entryMaxes.count - 1] = max(entryMaxes[entryMaxes.count - 1], impact)
                }
                postings.append(UInt8(truncatingIfNeeded: key >> 8))
                postings.append(impact)
            }
            blockEntryStart.append(UInt64(entryTerms.count))
            blockPostingStart.append(UInt64(postings.count / 2))
        }

        // Block-max lists: the transpose of the block entries, by a counting sort on the term, so
        // each term's blocks come out ascending.
        var termListStart = [UInt64](repeating: 0, count: vocabularySize + 1)
        for term in entryTerms {
            guard Int(term) < vocabularySize else {
                throw SpladeError(.badInput, "token id \(term) is outside the vocabulary of \(vocabularySize)")
            }
            termListStart[Int(term) + 1] += 1
        }
        for t in 0..<vocabularySize { termListStart[t + 1] += termListStart[t] }
        var fill = termListStart
        var listBlocks = [UInt32](repeating: 0, count: entryTerms.count)
        var listMaxes = [UInt8](repeating: 0, count: entryTerms.count)
        for block in 0..<blocks {
            for e in Int(blockEntryStart[block])..<Int(blockEntryStart[block + 1]) {
                let term = Int(entryTerms[e])
                let slot = Int(fill[term])
                listBlocks[slot] = UInt32(block)
                listMaxes[slot] = entryMaxes[e]
                fill[term] += 1
            }
        }

        let header = SegmentHeader(blockSize: blockSize, documents: documents.count, blocks: blocks, entries: entryTerms.count,
                                   postings: postings.count / 2, vocabularySize: vocabularySize, scale: scale.scale,
                                   fingerprint: fingerprint)
        let sections = [
            Section(documents.idStart), Section(documents.idBytes), Section(termListStart), Section(listBlocks), Section(listMaxes),
            Section(blockEntryStart), Section(entryTerms), Section(entryPostingStart), Section(blockPostingStart), Section(postings),
            Section(order.map { UInt32($0) }),
        ]
        let bytes = try Self.writeFile(header: header, sections: sections, path: path)
        return Summary(bytes: bytes, clampedWeights: clamped)
    }

    /// A section's integers, written from the array that holds them (no copy of the segment in bytes beside it: that
    /// would double a build's peak memory), little-endian as the layout says.
    struct Section {
        let byteCount: Int
        let checksum: UInt64
        let write: (OutputFile) throws(SpladeError) -> Void

        init<T: FixedWidthInteger & BitwiseCopyable>(_ values: [T]) {
            #if _endian(little)
            let bytes = values
            #else
            var writer = ByteWriter()
            writer.append(contentsOf: values)
            let bytes = writer.bytes
            #endif
            byteCount = bytes.withUnsafeBytes { $0.count }
            checksum = bytes.withUnsafeBytes { SegmentLayout.checksum($0) }
            write = { file throws(SpladeError) in try file.write(contentsOf: bytes) }
        }
    }

    /// Header, section table and sections, each section 8-byte aligned; fsynced before returning.
    static func writeFile(header: SegmentHeader, sections: [Section], path: String) throws(SpladeError) -> Int {
        var head = ByteWriter()
        head.bytes.append(contentsOf: SegmentLayout.magic)
        head.append(SegmentLayout.version)
        head.append(UInt32(header.blockSize))
        head.append(UInt64(header.documents))
        head.append(UInt64(header.blocks))
        head.append(UInt64(header.entries))
        head.append(UInt64(header.postings))
        head.append(UInt32(header.vocabularySize))
        head.append(header.scale.bitPattern)
        head.append(header.fingerprint)
        assert(head.bytes.count == SegmentLayout.headerSize)
        var offset = SegmentLayout.headerSize + SegmentLayout.tableSize
        for section in sections {
            offset = (offset + 7) & ~7
            head.append(UInt64(offset))
            head.append(UInt64(section.byteCount))
            head.append(section.checksum)
            offset += section.byteCount
        }
        let file = try OutputFile(path: path)
        try file.write(head.bytes)
        var position = head.bytes.count
        let zeros = [UInt8](repeating: 0, count: 8)
        for section in sections {
            let padding = (8 - position % 8) % 8
            try file.write(Array(zeros.prefix(padding)))
            try section.write(file)
            position += padding + section.byteCount
        }
        try file.close()
        return position
    }
}

/// A file written with plain write(2) calls and made durable with fsync on close.
final class OutputFile {
    let path: String
    private var descriptor: Int32

    init(path: String) throws(SpladeError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw SpladeError(.cannotCreateOutput, "cannot create: \(systemErrorMessage())", location: path) }
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    func write(_ bytes: [UInt8]) throws(SpladeError) { try write(contentsOf: bytes) }

    /// The elements' bytes as they lie in memory.
    func write<T: BitwiseCopyable>(contentsOf elements: [T]) throws(SpladeError) {
        try elements.withUnsafeBufferPointer { buffer throws(SpladeError) in try write(UnsafeRawBufferPointer(buffer)) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(SpladeError) {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SpladeError(.writeFailure, "write failed: \(systemErrorMessage())", location: path)
            }
            offset += n
        }
    }

    /// Closes the file, durably (after fsync) unless it is scratch that no crash needs to find intact.
    func close(durably: Bool = true) throws(SpladeError) {
        defer { Glibc.close(descriptor); descriptor = -1 }
        guard !durably || fsync(descriptor) == 0 || errno == EINVAL else {
            throw SpladeError(.writeFailure, "fsync failed: \(systemErrorMessage())", location: path)
        }
    }
}
