import Foundation
import Testing
@testable import SpladeCore

/// Golden documents, queries and definitions for each engine (the shapes of the versions named in
/// EngineFormats.swift), and the readers of other tools' vectors.
@Suite struct EngineFormatTests {
    let vector = SparseVector(indices: [100, 2000, 3000], values: [1.5, 0, 0.25])

    func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    @Test func documents() {
        func document(_ engine: SearchEngine, _ id: JSONValue) -> String {
            text(EngineFormat(engine: engine, indexName: "docs", vespaNamespace: "ns").document(id: id, vector: vector))
        }
        let bulk = #"{"index":{"_index":"docs","_id":"d\"1"}}"# + "\n" + #"{"sparse_embedding":{"100":1.5,"3000":0.25}}"# + "\n"
        #expect(document(.opensearch, .string("d\"1")) == bulk)
        #expect(document(.opensearchSeismic, .string("d\"1")) == bulk)
        #expect(document(.elasticsearch, .string("d\"1")) == bulk)
        #expect(document(.milvus, .number("7")) == #"{"id":"7","sparse_embedding":{"100":1.5,"3000":0.25}}"# + "\n")
        #expect(document(.qdrant, .number("7"))
                == #"{"id":7,"vector":{"sparse_embedding":{"indices":[100,3000],"values":[1.5,0.25]}},"payload":{"id":7}}"# + "\n")
        // uuid.uuid5(uuid.NAMESPACE_URL, "d1") in Python.
        #expect(document(.qdrant, .string("d1"))
                == #"{"id":"6f553efe-4351-5180-b556-2e61cc88f2d2","vector":{"sparse_embedding":{"indices":[100,3000],"values":[1.5,0.25]}},"payload":{"id":"d1"}}"# + "\n")
        // A negative or fractional number is no Qdrant integer id.
        #expect(document(.qdrant, .number("-3")).hasPrefix(#"{"id":""#))
        #expect(document(.vespa, .string("d1"))
                == #"{"put":"id:ns:docs::d1","fields":{"id":"d1","sparse_embedding":{"100":1.5,"3000":0.25}}}"# + "\n")
    }

    @Test func queries() {
        func query(_ engine: SearchEngine) -> String { text(EngineFormat(engine: engine, indexName: "docs").query(vector, k: 10)) }
        #expect(query(.opensearch) == #"{"size":10,"query":{"neural_sparse":{"sparse_embedding":{"query_tokens":{"100":1.5,"3000":0.25}}}},"_source":false}"# + "\n")
        #expect(query(.opensearchSeismic)
                == #"{"size":10,"query":{"neural_sparse":{"sparse_embedding":{"query_tokens":{"100":1.5,"3000":0.25},"method_parameters":{"k":10}}}},"_source":false}"# + "\n")
        #expect(query(.elasticsearch)
                == #"{"size":10,"query":{"sparse_vector":{"field":"sparse_embedding","query_vector":{"100":1.5,"3000":0.25}}},"_source":false}"# + "\n")
        #expect(query(.milvus)
                == #"{"collectionName":"docs","data":[{"100":1.5,"3000":0.25}],"annsField":"sparse_embedding","limit":10,"outputFields":["id"],"searchParams":{"metricType":"IP"}}"# + "\n")
        #expect(query(.qdrant) == #"{"query":{"indices":[100,3000],"values":[1.5,0.25]},"using":"sparse_embedding","limit":10,"with_payload":true}"# + "\n")
        #expect(query(.vespa)
                == #"{"yql":"select id from docs where true","hits":10,"ranking":{"profile":"splade"},"input":{"query(q)":"{{token:100}:1.5,{token:3000}:0.25}"}}"# + "\n")
    }

