import Foundation
import Testing
@testable import SpladeCore

/// The exact search against brute force over the same impacts, on random vectors (many ties) and
/// on the real splade-tiny vectors of the fixtures; the approximate mode's recall; fusion.
@Suite struct SearchTests {
    /// Brute force: every live document's integer score, sorted by (score desc, document asc).
    static func bruteForce(_ segment: Segment, deletions: Deletions? = nil, vectors: [SparseVector], query: QuantizedQuery,
                           k: Int) -> [BlockMaxSearch.Hit] {
        let weights = Dictionary(uniqueKeysWithValues: zip(query.terms, query.weights))
        var hits: [BlockMaxSearch.Hit] = []
        for (d, vector) in vectors.enumerated() where !(deletions?.contains(d) ?? false) {
            var score: UInt32 = 0
            for (term, value) in zip(vector.indices, vector.values) {
                score += (weights[UInt32(term)] ?? 0) * UInt32(segment.scale.impact(value).impact)
            }
            if score > 0 { hits.append(.init(score: score, document: d)) }
        }
        hits.sort { $0.score != $1.score ? $0.score > $1.score : $0.document < $1.document }
        return Array(hits.prefix(k))
    }

    @Test(arguments: [(1, 10), (7, 1), (32, 10), (64, 100), (256, 1000)], [false, true])
    func exactSearchEqualsBruteForce(blockSize: (Int, Int), reorder: Bool) throws {
        let (blockSize, k) = blockSize
        let vectors = IndexTestSupport.randomVectors(count: 1500, vocabulary: 400, terms: 1...40, seed: UInt64(blockSize))
        let queries = IndexTestSupport.randomVectors(count: 40, vocabulary: 400, terms: 1...12, seed: 99)
        let index = try IndexTestSupport.build(vectors, vocabulary: 400, blockSize: blockSize, reorder: reorder)
        let scratch = BlockMaxSearch.Scratch()
        for query in queries.map(QuantizedQuery.init) {
            let exact = BlockMaxSearch.search(index.segments[0], deletions: nil, query: query, k: k, alpha: 1, scratch: scratch)
            #expect(exact == Self.bruteForce(index.segments[0], vectors: vectors, query: query, k: k))
        }
    }

    @Test(arguments: [false, true])
    func deletedDocumentsNeverAppearAndTheRestStaysExact(reorder: Bool) throws {
        let vectors = IndexTestSupport.randomVectors(count: 600, vocabulary: 200, terms: 1...30, seed: 7)
        let index = try IndexTestSupport.build(vectors, vocabulary: 200, blockSize: 16, reorder: reorder)
        var deletions = Deletions(documents: 600)
        for d in stride(from: 0, to: 600, by: 3) { deletions.insert(d) }
        let scratch = BlockMaxSearch.Scratch()
        for query in IndexTestSupport.randomVectors(count: 20, vocabulary: 200, terms: 1...8, seed: 8).map(QuantizedQuery.init) {
            let hits = BlockMaxSearch.search(index.segments[0], deletions: deletions, query: query, k: 25, alpha: 1, scratch: scratch)
            #expect(hits == Self.bruteForce(index.segments[0], deletions: deletions, vectors: vectors, query: query, k: 25))
        }
    }

