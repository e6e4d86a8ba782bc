/// The on-disk layout of one index segment (`seg-NNNNNN.spi`): a block-max impact index in the
/// style of BMP (Mallia et al., SIGIR 2024), read through mmap without loading it whole.
///
/// Documents are cut into blocks of `blockSize` documents, in the order of `blockDocuments`: input
/// order, or an order that groups similar documents (`DocumentReordering`). A document's number —
/// what ids, deletions and tie-breaking use — stays its place in the input. For each term the segment
/// keeps the blocks it occurs in with its largest impact there (the block-max list: the upper
/// bounds that decide which blocks are worth scoring), and for each block a small forward index
/// (the block's terms, each with its (document-in-block, impact) postings) that scores a block
/// exactly. Impacts are 8-bit (see `ImpactScale`).
///
///     header   64 bytes
///       magic "SPLADEIX" · u32 format version (2) · u32 block size (1…256)
///       · u64 documents · u64 blocks · u64 block-term entries E · u64 postings P
///       · u32 vocabulary size · f32 impact scale (weight per impact unit) · u64 vocabulary fingerprint
///     section table   `Section.allCases.count` × (u64 offset · u64 length · u64 checksum)
///     sections, each starting on an 8-byte boundary, in `Section` order:
///       idOffsets         u64[documents + 1]   byte ranges of the ids in idText
///       idText            u8[…]                each id as JSON text ("q1" or 42), as given
///       termListStart     u64[vocabulary + 1]  each term's range in listBlocks / listMaxes
///       listBlocks        u32[E]               blocks holding the term, ascending
///       listMaxes         u8[E]                the term's largest impact in that block
///       blockEntryStart   u64[blocks + 1]      each block's range in entryTerms / entryPostingStart
///       entryTerms        u32[E]               the block's terms, ascending
///       entryPostingStart u32[E]               where the term's postings start, relative to the block's
///       blockPostingStart u64[blocks + 1]      each block's range of postings
///       postings          u8[2 P]              (document in block, impact) pairs, by term then document
///       blockDocuments    u32[documents]       the number of the document at each place of the blocks
///
/// All integers are little-endian. The checksum of a section is `SegmentLayout.checksum` of its
/// bytes; `splade-index --check` verifies them, opening a segment checks only the structure.
public enum SegmentLayout {
    public static let magic: [UInt8] = Array("SPLADEIX".utf8)
    public static let version: UInt32 = 2
    public static let headerSize = 64
    public static let sectionEntrySize = 24
    /// Blocks hold at most 256 documents so a document's place in its block fits a byte.
    public static let maxBlockSize = 256

    public enum Section: Int, CaseIterable, Sendable {
        case idOffsets, idText, termListStart, listBlocks, listMaxes, blockEntryStart, entryTerms,
             entryPostingStart, blockPostingStart, postings, blockDocuments
    }

    public static var tableSize: Int { Section.allCases.count * sectionEntrySize }

    /// A 64-bit checksum: FNV-1a over little-endian 8-byte words (the tail byte by byte), fast
    /// enough to verify gigabytes in `--check`; it detects corruption, not tampering.
    public static func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = bytes.count / 8
        for i in 0..<words {
            h = (h ^ UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) &* 0x100_0000_01b3
        }
        for i in (8 * words)..<bytes.count { h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01b3 }
        return h
    }
}

/// The fixed-size facts at the start of a segment.
public struct SegmentHeader: Sendable, Equatable {
    public var blockSize: Int
    public var documents: Int
    public var blocks: Int
    public var entries: Int
    public var postings: Int
    public var vocabularySize: Int
    public var scale: Float
    public var fingerprint: UInt64
}

/// Little-endian serialisation into a growing byte buffer.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append<T: FixedWidthInteger>(contentsOf values: [T]) {
        #if _endian(little)
        values.withUnsafeBytes { bytes.append(contentsOf: $0) }
        #else
        for value in values { append(value) }
        #endif
    }
}
