import Foundation
import Testing
@testable import SpladeCore

/// Helpers shared by the index and search tests.
enum IndexTestSupport {
    /// The lock of an index the test builds or updates, tried again for up to two seconds while it is held: while
    /// another test's thread spawns a tool, the child holds a copy of every descriptor until it execs, a lock just
    /// released by this thread included. A lock never released still fails the test.
    static func lock(_ directory: String) throws -> IndexLock {
        for _ in 0..<100 {
            do {
                return try IndexLock(directory: directory, wait: false)
            } catch {
                guard error.kind == .tempFail else { throw error }
                usleep(20_000)
            }
        }
        return try IndexLock(directory: directory, wait: false)
    }

    /// Adds documents already read to the index at `directory`, as one new segment.
    static func add(_ documents: DocumentBatch, fingerprint: UInt64, source: String? = nil, directory: String,
                    lock: IndexLock) throws -> IndexUpdateSummary {
        let snapshot = try IndexUpdate.indexToAddTo(directory: directory)
        let spool = DocumentSpool(documents, generation: try GenerationBuilder(directory: directory, lock: lock))
        return try IndexUpdate.add(spool, to: snapshot, fingerprint: fingerprint, source: source)
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "splade-index-test-\(UUID())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Random sparse vectors with a Zipf-like term distribution and coarse weights (many ties).
    static func randomVectors(count: Int, vocabulary: Int, terms: ClosedRange<Int>, seed: UInt64) -> [SparseVector] {
        var random = SeededRandom(seed: seed)
        return (0..<count).map { _ in
            let n = Int.random(in: terms, using: &random)
            var chosen = Set<Int32>()
            while chosen.count < n {
                let u = Double.random(in: 0..<1, using: &random)
                chosen.insert(Int32(Double(vocabulary) * u * u))
            }
            let indices = chosen.sorted()
            return SparseVector(indices: indices, values: indices.map { _ in Float(Int.random(in: 1...40, using: &random)) / 10 })
        }
    }

    /// Documents "d0", "d1", … (numbered from `firstId`).
    static func batch(_ vectors: [SparseVector], idPrefix: String = "d", firstId: Int = 0) -> DocumentBatch {
        var documents = DocumentBatch()
        for (i, vector) in vectors.enumerated() { documents.append(id: .string("\(idPrefix)\(firstId + i)"), vector: vector) }
        return documents
    }

    /// Builds a one-segment index of `vectors` in a new directory.
    static func build(_ vectors: [SparseVector], vocabulary: Int, blockSize: Int, reorder: Bool = false,
                      directory: String? = nil, firstId: Int = 0) throws -> IndexSnapshot {
        let path = try directory ?? temporaryDirectory() + "/idx"
        let lock = try IndexTestSupport.lock(path)
        let settings = IndexSettings(kind: .splade, vocabularySize: vocabulary, fingerprint: 42, tokens: nil, blockSize: blockSize,
                                     reorder: reorder)
        _ = try IndexUpdate.build(batch(vectors, firstId: firstId), settings: settings, directory: path, lock: lock)
        return try IndexSnapshot(directory: path)
    }

    /// A new index of `count` random documents "d0"… (vocabulary 50, blocks of 8), and the lock to update it under.
    static func lockedIndex(count: Int, seed: UInt64) throws -> (directory: String, lock: IndexLock) {
        let directory = try temporaryDirectory() + "/idx"
        _ = try build(randomVectors(count: count, vocabulary: 50, terms: 1...5, seed: seed), vocabulary: 50, blockSize: 8, directory: directory)
        return (directory, try IndexTestSupport.lock(directory))
    }
}

@Suite struct IndexFormatTests {
    @Test func segmentRoundTripsIdsAndVerifies() throws {
        let vectors = IndexTestSupport.randomVectors(count: 300, vocabulary: 500, terms: 1...30, seed: 1)
        let index = try IndexTestSupport.build(vectors, vocabulary: 500, blockSize: 16)
        #expect(index.manifest.documents == 300 && index.manifest.fingerprint == 42)
        let segment = index.segments[0]
        #expect(segment.header.blocks == 19)
        #expect((0..<300).allSatisfy { segment.idText($0) == "d\($0)" })
        try index.verify()
    }

