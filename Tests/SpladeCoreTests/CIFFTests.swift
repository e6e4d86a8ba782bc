import Foundation
import Testing
@testable import SpladeCore

@Suite struct CIFFProtobufTests {
    @Test func varintsRoundTripAtEveryLength() throws {
        for value: UInt64 in [0, 1, 127, 128, 300, 16_383, 16_384, 1 << 35, UInt64(Int64.max), UInt64.max] {
            var writer = ProtobufWriter()
            writer.varint(value)
            #expect(writer.bytes.count == Protobuf.varintSize(value))
            var reader = ProtobufReader(writer.bytes)
            #expect(try reader.varint() == value)
            #expect(reader.isAtEnd)
        }
        var writer = ProtobufWriter()
        writer.varint(300)
        #expect(writer.bytes == [0xAC, 0x02])   // the protobuf documentation's example
    }

    @Test func negativeInt32TakesTenBytesAsProtobufWritesIt() throws {
        var writer = ProtobufWriter()
        writer.int(1, -1)
        #expect(writer.bytes == [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
        var reader = ProtobufReader(writer.bytes)
        let (field, type) = try #require(try reader.nextField())
        #expect(field == 1 && type == .varint)
        #expect(try reader.int32(type) == -1)
    }

    @Test func unknownFieldsOfEveryWireTypeAreSkipped() throws {
        var writer = CIFF.Header(postingsLists: 2, documents: 3, totalPostingsLists: 4, totalDocuments: 5, totalTerms: 6,
                                 averageDocumentLength: 2.5, description: "d").message
        writer.int(20, 7)
        writer.string(21, "future")
        writer.bytes += [0x5D, 1, 2, 3, 4]                 // field 11, fixed32
        writer.bytes += [0x61, 1, 2, 3, 4, 5, 6, 7, 8]     // field 12, fixed64
        let header = try CIFF.Header(ProtobufReader(writer.bytes))
        #expect(header == CIFF.Header(postingsLists: 2, documents: 3, totalPostingsLists: 4, totalDocuments: 5, totalTerms: 6,
                                      averageDocumentLength: 2.5, description: "d"))
    }

    @Test func malformedMessagesNameTheByte() {
        // A string field whose length runs past the message, at byte 2 of a message based at 100.
        var reader = ProtobufReader([0x0A, 0x05, 0x61], base: 100)
        #expect(throws: ProtobufError.self) { _ = try CIFF.PostingsList(reader) }
        do {
            _ = try reader.nextField()
            _ = try reader.string(.lengthDelimited)
            Issue.record("a truncated string was accepted")
        } catch {
            #expect(error.offset == 101)
        }
        // Wire types 3 and 4 (groups) are not protobuf 3.
        #expect(throws: ProtobufError.self) { _ = try CIFF.DocumentRecord(ProtobufReader([0x0B])) }
        // Posting ids must ascend: a gap of 0 after the first posting repeats a document.
        var list = ProtobufWriter()
        var posting = ProtobufWriter()
        posting.int(2, 1)
        list.message(4, posting)
        list.message(4, posting)
        #expect(throws: ProtobufError.self) { _ = try CIFF.PostingsList(ProtobufReader(list.bytes)) }
    }
}

@Suite struct CIFFFormatTests {
    /// Three documents over the terms b (0), a (1), c (2), impacts as given (scale 1).
    static func smallIndex(directory: String) throws -> IndexSnapshot {
        var documents = DocumentBatch()
        documents.append(id: .string("x"), vector: SparseVector(indices: [0, 1], values: [3, 1]))
        documents.append(id: .string("y"), vector: SparseVector(indices: [1], values: [2]))
        documents.append(id: .number("7"), vector: SparseVector(indices: [0, 2], values: [1, 200]))
        var settings = IndexSettings(kind: .splade, vocabularySize: 3, fingerprint: 42, tokens: ["b", "a", "c"], blockSize: 2, reorder: false)
        settings.scale = ImpactScale(scale: 1)
        _ = try IndexUpdate.build(documents, settings: settings, directory: directory, lock: try IndexTestSupport.lock(directory))
        return try IndexSnapshot(directory: directory)
    }