    /// Real vectors: the 40 Cranfield documents and 20 queries of the splade-tiny fixture. The exact
    /// search equals brute force over impacts, and its scores are within the documented bound of
    /// the float dot product: scale/2 · Σ q (plus float rounding).
    @Test(.enabled(if: Fixtures.available, "needs ../shared/fixtures"), arguments: [false, true])
    func realVectorsExactAndWithinTheQuantisationBound(reorder: Bool) throws {
        let reference = try Safetensors.read(Fixtures.path("splade-tiny-en/vectors.safetensors"))
        let offsets = reference["offsets"]!.values.map { Int($0) }
        let indices = reference["indices"]!.values, values = reference["values"]!.values
        let vectors = (0..<60).map { i in
            SparseVector(indices: (offsets[i]..<offsets[i + 1]).map { Int32(indices[$0]) }, values: Array(values[offsets[i]..<offsets[i + 1]]))
        }
        let documents = Array(vectors[0..<40]), queries = Array(vectors[40..<60])
        let index = try IndexTestSupport.build(documents, vocabulary: 30522, blockSize: 8, reorder: reorder)
        let segment = index.segments[0]
        let scratch = BlockMaxSearch.Scratch()
        for queryVector in queries {
            let query = QuantizedQuery(queryVector)
            let hits = BlockMaxSearch.search(segment, deletions: nil, query: query, k: 40, alpha: 1, scratch: scratch)
            #expect(hits == Self.bruteForce(segment, vectors: documents, query: query, k: 40))
            let bound = Double(segment.scale.scale) / 2 * queryVector.values.reduce(0) { $0 + Double($1) }
            for hit in hits {
                let exact = zip(documents[hit.document].indices, documents[hit.document].values).reduce(0.0) { sum, entry in
                    guard let j = queryVector.indices.firstIndex(of: entry.0) else { return sum }
                    return sum + Double(entry.1) * Double(queryVector.values[j])
                }
                #expect(abs(query.score(hit.score, scale: segment.scale) - exact) <= bound * 1.001 + 1e-6)
            }
        }
    }

    @Test func approximateSearchTradesRecallForWork() throws {
        let vectors = IndexTestSupport.randomVectors(count: 4000, vocabulary: 800, terms: 5...60, seed: 11)
        let index = try IndexTestSupport.build(vectors, vocabulary: 800, blockSize: 32)
        let scratch = BlockMaxSearch.Scratch()
        var recall: [Double: Double] = [:]
        let queries = IndexTestSupport.randomVectors(count: 30, vocabulary: 800, terms: 3...15, seed: 12).map(QuantizedQuery.init)
        for alpha in [1.0, 0.9, 0.5] {
            var found = 0, total = 0
            for query in queries {
                let exact = Set(BlockMaxSearch.search(index.segments[0], deletions: nil, query: query, k: 10, alpha: 1, scratch: scratch).map(\.document))
                let approximate = BlockMaxSearch.search(index.segments[0], deletions: nil, query: query, k: 10, alpha: alpha, scratch: scratch)
                #expect(zip(approximate, approximate.dropFirst()).allSatisfy { $0.score >= $1.score })
                found += approximate.filter { exact.contains($0.document) }.count
                total += exact.count
            }
            recall[alpha] = Double(found) / Double(total)
        }
        #expect(recall[1.0] == 1)
        #expect(recall[0.9]! <= 1 && recall[0.5]! <= recall[0.9]!)
    }