    @Test func impactScaleBoundsTheRoundingError() {
        let scale = ImpactScale(largestWeight: 3.7)
        #expect(scale.impact(3.7).impact == 255)
        for w in stride(from: Float(0), through: 3.7, by: 0.01) {
            let (impact, clamped) = scale.impact(w)
            #expect(!clamped && abs(Float(impact) * scale.scale - w) <= scale.scale / 2 * 1.0001)
        }
        #expect(scale.impact(8).clamped)
    }

    @Test func truncatedOrCorruptSegmentsAreRejectedNotCrashed() throws {
        let vectors = IndexTestSupport.randomVectors(count: 200, vocabulary: 300, terms: 1...20, seed: 2)
        let index = try IndexTestSupport.build(vectors, vocabulary: 300, blockSize: 32)
        let path = index.segments[0].path
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        let copy = NSTemporaryDirectory() + "splade-seg-\(UUID()).spi"
        defer { try? FileManager.default.removeItem(atPath: copy) }
        for cut in [0, 10, 63, 200, original.count / 2, original.count - 1] {
            try original.prefix(cut).write(to: URL(fileURLWithPath: copy))
            #expect(throws: SpladeError.self) { _ = try Segment(path: copy) }
        }
        // Random byte flips: either opening or verification reports it, and searching whatever
        // opens never crashes.
        var random = SeededRandom(seed: 3)
        let query = QuantizedQuery(vectors[0])
        let scratch = BlockMaxSearch.Scratch()
        for _ in 0..<300 {
            var bytes = [UInt8](original)
            for _ in 0..<4 { bytes[Int.random(in: 0..<bytes.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random) }
            try Data(bytes).write(to: URL(fileURLWithPath: copy))
            guard let segment = try? Segment(path: copy) else { continue }
            _ = BlockMaxSearch.search(segment, deletions: nil, query: query, k: 10, alpha: 1, scratch: scratch)
            #expect(throws: SpladeError.self) { try segment.verify() }
        }
    }

    @Test func manifestAndDeletionsRoundTrip() throws {
        let directory = try IndexTestSupport.temporaryDirectory()
        let manifest = IndexManifest(kind: .bm25, vocabularySize: 7, fingerprint: 0xFEDC_BA98_7654_3210, vocabularyFile: "vocab.txt",
                                     blockSize: 8, reordered: true, scale: 0.25, bm25: .init(k1: 0.9, b: 0.4, averageLength: 12.5),
                                     segments: [.init(file: "seg-000001.spi", documents: 10, deleted: 2, deletionsFile: "seg-000001.del")])
        try Data(manifest.json()).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        let read = try IndexManifest(path: directory + "/manifest.json")
        #expect(read.kind == .bm25 && read.fingerprint == manifest.fingerprint && read.documents == 8 && read.scale == 0.25)
        #expect(read.reordered)
        #expect(read.bm25 == manifest.bm25 && read.segments[0].deletionsFile == "seg-000001.del")
        // Edited counts or parameters are a corrupt manifest (65), never a trap: a negative document count, BM25
        // parameters outside what splade-index accepts, another segment's deletions, a segment file not named as one.
        let text = String(decoding: manifest.json(), as: UTF8.self)
        for (from, to) in [("\"documents\":10", "\"documents\":-1"), ("\"k1\":0.9", "\"k1\":-1e400"), ("\"b\":0.4", "\"b\":2"),
                         ("seg-000001.del", "seg-000002.del"), ("seg-000001.spi", "seg-000001.idx")] {
            #expect(text.contains(from), "\(from) in \(text)")
            try text.replacingOccurrences(of: from, with: to).write(toFile: directory + "/edited.json", atomically: false, encoding: .utf8)
            #expect(throws: SpladeError.self, "\(to)") { _ = try IndexManifest(path: directory + "/edited.json") }
        }
        // One segment listed twice would search its documents twice.
        var twice = manifest
        twice.segments.append(twice.segments[0])
        try Data(twice.json()).write(to: URL(fileURLWithPath: directory + "/twice.json"))
        let error = #expect(throws: SpladeError.self) { _ = try IndexManifest(path: directory + "/twice.json") }
        #expect(error?.message == "corrupt index manifest: segment seg-000001.spi is listed twice")

        var deletions = Deletions(documents: 100)
        for d in [3, 64, 99, 3] { deletions.insert(d) }
        try Data(deletions.serialized()).write(to: URL(fileURLWithPath: directory + "/d.del"))
        let back = try Deletions(path: directory + "/d.del", documents: 100)
        #expect(back.count == 3 && back.documents == [3, 64, 99])
        #expect(throws: SpladeError.self) { _ = try Deletions(path: directory + "/d.del", documents: 50) }
    }

    @Test func generationsSwapAndAddDeleteKeepOldSegments() throws {
        let directory = try IndexTestSupport.temporaryDirectory() + "/idx"
        let first = IndexTestSupport.randomVectors(count: 50, vocabulary: 100, terms: 1...10, seed: 4)
        _ = try IndexTestSupport.build(first, vocabulary: 100, blockSize: 8, directory: directory)
        let lock = try IndexTestSupport.lock(directory)
        // Adding d0…d9 again (new vectors) replaces the old d0…d9.
        let more = IndexTestSupport.randomVectors(count: 10, vocabulary: 100, terms: 1...10, seed: 5)
        let added = try IndexTestSupport.add(IndexTestSupport.batch(more), fingerprint: 42, directory: directory, lock: lock)
        #expect(added.added == 10 && added.deleted == 10 && added.documents == 50)
        let deleted = try IndexUpdate.delete(ids: ["d20", "d21", "nope"], directory: directory, lock: lock)
        #expect(deleted.deleted == 2 && deleted.documents == 48)
        let snapshot = try IndexSnapshot(directory: directory)
        #expect(snapshot.generation == "gen-000003" && snapshot.segments.count == 2)
        try snapshot.verify()
        // Only the live generation and the one before it are kept.
        let generations = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("gen-") }.sorted()
        #expect(generations == ["gen-000002", "gen-000003"])
        let mismatch = #expect(throws: SpladeError.self) {
            _ = try IndexTestSupport.add(IndexTestSupport.batch(more), fingerprint: 7, source: "new.vec", directory: directory, lock: lock)
        }
        #expect(mismatch?.location == "new.vec" && mismatch?.message.contains("another vocabulary") == true)
    }

