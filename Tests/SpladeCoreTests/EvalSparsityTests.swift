import Foundation
import Testing
@testable import SpladeCore

/// Sparsity statistics of vector streams: L0 distribution, mean weight, entries used, expected FLOPs.
struct EvalSparsityTests {
    /// Queries: L0 2, 1, 2 (q3's explicit zero is no entry); weights 0.5+1.5+2+1+1 over 5 entries.
    let queryLines = """
        {"id":"q1","vector":{"1":0.5,"2":1.5}}
        {"id":"q2","vector":{"2":2.0}}
        {"id":3,"vector":{"3":1.0,"1":1.0,"7":0}}

        """
    /// Documents: L0 4, 1; weights 4 × 1 + 0.5 over 5 entries.
    let documentLines = """
        {"id":"d1","vector":{"1":1,"2":1,"3":1,"4":1}}
        {"id":"d2","vector":{"2":0.5}}

        """

    func temporaryFile(_ bytes: [UInt8], suffix: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sparsity-\(UUID().uuidString).\(suffix)").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func statistics(jsonLines text: String) throws -> SparsityStatistics {
        let path = try temporaryFile(Array(text.utf8), suffix: "jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try SparsityStatistics(reading: try VectorReader(path: path, keys: .ids(vocabularySize: nil)))
    }

    func vector(_ entries: [(Int32, Float)]) -> SparseVector {
        SparseVector(indices: entries.map(\.0), values: entries.map(\.1))
    }

    @Test func handComputedStatisticsOfJSONLinesKeyedByIds() throws {
        let q = try statistics(jsonLines: queryLines)
        #expect(q.vectors == 3)
        #expect(q.l0Mean == 5.0 / 3)
        #expect(q.l0Median == 2)
        #expect(q.l0P95 == 2)  // virtual index 0.95 × 2 = 1.9, between 2 and 2
        #expect(q.meanWeight == 6.0 / 5)
        #expect(q.entries == [1, 2, 3] && q.entryVectors == [2, 2, 1])
        #expect(q.entriesUsed == 3)

        let d = try statistics(jsonLines: documentLines)
        #expect(d.vectors == 2)
        #expect(d.l0Mean == 2.5 && d.l0Median == 2.5)
        #expect(d.l0P95 == 3.8499999999999996)  // np.percentile([1, 4], 95)
        #expect(d.meanWeight == 4.5 / 5)
        #expect(d.entriesUsed == 4)

        // p_q = {1: 2/3, 2: 2/3, 3: 1/3}, p_d = {1: 1/2, 2: 1, 3: 1/2, 4: 1/2}: 1/3 + 2/3 + 1/6 = 7/6.
        let flops = try #require(SparsityStatistics.expectedFLOPs(queries: q, documents: d))
        #expect(abs(flops - 7.0 / 6) < 1e-15)
    }

    @Test func theBinaryStreamGivesTheSameStatistics() throws {
        let encoder = VectorStreamEncoder(header: VectorStreamHeader(vocabularySize: 8, fingerprint: 42))
        var bytes: [UInt8] = []
        bytes += encoder.encode(VectorRecord(id: .string("q1"), vector: vector([(1, 0.5), (2, 1.5)])))
        bytes += encoder.encode(VectorRecord(id: .string("q2"), vector: vector([(2, 2)])))
        bytes += encoder.encode(VectorRecord(id: .number("3"), vector: vector([(1, 1), (3, 1), (7, 0)])))
        bytes += encoder.finish()
        let path = try temporaryFile(bytes, suffix: "vec")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let reader = try VectorReader(path: path, keys: .ids(vocabularySize: nil))
        #expect(reader.header == VectorStreamHeader(vocabularySize: 8, fingerprint: 42))
        let binary = try SparsityStatistics(reading: reader)
        let json = try statistics(jsonLines: queryLines)
        // An explicit zero weight in the stream is no entry either.
        #expect(binary.vectors == 3 && binary.l0Mean == json.l0Mean && binary.l0Median == json.l0Median && binary.l0P95 == json.l0P95)
        #expect(binary.meanWeight == json.meanWeight)
        #expect(binary.entries == json.entries && binary.entryVectors == json.entryVectors)
    }

    @Test(arguments: [
        // (values, numpy's percentile(·, 95), median): the expected values are numpy 2.4's, to the bit.
        ([1, 4], 3.8499999999999996, 2.5),
        ([3], 3.0, 3.0),
        ([0, 0, 1], 0.8999999999999999, 0.0),
        ([5, 1, 4, 2, 3, 9, 7], 8.399999999999999, 4.0),
        (Array(stride(from: 10, through: 240, by: 10)), 228.49999999999997, 125.0),
    ])
    func percentilesAreNumpysLinearInterpolation(values: [Int], p95: Double, median: Double) {
        let sorted = values.sorted().map(Double.init)
        #expect(SparsityStatistics.percentile(sorted, 0.95) == p95)
        #expect(SparsityStatistics.percentile(sorted, 0.5) == median)
        #expect(SparsityStatistics.percentile(sorted, 0) == sorted.first)
        #expect(SparsityStatistics.percentile(sorted, 1) == sorted.last)
        #expect(SparsityStatistics.percentile([], 0.95) == nil)
    }

    /// The expected FLOPs is the mean, over every query–document pair, of the entries both use.
    @Test func expectedFLOPsIsTheMeanOverlapOfAllPairs() {
        var state: UInt64 = 7
        func random(_ bound: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(bound))
        }
        func vectors(_ count: Int, vocabulary: Int, maxL0: Int) -> [SparseVector] {
            (0..<count).map { _ in
                let ids = Set((0..<random(maxL0 + 1)).map { _ in Int32(random(vocabulary)) }).sorted()
                return SparseVector(indices: ids, values: ids.map { _ in Float(random(100) + 1) / 10 })
            }
        }
        // A few ids beyond the dense table's range go through its dictionary.
        let far = SparsityAccumulator.denseLimit + 5
        let queries = vectors(17, vocabulary: 40, maxL0: 6) + [vector([(3, 1), (far, 2)])]
        let documents = vectors(23, vocabulary: 40, maxL0: 15) + [vector([(far, 1)])]
        var q = SparsityAccumulator(), d = SparsityAccumulator()
        queries.forEach { q.add($0) }
        documents.forEach { d.add($0) }
        var overlap = 0
        for a in queries {
            for b in documents { overlap += Set(a.indices).intersection(b.indices).count }
        }
        let expected = Double(overlap) / Double(queries.count * documents.count)
        let flops = SparsityStatistics.expectedFLOPs(queries: q.statistics(name: "q"), documents: d.statistics(name: "d"))
        #expect(abs(flops! - expected) < 1e-12, "\(flops!) vs \(expected)")
        #expect(q.statistics(name: "q").entries.last == far)
        #expect(q.statistics(name: "q").entriesUsed == Set(queries.flatMap(\.indices)).count)
    }

