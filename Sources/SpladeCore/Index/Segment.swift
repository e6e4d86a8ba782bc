/// A segment file opened through mmap (layout in `SegmentLayout`). Opening checks the header, the
/// section table and every offset array (work proportional to documents + vocabulary + blocks,
/// not to postings); the search loops bound-check the rest, so a corrupt file gives wrong scores
/// at worst, never a crash. `verify()` checks everything, checksums included.
public final class Segment: @unchecked Sendable {
    public let path: String
    public let header: SegmentHeader
    private let file: MappedFile
    private let sections: [UnsafeRawBufferPointer]

    let idOffsets: UnsafeBufferPointer<UInt64>
    let idText: UnsafeBufferPointer<UInt8>
    let termListStart: UnsafeBufferPointer<UInt64>
    let listBlocks: UnsafeBufferPointer<UInt32>
    let listMaxes: UnsafeBufferPointer<UInt8>
    let blockEntryStart: UnsafeBufferPointer<UInt64>
    let entryTerms: UnsafeBufferPointer<UInt32>
    let entryPostingStart: UnsafeBufferPointer<UInt32>
    let blockPostingStart: UnsafeBufferPointer<UInt64>
    let postings: UnsafeBufferPointer<UInt8>
    let blockDocuments: UnsafeBufferPointer<UInt32>
    private let checksums: [UInt64]