    /// A generation whose CURRENT cannot be written (here a directory stands at CURRENT.tmp) is not left beside the
    /// live one: the index stays as it was, with nothing new in its directory.
    @Test func aFailedSwapOfCurrentLeavesTheIndexAsItWas() throws {
        let (directory, lock) = try IndexTestSupport.lockedIndex(count: 20, seed: 6)
        try FileManager.default.createDirectory(atPath: directory + "/CURRENT.tmp", withIntermediateDirectories: false)
        let before = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        #expect(throws: SpladeError.self) {
            _ = try IndexUpdate.delete(ids: ["d3"], directory: directory, lock: lock)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).sorted() == before)
        #expect(try IndexSnapshot(directory: directory).manifest.documents == 20)
    }

    /// A segment whose documents are all deleted leaves the new generation whole: no file of it stays there, and the
    /// summary's size counts only what is kept.
    @Test func aWhollyDeletedSegmentLeavesNoFileBehind() throws {
        let (directory, lock) = try IndexTestSupport.lockedIndex(count: 20, seed: 8)
        let more = IndexTestSupport.randomVectors(count: 5, vocabulary: 50, terms: 1...5, seed: 9)
        _ = try IndexTestSupport.add(IndexTestSupport.batch(more, idPrefix: "n"), fingerprint: 42, directory: directory, lock: lock)
        let summary = try IndexUpdate.delete(ids: Set((0..<20).map { ExactID("d\($0)") }), directory: directory, lock: lock)
        let snapshot = try IndexSnapshot(directory: directory)
        #expect(summary.documents == 5 && summary.segments == 1 && summary.bytes == snapshot.fileBytes)
        #expect(try FileManager.default.contentsOfDirectory(atPath: snapshot.path).sorted() == ["manifest.json", "seg-000002.spi"])
        try snapshot.verify()
    }

    /// --min-documents with --delete: a list that would leave fewer live documents changes nothing.
    @Test func aDeletionLeavingTooFewDocumentsIsRefused() throws {
        let (directory, lock) = try IndexTestSupport.lockedIndex(count: 10, seed: 7)
        let all = Set((0..<10).map { ExactID("d\($0)") })
        let refused = #expect(throws: SpladeError.self) {
            _ = try IndexUpdate.delete(ids: all, minimumLive: 1, directory: directory, lock: lock)
        }
        #expect(refused?.kind == .badInput && refused?.message.contains("would leave 0, fewer than --min-documents 1") == true)
        #expect(try IndexSnapshot(directory: directory).generation == "gen-000001")
        #expect(try IndexUpdate.delete(ids: ["d1", "d2"], minimumLive: 8, directory: directory, lock: lock).documents == 8)
    }

    @Test func aSecondLockOnTheSameIndexIsATemporaryFailure() throws {
        let directory = try IndexTestSupport.temporaryDirectory() + "/idx"
        let held = try IndexLock(directory: directory, wait: false)
        // flock locks belong to open file descriptions, so a second open in this process conflicts too.
        #expect {
            _ = try IndexLock(directory: directory, wait: false)
        } throws: { ($0 as? SpladeError)?.kind == .tempFail }
        _ = held
    }

    /// The weights, whether the counts stayed in memory or were spilled (a limit of one document per batch).
    @Test(arguments: [Int.max, 1])
    func bm25WeightsFollowTheFormula(memoryLimit: Int) throws {
        let directory = try IndexTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lock = try IndexTestSupport.lock(directory)
        let spool = DocumentSpool(generation: try GenerationBuilder(directory: directory, lock: lock), memoryLimit: memoryLimit)
        var collection = BM25Collection(vocabularySize: 10, documents: spool)
        try collection.append(id: .string("a"), tokens: [0, 5, 5, 6, 1], ignoring: [0, 1])  // length 3
        try collection.append(id: .string("b"), tokens: [0, 6, 7, 1], ignoring: [0, 1])     // length 2
        let averageLength = try collection.weigh(k1: 0.9, b: 0.4)
        #expect(averageLength == 2.5)
        #expect(spool.segments == (memoryLimit == 1 ? 2 : 1))
        func bm25(tf: Double, df: Double, length: Double) -> Float {
            let idf = log(1 + (2 - df + 0.5) / (df + 0.5))
            return Float(idf * tf * 1.9 / (tf + 0.9 * (0.6 + 0.4 * length / 2.5)))
        }
        let expected = [bm25(tf: 2, df: 1, length: 3), bm25(tf: 1, df: 2, length: 3), bm25(tf: 1, df: 2, length: 2), bm25(tf: 1, df: 1, length: 2)]
        #expect(spool.largestWeight == expected.max())
        var batches: [Int: DocumentBatch] = [:]
        try spool.drain { place, batch in batches[place] = batch }
        var documents = DocumentBatch()
        for place in batches.keys.sorted() {
            let batch = batches[place]!
            for d in 0..<batch.count {
                let postings = batch.postings(of: d)
                documents.append(id: .string(batch.idText(d)),
                                 vector: SparseVector(indices: batch.terms[postings].map(Int32.init), values: Array(batch.weights[postings])))
            }
        }
        #expect(documents.idText(0) == "a" && documents.idText(1) == "b")
        let a = documents.postings(of: 0), b = documents.postings(of: 1)
        #expect(Array(documents.terms[a]) == [5, 6] && Array(documents.terms[b]) == [6, 7])
        for (got, want) in zip(documents.weights, expected) { #expect(abs(got - want) < 1e-6) }
    }
}