    @Test func anEmptyStreamHasNoL0AndNoFLOPs() throws {
        let empty = SparsityAccumulator().statistics(name: "e")
        #expect(empty.vectors == 0 && empty.l0Mean == nil && empty.l0Median == nil && empty.l0P95 == nil && empty.meanWeight == nil)
        var zeros = SparsityAccumulator()
        zeros.add(SparseVector())
        let blank = zeros.statistics(name: "z")
        #expect(blank.vectors == 1 && blank.l0Mean == 0 && blank.l0P95 == 0 && blank.meanWeight == nil && blank.entriesUsed == 0)
        #expect(SparsityStatistics.expectedFLOPs(queries: empty, documents: blank) == nil)
        #expect(SparsityStatistics.expectedFLOPs(queries: blank, documents: blank) == 0)
        let report = SparsityReport(queries: empty, documents: blank)
        let json = try JSON.parse(report.json())
        #expect(json["queries"]?["l0"]?["p95"].map { if case .null = $0 { true } else { false } } == true)
        #expect(json["expected_flops"].map { if case .null = $0 { true } else { false } } == true)
        #expect(report.table().contains("expected FLOPs per query-document product: n/a"))
    }

    @Test func reportTableAndJSON() throws {
        let report = SparsityReport(queries: try statistics(jsonLines: queryLines), documents: try statistics(jsonLines: documentLines))
        let lines = report.table().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func cells(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }
        #expect(cells(lines[0]) == ["file", "vectors", "L0", "mean", "L0", "median", "L0", "p95", "mean", "weight", "entries", "used"])
        #expect(cells(lines[1]).dropFirst(2) == ["3", "1.67", "2.00", "2.00", "1.2000", "3"])
        #expect(cells(lines[2]).dropFirst(2) == ["2", "2.50", "2.50", "3.85", "0.9000", "4"])
        #expect(lines[1].hasPrefix("queries    ") && lines[2].hasPrefix("documents  "))
        #expect(lines[1].count == lines[0].count && lines[2].count == lines[0].count)
        #expect(lines[4] == "expected FLOPs per query-document product: 1.1667 (Σ_j p_q(j)·p_d(j))")

        let json = try JSON.parse(report.json())
        #expect(json["queries"]?["vectors"]?.doubleValue == 3)
        #expect(json["queries"]?["l0"]?["mean"]?.doubleValue == 5.0 / 3)
        #expect(json["documents"]?["l0"]?["p95"]?.doubleValue == 3.8499999999999996)
        #expect(json["documents"]?["mean_weight"]?.doubleValue == 0.9)
        #expect(json["documents"]?["entries_used"]?.doubleValue == 4)
        #expect(abs(json["expected_flops"]!.doubleValue! - 7.0 / 6) < 1e-15)

        // One stream alone: its row, no FLOPs.
        let alone = SparsityReport(queries: nil, documents: try statistics(jsonLines: documentLines))
        #expect(!alone.table().contains("FLOPs"))
        let aloneJSON = try JSON.parse(alone.json())
        #expect(aloneJSON["queries"] == nil && aloneJSON["expected_flops"] == nil && aloneJSON["documents"] != nil)
    }
}