    static func export(_ snapshot: IndexSnapshot, names: [String], description: String = "t") throws -> [UInt8] {
        var bytes: [UInt8] = []
        _ = try CIFF.export(snapshot, termNames: names, description: description) { bytes += $0 }
        return bytes
    }

    /// The small index as CIFF, worked out by hand from the protobuf encoding rules: proto3 leaves
    /// out fields at 0 (the first posting's docid 0, DocRecord 0's docid).
    static let expected: [UInt8] = [
        0x19, 0x08, 0x01, 0x10, 0x03, 0x18, 0x03, 0x20, 0x03, 0x28, 0x03, 0x30, 0xCF, 0x01,     // header: 3 lists, 3 docs, 207 terms
        0x39, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x51, 0x40, 0x42, 0x01, 0x74,                 // average 69.0, description "t"
        0x11, 0x0A, 0x01, 0x61, 0x10, 0x02, 0x18, 0x03, 0x22, 0x02, 0x10, 0x01, 0x22, 0x04, 0x08, 0x01, 0x10, 0x02,  // "a": (0,1) (1,2)
        0x11, 0x0A, 0x01, 0x62, 0x10, 0x02, 0x18, 0x04, 0x22, 0x02, 0x10, 0x03, 0x22, 0x04, 0x08, 0x02, 0x10, 0x01,  // "b": (0,3) (2,1)
        0x0F, 0x0A, 0x01, 0x63, 0x10, 0x01, 0x18, 0xC8, 0x01, 0x22, 0x05, 0x08, 0x02, 0x10, 0xC8, 0x01,              // "c": (2,200)
        0x05, 0x12, 0x01, 0x78, 0x18, 0x04,                                                     // doc 0 "x", length 4
        0x07, 0x08, 0x01, 0x12, 0x01, 0x79, 0x18, 0x02,                                         // doc 1 "y", length 2
        0x08, 0x08, 0x02, 0x12, 0x01, 0x37, 0x18, 0xC9, 0x01,                                   // doc 2 "7", length 201
    ]

    @Test func exportMatchesTheHandBuiltBytes() throws {
        let snapshot = try Self.smallIndex(directory: try IndexTestSupport.temporaryDirectory() + "/idx")
        #expect(try Self.export(snapshot, names: ["b", "a", "c"]) == Self.expected)
    }

    @Test func termsAreInByteOrderAndMustBeDistinct() throws {
        let snapshot = try Self.smallIndex(directory: try IndexTestSupport.temporaryDirectory() + "/idx")
        // "é" (C3 A9) sorts after "z" by bytes; token ids as decimal strings sort "10" < "9".
        let bytes = try Self.export(snapshot, names: ["é", "z", "Z"])
        let path = try IndexTestSupport.temporaryDirectory() + "/x.ciff"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        var order: [String] = []
        _ = try CIFFImport.read(path: path) { term in order.append(term); return ["é": 0, "z": 1, "Z": 2][term] }
        #expect(order == ["Z", "z", "é"])
        #expect(throws: SpladeError.self) { _ = try Self.export(snapshot, names: ["a", "a", "c"]) }
    }