    @Test func definitions() throws {
        func definition(_ engine: SearchEngine) -> String { text(EngineFormat(engine: engine, indexName: "docs").definition()) }
        #expect(definition(.opensearch) == #"{"mappings":{"properties":{"sparse_embedding":{"type":"rank_features"}}}}"# + "\n")
        #expect(definition(.opensearchSeismic)
                == #"{"settings":{"index":{"sparse":true}},"mappings":{"properties":{"sparse_embedding":{"type":"sparse_vector","method":{"name":"seismic"}}}}}"# + "\n")
        #expect(definition(.elasticsearch) == #"{"mappings":{"properties":{"sparse_embedding":{"type":"sparse_vector"}}}}"# + "\n")
        #expect(definition(.milvus) == #"{"collectionName":"docs","schema":{"autoId":false,"enableDynamicField":false,"fields":["#
                + #"{"fieldName":"id","dataType":"VarChar","isPrimary":true,"elementTypeParams":{"max_length":512}},"#
                + #"{"fieldName":"sparse_embedding","dataType":"SparseFloatVector"}]},"indexParams":[{"fieldName":"sparse_embedding","#
                + #""indexName":"sparse_embedding","metricType":"IP","indexType":"SPARSE_INVERTED_INDEX","params":{"inverted_index_algo":"DAAT_MAXSCORE"}}]}"#
                + "\n")
        #expect(definition(.qdrant) == #"{"vectors":{},"sparse_vectors":{"sparse_embedding":{}}}"# + "\n")
        let schema = definition(.vespa)
        #expect(schema.hasPrefix("schema docs {\n    document docs {\n"))
        #expect(schema.contains("field sparse_embedding type tensor<float>(token{}) {"))
        #expect(schema.contains("expression: sum(query(q) * attribute(sparse_embedding))"))
    }

    @Test func sha1MatchesKnownDigests() {
        func hex(_ s: String) -> String { SHA1.digest(Array(s.utf8)).map { String($0, radix: 16).leftPadded(to: 2) }.joined() }
        #expect(hex("") == "da39a3ee5e6b4b0d3255bfef95601890afd80709")
        #expect(hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d")
        #expect(hex(String(repeating: "a", count: 1000)) == "291e9a6c66994949b57ba5e650361e98fc36b1ba")
    }

    /// Seismic and Anserini write integer weights (quantised impacts) as well as floats.
    @Test func jsonLinesVectorsWithIntegerAndFloatWeights() throws {
        let path = NSTemporaryDirectory() + "engine-format-\(UUID()).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\"id\":\"a\",\"vector\":{\"12\":3,\"7\":0.5,\"9\":0}}\n{\"id\":2,\"vector\":{\"4\":1e2}}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let reader = try VectorReader(path: path, keys: .ids(vocabularySize: 100))
        let first = try #require(try reader.next())
        #expect(first.vector == SparseVector(indices: [7, 12], values: [0.5, 3]))
        let second = try #require(try reader.next())
        #expect(second.vector == SparseVector(indices: [4], values: [100]))
        #expect(try reader.next() == nil)
    }

    @Test func csrMatrices() throws {
        let path = NSTemporaryDirectory() + "engine-format-\(UUID()).csr"
        defer { try? FileManager.default.removeItem(atPath: path) }
        func matrix(rows: [[(Int32, Float)]], columns: Int64 = 50) -> Data {
            var data = Data()
            func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
            let entries = rows.flatMap { $0 }
            append(Int64(rows.count)); append(columns); append(Int64(entries.count))
            var start: Int64 = 0
            append(start)
            for row in rows { start += Int64(row.count); append(start) }
            for entry in entries { append(entry.0) }
            for entry in entries { append(entry.1.bitPattern) }
            return data
        }
        try matrix(rows: [[(9, 0.5), (3, 2)], [], [(49, 1)]]).write(to: URL(fileURLWithPath: path))
        let reader = try VectorReader(path: path, keys: .ids(vocabularySize: nil))
        var records: [VectorRecord] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records.map { $0.id.idText } == ["0", "1", "2"])
        #expect(records.map(\.vector) == [SparseVector(indices: [3, 9], values: [2, 0.5]), SparseVector(),
                                          SparseVector(indices: [49], values: [1])])

        try matrix(rows: [[(50, 1)]]).write(to: URL(fileURLWithPath: path))
        let outside = try VectorReader(path: path, keys: .ids(vocabularySize: nil))
        #expect(throws: SpladeError.self) { try outside.next() }
        try matrix(rows: [[(1, 1), (1, 2)]]).write(to: URL(fileURLWithPath: path))
        let twice = try VectorReader(path: path, keys: .ids(vocabularySize: nil))
        #expect(throws: SpladeError.self) { try twice.next() }
        try matrix(rows: [[(1, 1)]]).prefix(40).write(to: URL(fileURLWithPath: path))
        #expect(throws: SpladeError.self) { try VectorReader(path: path, keys: .ids(vocabularySize: nil)) }
    }
}
