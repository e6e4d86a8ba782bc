import Foundation
import Testing
@testable import SpladeCore

/// Recursive graph bisection: a permutation, deterministic, and it groups documents that share
/// terms (fewer block-term entries, i.e. tighter block maxima) without changing what a search finds.
@Suite struct ReorderingTests {
    /// Four topics of 25 terms each, documents cycling through them (so input-order blocks mix all
    /// four); each document draws 10 terms of its topic.
    static func interleavedTopics(count: Int, seed: UInt64) -> [SparseVector] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { d in
            let topic = d % 4
            let terms = Set((0..<10).map { _ in topic * 25 + Int(random.next() % 25) })
            let sorted = terms.sorted()
            return SparseVector(indices: sorted.map { Int32($0) }, values: sorted.map { _ in Float(random.next() % 100 + 1) / 50 })
        }
    }

    @Test func orderIsADeterministicPermutation() {
        let batch = IndexTestSupport.batch(Self.interleavedTopics(count: 1000, seed: 3))
        let order = DocumentReordering.bisectionOrder(batch, vocabularySize: 100, blockSize: 16, threads: 2)
        #expect(order.sorted() == Array(0..<1000))
        #expect(order == DocumentReordering.bisectionOrder(batch, vocabularySize: 100, blockSize: 16, threads: 1))
    }

    /// Splits large enough to sum their gains in parallel chunks give the order of one thread.
    @Test func parallelGainsGiveTheSequentialOrder() {
        let count = DocumentReordering.documentsForParallelGains + 1000
        let batch = IndexTestSupport.batch(Self.interleavedTopics(count: count, seed: 7))
        let sequential = DocumentReordering.bisectionOrder(batch, vocabularySize: 100, blockSize: 2048, threads: 1)
        #expect(sequential.sorted() == Array(0..<count))
        for threads in [2, 3, 4] {
            #expect(DocumentReordering.bisectionOrder(batch, vocabularySize: 100, blockSize: 2048, threads: threads) == sequential,
                    "threads \(threads)")
        }
    }

    @Test func groupsDocumentsThatShareTerms() throws {
        let vectors = Self.interleavedTopics(count: 2048, seed: 5)
        let plain = try IndexTestSupport.build(vectors, vocabulary: 100, blockSize: 32)
        let reordered = try IndexTestSupport.build(vectors, vocabulary: 100, blockSize: 32, reorder: true)
        // Input order: every block holds all 4 topics (≈ 100 distinct terms); grouped by topic a
        // block holds ≈ 25, so the block-term entries drop towards a quarter.
        let before = plain.segments[0].header.entries, after = reordered.segments[0].header.entries
        #expect(Double(after) < 0.35 * Double(before), "entries \(before) → \(after)")
        // Numbers, ids and deletions stay in input order.
        #expect((0..<2048).allSatisfy { reordered.segments[0].idText($0) == "d\($0)" })
        try reordered.verify()
    }

    @Test func aDamagedBlockOrderIsRejected() throws {
        let index = try IndexTestSupport.build(Self.interleavedTopics(count: 64, seed: 1), vocabulary: 100, blockSize: 8, reorder: true)
        let path = index.segments[0].path
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The last section is the block order: make its last entry repeat its first.
        let tableEntry = SegmentLayout.headerSize + SegmentLayout.Section.blockDocuments.rawValue * SegmentLayout.sectionEntrySize
        let offset = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: tableEntry, as: UInt64.self))) }
        for i in 0..<4 { bytes[offset + 63 * 4 + i] = bytes[offset + i] }
        let copy = path + ".damaged"
        try Data(bytes).write(to: URL(fileURLWithPath: copy))
        #expect(throws: SpladeError.self) { _ = try Segment(path: copy) }
    }
}