    public init(path: String) throws(SpladeError) {
        #if _endian(big)
        #error("index segments are little-endian and mapped as they are")
        #endif
        self.path = path
        file = try MappedFile(path: path)
        let bytes = file.bytes
        func corrupt(_ what: String) -> SpladeError {
            SpladeError(.badInput, "corrupt index segment: \(what)", location: path,
                        hint: "rebuild the index; `splade-index --check` verifies one")
        }
        guard bytes.count >= SegmentLayout.headerSize + SegmentLayout.tableSize else { throw corrupt("file cut short") }
        guard Array(bytes[0..<8]) == SegmentLayout.magic else { throw corrupt("not a segment (bad magic)") }
        func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        func u64(_ at: Int) -> UInt64 { UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        guard u32(8) == SegmentLayout.version else {
            throw corrupt("format version \(u32(8)) (this build reads version \(SegmentLayout.version))")
        }
        // Counts bounded by 2^40 so the size arithmetic below cannot overflow.
        let limit: UInt64 = 1 << 40
        guard u64(16) < limit, u64(24) < limit, u64(32) < limit, u64(40) < limit else { throw corrupt("impossible counts") }
        let h = SegmentHeader(blockSize: Int(u32(12)), documents: Int(u64(16)), blocks: Int(u64(24)), entries: Int(u64(32)),
                              postings: Int(u64(40)), vocabularySize: Int(u32(48)), scale: Float(bitPattern: u32(52)),
                              fingerprint: u64(56))
        guard (1...SegmentLayout.maxBlockSize).contains(h.blockSize), h.blocks == (h.documents + h.blockSize - 1) / h.blockSize,
              h.scale.isFinite, h.scale > 0
        else { throw corrupt("inconsistent header") }
        header = h

        let expectedLengths = [8 * (h.documents + 1), -1, 8 * (h.vocabularySize + 1), 4 * h.entries, h.entries,
                               8 * (h.blocks + 1), 4 * h.entries, 4 * h.entries, 8 * (h.blocks + 1), 2 * h.postings, 4 * h.documents]
        var sections: [UnsafeRawBufferPointer] = []
        var checksums: [UInt64] = []
        for (i, expected) in expectedLengths.enumerated() {
            let entry = SegmentLayout.headerSize + i * SegmentLayout.sectionEntrySize
            let offset = u64(entry), length = u64(entry + 8)
            guard offset % 8 == 0, offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else {
                throw corrupt("section \(i) lies outside the file (truncated?)")
            }
            guard expected < 0 || length == UInt64(expected) else { throw corrupt("section \(i) has the wrong length") }
            sections.append(UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + length)]))
            checksums.append(u64(entry + 16))
        }
        self.sections = sections
        self.checksums = checksums
        func typed<T>(_ section: SegmentLayout.Section, _: T.Type) -> UnsafeBufferPointer<T> {
            let raw = sections[section.rawValue]
            return UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: T.self), count: raw.count / MemoryLayout<T>.size)
        }
        idOffsets = typed(.idOffsets, UInt64.self)
        idText = typed(.idText, UInt8.self)
        termListStart = typed(.termListStart, UInt64.self)
        listBlocks = typed(.listBlocks, UInt32.self)
        listMaxes = typed(.listMaxes, UInt8.self)
        blockEntryStart = typed(.blockEntryStart, UInt64.self)
        entryTerms = typed(.entryTerms, UInt32.self)
        entryPostingStart = typed(.entryPostingStart, UInt32.self)
        blockPostingStart = typed(.blockPostingStart, UInt64.self)
        postings = typed(.postings, UInt8.self)
        blockDocuments = typed(.blockDocuments, UInt32.self)

        func ascending(_ offsets: UnsafeBufferPointer<UInt64>, endingAt end: Int) -> Bool {
            guard offsets.first == 0, offsets.last == UInt64(end) else { return false }
            for i in 1..<offsets.count where offsets[i] < offsets[i - 1] { return false }
            return true
        }
        guard ascending(idOffsets, endingAt: idText.count) else { throw corrupt("document id offsets") }
        guard ascending(termListStart, endingAt: h.entries) else { throw corrupt("term list offsets") }
        guard ascending(blockEntryStart, endingAt: h.entries) else { throw corrupt("block entry offsets") }
        guard ascending(blockPostingStart, endingAt: h.postings) else { throw corrupt("block posting offsets") }
        for d in 0..<h.documents where idOffsets[d + 1] == idOffsets[d] { throw corrupt("empty document id") }
        // Every document at exactly one place: the search maps places to numbers without checks.
        var placed = Deletions(documents: h.documents)
        for place in 0..<h.documents {
            let d = Int(blockDocuments[place])
            guard d < h.documents, !placed.contains(d) else { throw corrupt("block document order") }
            placed.insert(d)
        }
    }

    public var documents: Int { header.documents }
    public var fileBytes: Int { file.bytes.count }
    public var scale: ImpactScale { ImpactScale(scale: header.scale) }

    /// The stored id record of a document (kind byte + text).
    func idRecord(_ document: Int) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: idText[Int(idOffsets[document])..<Int(idOffsets[document + 1])])
    }

    public func idText(_ document: Int) -> String { DocumentId.text(of: idRecord(document)) }

    /// Whether term `t` occurs in this segment (has a block-max list).
    public func hasPostings(forTerm t: Int) -> Bool {
        t >= 0 && t + 1 < termListStart.count && termListStart[t + 1] > termListStart[t]
    }
    public func idValue(_ document: Int) -> JSONValue { DocumentId.value(of: idRecord(document)) }

    /// Full verification: checksums, then every invariant the search relies on.
    public func verify() throws(SpladeError) {
        func corrupt(_ what: String) -> SpladeError {
            SpladeError(.badInput, "corrupt index segment: \(what)", location: path, hint: "rebuild the index")
        }
        for section in SegmentLayout.Section.allCases where SegmentLayout.checksum(sections[section.rawValue]) != checksums[section.rawValue] {
            throw corrupt("checksum mismatch in section \(section)")
        }
        let h = header
        for t in 0..<h.vocabularySize {
            let range = Int(termListStart[t])..<Int(termListStart[t + 1])
            for e in range {
                guard Int(listBlocks[e]) < h.blocks, e == range.lowerBound || listBlocks[e] > listBlocks[e - 1], listMaxes[e] > 0 else {
                    throw corrupt("block-max list of term \(t)")
                }
            }
        }
        for b in 0..<h.blocks {
            let entries = Int(blockEntryStart[b])..<Int(blockEntryStart[b + 1])
            let blockPostings = Int(blockPostingStart[b + 1] - blockPostingStart[b])
            let docsInBlock = min(h.blockSize, h.documents - b * h.blockSize)
            for e in entries {
                guard Int(entryTerms[e]) < h.vocabularySize, e == entries.lowerBound || entryTerms[e] > entryTerms[e - 1],
                      Int(entryPostingStart[e]) < blockPostings,
                      e == entries.lowerBound ? entryPostingStart[e] == 0 : entryPostingStart[e] > entryPostingStart[e - 1]
                else { throw corrupt("forward index of block \(b)") }
            }
            for p in Int(blockPostingStart[b])..<Int(blockPostingStart[b + 1]) where Int(postings[2 * p]) >= docsInBlock {
                throw corrupt("posting of block \(b) names a document outside it")
            }
        }
    }
}