    @Test func shardsMergeToTheExactTopKOfTheUnion() throws {
        let vectors = IndexTestSupport.randomVectors(count: 900, vocabulary: 300, terms: 1...30, seed: 21)
        let whole = try IndexTestSupport.build(vectors, vocabulary: 300, blockSize: 32)
        // Shard ids as the whole's (d0 … d899): the second shard's documents are numbered from 300.
        let shards = try [0..<300, 300..<900].map { range in
            try IndexTestSupport.build(Array(vectors[range]), vocabulary: 300, blockSize: 16, firstId: range.lowerBound)
        }
        let merged = ShardedSearch(shards: shards), single = ShardedSearch(shards: [whole])
        let scratch = BlockMaxSearch.Scratch()
        for query in IndexTestSupport.randomVectors(count: 15, vocabulary: 300, terms: 1...8, seed: 22).map(QuantizedQuery.init) {
            let a = single.search(query, k: 20, alpha: 1, scratch: scratch)
            let b = merged.search(query, k: 20, alpha: 1, scratch: scratch)
            // Scales differ between the shards and the whole, so compare the score multisets loosely
            // and the ids where scores are clearly apart.
            #expect(a.count == b.count)
            let scale = Double(whole.segments[0].scale.scale) * query.weights.reduce(0) { $0 + Double($1) } * query.unit
            for (x, y) in zip(a, b) { #expect(abs(x.score - y.score) <= scale) }
        }
    }

    /// A build under a memory limit makes several segments with one scale; searched as one (their blocks in one order,
    /// their documents numbered on), they give exactly what the one-segment index gives: the same documents, scores
    /// and order, ties included (coarse weights make many), at every k.
    @Test(arguments: [false, true])
    func segmentsOfALimitedBuildSearchAsOneSegment(reorder: Bool) throws {
        let vectors = IndexTestSupport.randomVectors(count: 1200, vocabulary: 300, terms: 1...30, seed: 31)
        let whole = try IndexTestSupport.build(vectors, vocabulary: 300, blockSize: 16, reorder: reorder)
        let path = try IndexTestSupport.temporaryDirectory() + "/idx"
        let spool = DocumentSpool(generation: try GenerationBuilder(directory: path, lock: try IndexTestSupport.lock(path)),
                                  memoryLimit: 40_000)
        for (i, vector) in vectors.enumerated() { try spool.append(id: .string("d\(i)"), vector: vector) }
        let settings = IndexSettings(kind: .splade, vocabularySize: 300, fingerprint: 42, tokens: nil, blockSize: 16, reorder: reorder)
        #expect(try IndexUpdate.build(spool, settings: settings).segments == 5)
        let limited = try IndexSnapshot(directory: path)
        let one = ShardedSearch(shards: [whole]), several = ShardedSearch(shards: [limited])
        let scratch = BlockMaxSearch.Scratch()
        for query in IndexTestSupport.randomVectors(count: 30, vocabulary: 300, terms: 1...8, seed: 32).map(QuantizedQuery.init) {
            for k in [1, 10, 100] {
                let expected = one.search(query, k: k, alpha: 1, scratch: scratch).map { (one.id(of: $0), $0.score) }
                let found = several.search(query, k: k, alpha: 1, scratch: scratch).map { (several.id(of: $0), $0.score) }
                #expect(found.map(\.0) == expected.map(\.0) && found.map(\.1) == expected.map(\.1), "k \(k)")
            }
        }
    }

    /// Shards that overlap (documents 300 … 599 in both): each id once, at its best score, and still the top k.
    @Test func overlappingShardsGiveEachDocumentOnce() throws {
        let vectors = IndexTestSupport.randomVectors(count: 900, vocabulary: 300, terms: 1...30, seed: 23)
        let shards = try [0..<600, 300..<900].map { range in
            try IndexTestSupport.build(Array(vectors[range]), vocabulary: 300, blockSize: 16, firstId: range.lowerBound)
        }
        let whole = try IndexTestSupport.build(vectors, vocabulary: 300, blockSize: 16)
        let merged = ShardedSearch(shards: shards), single = ShardedSearch(shards: [whole])
        let scratch = BlockMaxSearch.Scratch()
        for query in IndexTestSupport.randomVectors(count: 15, vocabulary: 300, terms: 1...8, seed: 24).map(QuantizedQuery.init) {
            let ids = merged.search(query, k: 50, alpha: 1, scratch: scratch).map { merged.id(of: $0) }
            #expect(Set(ids).count == ids.count)
            #expect(ids.count == single.search(query, k: 50, alpha: 1, scratch: scratch).count)
        }
    }

    @Test func fusionRanksByReciprocalRankAndNormalisedSum() {
        func item(_ id: String, _ score: Double) -> Fusion.Item { .init(id: .string(id), key: id, score: score) }
        let first = [item("a", 10), item("b", 5), item("c", 1)], second = [item("c", 3), item("a", 2)]
        let rrf = Fusion.reciprocalRank(c: 60).fuse([first, second], weights: [1, 1], k: 10)
        #expect(rrf.map(\.key) == ["a", "c", "b"])
        #expect(abs(rrf[0].score - (1.0 / 61 + 1.0 / 62)) < 1e-12)
        let sum = Fusion.weightedSum.fuse([first, second], weights: [1, 2], k: 2)
        // a: 1 + 2·0 = 1; c: 0 + 2·1 = 2; b: 4/9.
        #expect(sum.map(\.key) == ["c", "a"])
    }

    @Test func queryQuantisationKeepsScoresInAUInt32() {
        let query = QuantizedQuery(SparseVector(indices: Array(0..<2000), values: (0..<2000).map { Float($0 % 17) + 0.5 }))
        let total = query.weights.reduce(UInt64(0)) { $0 + UInt64($1) }
        #expect(total * 255 < UInt64(UInt32.max))
        #expect(QuantizedQuery(SparseVector()).isEmpty)
    }
}