    @Test func importReadsTheHandBuiltBytes() throws {
        let path = try IndexTestSupport.temporaryDirectory() + "/x.ciff"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.expected)))
        let imported = try CIFFImport.read(path: path) { ["b": 0, "a": 1, "c": 2][$0] }
        let d = imported.documents
        #expect(d.count == 3 && imported.largestFrequency == 200 && imported.header.totalTerms == 207)
        #expect((0..<3).map { d.idText($0) } == ["x", "y", "7"])
        #expect(d.postings(of: 0).map { d.terms[$0] } == [0, 1] && d.postings(of: 0).map { d.weights[$0] } == [3, 1])
        #expect(d.postings(of: 2).map { d.terms[$0] } == [0, 2] && d.postings(of: 2).map { d.weights[$0] } == [1, 200])
    }

    @Test func truncatedInputFailsWithTheByteOffsetAtEveryCut() throws {
        let directory = try IndexTestSupport.temporaryDirectory()
        for cut in 0..<Self.expected.count {
            let path = directory + "/cut\(cut).ciff"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.expected.prefix(cut))))
            do {
                _ = try CIFFImport.read(path: path) { ["b": 0, "a": 1, "c": 2][$0] }
                Issue.record("a CIFF cut at byte \(cut) was accepted")
            } catch {
                #expect(error.kind == .badInput && error.message.contains("byte"), "cut \(cut): \(error)")
            }
        }
        let trailing = directory + "/trailing.ciff"
        #expect(FileManager.default.createFile(atPath: trailing, contents: Data(Self.expected + [0x00])))
        #expect(throws: SpladeError.self) { _ = try CIFFImport.read(path: trailing) { ["b": 0, "a": 1, "c": 2][$0] } }
    }

    @Test func corruptBytesAreRejectedNeverACrash() throws {
        let directory = try IndexTestSupport.temporaryDirectory()
        var random = SeededRandom(seed: 7)
        var rejected = 0
        for trial in 0..<400 {
            var bytes = Self.expected
            for _ in 0...Int.random(in: 0...2, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            let path = directory + "/c\(trial).ciff"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
            do {
                _ = try CIFFImport.read(path: path) { ["b": 0, "a": 1, "c": 2][$0] }
            } catch {
                #expect(error.kind == .badInput)
                rejected += 1
            }
        }
        #expect(rejected > 200)
    }

    @Test func unknownTermsNameTheTermAndMessage() throws {
        let path = try IndexTestSupport.temporaryDirectory() + "/x.ciff"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(Self.expected)))
        do {
            _ = try CIFFImport.read(path: path) { ["a": 1, "c": 2][$0] }
            Issue.record("an unknown term was accepted")
        } catch {
            #expect(error.kind == .badInput && error.message.contains("\"b\"") && error.message.contains("message 3"))
        }
    }

    /// Exported (two segments, deletions, reordered blocks) and imported back, the index gives the
    /// same top-k: the same ids with the same integer scores, ties in the same order.
    @Test func exportThenImportGivesTheSameTopK() throws {
        let directory = try IndexTestSupport.temporaryDirectory()
        let vocabulary = 400
        let vectors = IndexTestSupport.randomVectors(count: 700, vocabulary: vocabulary, terms: 5...40, seed: 11)
        let original = directory + "/original"
        _ = try IndexTestSupport.build(Array(vectors[0..<500]), vocabulary: vocabulary, blockSize: 16, reorder: true, directory: original)
        _ = try IndexTestSupport.add(IndexTestSupport.batch(Array(vectors[500...]), idPrefix: "e"), fingerprint: 42, directory: original,
                                     lock: try IndexTestSupport.lock(original))
        _ = try IndexUpdate.delete(ids: Set((0..<500).filter { $0 % 7 == 0 }.map { ExactID("d\($0)") }), directory: original,
                                   lock: try IndexTestSupport.lock(original))
        let before = try IndexSnapshot(directory: original)
        #expect(before.segments.count == 2 && before.manifest.deleted > 0)

        let path = directory + "/x.ciff"
        let bytes = try Self.export(before, names: (0..<vocabulary).map { String($0) })
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        let imported = try CIFFImport.read(path: path) { Int32($0) }
        #expect(imported.documents.count == before.manifest.documents && imported.largestFrequency == 255)
        var settings = IndexSettings(kind: .splade, vocabularySize: vocabulary, fingerprint: 42, tokens: nil, blockSize: 32, reorder: false)
        settings.scale = ImpactScale(scale: 1)
        let copy = directory + "/copy"
        _ = try IndexUpdate.build(imported.documents, settings: settings, directory: copy, lock: try IndexTestSupport.lock(copy))
        let after = try IndexSnapshot(directory: copy)

        let queries = IndexTestSupport.randomVectors(count: 40, vocabulary: vocabulary, terms: 2...12, seed: 12)
        let scratch = BlockMaxSearch.Scratch()
        for vector in queries {
            let query = QuantizedQuery(vector)
            let searches = [before, after].map { ShardedSearch(shards: [$0]) }
            let lists = zip(searches, [before, after]).map { search, snapshot in
                search.search(query, k: 10, alpha: 1, scratch: scratch).map {
                    (search.id(of: $0), ($0.score / query.unit / Double(snapshot.manifest.scale)).rounded())
                }
            }
            #expect(lists[0].map(\.0) == lists[1].map(\.0))
            #expect(lists[0].map(\.1) == lists[1].map(\.1))
        }
    }
}
