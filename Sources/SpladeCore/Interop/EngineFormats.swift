/// Documents, queries and index definitions for the search engines SPLADE vectors move to when one
/// machine is not enough. The shapes follow these versions' documentation:
///
/// - `opensearch`: a `rank_features` field searched with the `neural_sparse` query (`query_tokens`),
///   OpenSearch 2.11 to 3.x; exact (every matching document is scored).
/// - `opensearchSeismic`: a `sparse_vector` field with `"method": {"name": "seismic"}` in an index with
///   `"index.sparse": true`, searched with `neural_sparse` and `method_parameters.k`, OpenSearch 3.3+;
///   approximate (SEISMIC). Its keys must be token ids.
/// - `elasticsearch`: a `sparse_vector` field searched with the `sparse_vector` query
///   (`query_vector`), Elasticsearch 8.15+ and 9.x. Weights must be positive.
/// - `milvus`: a `SPARSE_FLOAT_VECTOR` field with a `SPARSE_INVERTED_INDEX` (metric IP), as the
///   RESTful API v2 (`/v2/vectordb/collections/create`, `/v2/vectordb/entities/search`) and pymilvus'
///   `MilvusClient.insert` take them, Milvus 2.4+ and Milvus Lite.
/// - `qdrant`: a named sparse vector (`sparse_vectors` in the collection), points for
///   `PUT /collections/NAME/points` or `QdrantClient.upsert`, queries for the Query API
///   (`POST /collections/NAME/points/query`), Qdrant 1.10+.
/// - `vespa`: a `tensor<float>(token{})` attribute (Vespa 8 schema), put operations in the JSON
///   Lines `vespa feed` reads (the short form of a tensor with one mapped dimension), and a query
///   ranking every document by `sum(query(q) * attribute(FIELD))`: exact, linear in the collection.
///
/// Keys are always token ids written as strings ("2023"), never token strings: Seismic and Milvus
/// need ids, and a token such as "u.s" or "." would be an invalid field name in a `rank_features` or
/// Elasticsearch `sparse_vector` map (a dot means an object path there). Documents and queries
/// written here therefore always agree. Zero weights are left out: every engine needs positive ones.
public enum SearchEngine: String, CaseIterable, Sendable {
    case opensearch, opensearchSeismic = "opensearch-seismic", elasticsearch, milvus, qdrant, vespa
}

public struct EngineFormat: Sendable {
    public let engine: SearchEngine
    /// The OpenSearch/Elasticsearch index, Milvus or Qdrant collection, or Vespa schema and document type.
    public let indexName: String
    /// The namespace of Vespa document ids (`id:NAMESPACE:TYPE::ID`).
    public let vespaNamespace: String
    /// The field (or Qdrant named vector) holding the vector, in every engine.
    public static let field = "sparse_embedding"

    public init(engine: SearchEngine, indexName: String = "splade", vespaNamespace: String = "splade") {
        self.engine = engine
        self.indexName = indexName
        self.vespaNamespace = vespaNamespace
    }

    /// The names as the engine accepts them, or a usage error saying its rule: a name it refuses would only fail
    /// at the engine, after the export, and a Vespa name is written into document ids and the schema unescaped.
    public func validateNames() throws(SpladeError) {
        let bytes = Array(indexName.utf8)
        let control = bytes.contains { $0 < 0x20 || $0 == 0x7F }
        func refuse(_ rule: String) -> SpladeError {
            SpladeError(.usage, "--index-name \(TRECField.quoted(indexName)) is not \(rule)")
        }
        switch engine {
        case .opensearch, .opensearchSeismic, .elasticsearch:
            let forbidden = Set(#"\/*?"<>| ,#:"#.utf8)
            guard !bytes.isEmpty, bytes.count <= 255, !control, indexName != ".", indexName != "..",
                  !bytes.contains(where: forbidden.contains), !["_", "-", "+"].contains(indexName.first),
                  indexName == indexName.lowercased() else {
                throw refuse("an index name (lowercase, at most 255 bytes, without spaces or \\ / * ? \" < > | , # :, "
                             + "not starting with _ - +)")
            }
        case .qdrant:
            let forbidden = Set(#"<>:"/\|?*"#.utf8)
            guard !bytes.isEmpty, bytes.count <= 255, !control, !bytes.contains(where: forbidden.contains) else {
                throw refuse("a Qdrant collection name (at most 255 bytes, without < > : \" / \\ | ? *)")
            }
        case .milvus, .vespa:
            guard let first = bytes.first, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first), bytes.count <= 255,
                  bytes.allSatisfy({ $0 == UInt8(ascii: "_") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0 | 0x20)
                      || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                throw refuse("a \(engine == .vespa ? "Vespa schema" : "Milvus collection") name (ASCII letters, digits and _, "
                             + "not starting with a digit)")
            }
            // Vespa's config model refuses these document type names, in any case (ReservedDocumentTypeNameValidator).
            if engine == .vespa && ["and", "false", "id", "not", "null", "or", "true"].contains(indexName.lowercased()) {
                throw refuse("a Vespa schema name (and, false, id, not, null, or and true are reserved)")
            }
        }
        // A Vespa document id is id:NAMESPACE:TYPE::ID: the namespace holds no colon.
        if engine == .vespa && (vespaNamespace.isEmpty || vespaNamespace.utf8.contains { $0 <= 0x20 || $0 == 0x7F || $0 == UInt8(ascii: ":") }) {
            throw SpladeError(.usage, "--vespa-namespace \(TRECField.quoted(vespaNamespace)) is not a Vespa namespace "
                              + "(non-empty, without colons, spaces or control characters)")
        }
    }

    /// The lines that load one document: a bulk action and its source (OpenSearch, Elasticsearch),
    /// or one entity, point or put operation.
    public func document(id: JSONValue, vector: SparseVector) -> [UInt8] {
        var json = JSONWriter()
        let idText = Self.text(of: id)
        switch engine {
        case .opensearch, .opensearchSeismic, .elasticsearch:
            json.appendRaw("{\"index\":{\"_index\":")
            json.appendString(indexName)
            json.appendRaw(",\"_id\":")
            json.appendString(idText)
            json.appendRaw("}}\n{")
            json.appendString(Self.field)
            json.appendRaw(":")
            appendMap(vector, to: &json)
            json.appendRaw("}")
        case .milvus:
            // The primary key is a VarChar: ids of any kind, numbers as their literal text.
            json.appendRaw("{\"id\":")
            json.appendString(idText)
            json.appendRaw(",")
            json.appendString(Self.field)
            json.appendRaw(":")
            appendMap(vector, to: &json)
            json.appendRaw("}")
        case .qdrant:
            json.appendRaw("{\"id\":")
            Self.appendQdrantPointId(id, to: &json)
            json.appendRaw(",\"vector\":{")
            json.appendString(Self.field)
            json.appendRaw(":")
            appendIndicesValues(vector, to: &json)
            json.appendRaw("},\"payload\":{\"id\":")
            json.appendValue(id)
            json.appendRaw("}}")
        case .vespa:
            json.appendRaw("{\"put\":")
            json.appendString("id:\(vespaNamespace):\(indexName)::\(idText)")
            json.appendRaw(",\"fields\":{\"id\":")
            json.appendString(idText)
            json.appendRaw(",")
            json.appendString(Self.field)
            json.appendRaw(":")
            appendMap(vector, to: &json)
            json.appendRaw("}}")
        }
        json.appendRaw("\n")
        return json.bytes
    }

    /// The request body that searches for the `k` documents scoring highest against `vector`
    /// (one line; the URL it goes to is in the README).
    public func query(_ vector: SparseVector, k: Int) -> [UInt8] {
        var json = JSONWriter()
        switch engine {
        case .opensearch, .opensearchSeismic:
            json.appendRaw("{\"size\":")
            json.appendInt(k)
            json.appendRaw(",\"query\":{\"neural_sparse\":{")
            json.appendString(Self.field)
            json.appendRaw(":{\"query_tokens\":")
            appendMap(vector, to: &json)
            if engine == .opensearchSeismic {
                // top_n (query tokens kept, default 10) and heap_factor (default 1) keep their defaults.
                json.appendRaw(",\"method_parameters\":{\"k\":")
                json.appendInt(k)
                json.appendRaw("}")
            }
            json.appendRaw("}}},\"_source\":false}")
        case .elasticsearch:
            json.appendRaw("{\"size\":")
            json.appendInt(k)
            json.appendRaw(",\"query\":{\"sparse_vector\":{\"field\":")
            json.appendString(Self.field)
            json.appendRaw(",\"query_vector\":")
            appendMap(vector, to: &json)
            json.appendRaw("}},\"_source\":false}")
        case .milvus:
            json.appendRaw("{\"collectionName\":")
            json.appendString(indexName)
            json.appendRaw(",\"data\":[")
            appendMap(vector, to: &json)
            json.appendRaw("],\"annsField\":")
            json.appendString(Self.field)
            json.appendRaw(",\"limit\":")
            json.appendInt(k)
            json.appendRaw(",\"outputFields\":[\"id\"],\"searchParams\":{\"metricType\":\"IP\"}}")
        case .qdrant:
            json.appendRaw("{\"query\":")
            appendIndicesValues(vector, to: &json)
            json.appendRaw(",\"using\":")
            json.appendString(Self.field)
            json.appendRaw(",\"limit\":")
            json.appendInt(k)
            json.appendRaw(",\"with_payload\":true}")
        case .vespa:
            json.appendRaw("{\"yql\":")
            json.appendString("select id from \(indexName) where true")
            json.appendRaw(",\"hits\":")
            json.appendInt(k)
            json.appendRaw(",\"ranking\":{\"profile\":\"splade\"},\"input\":{\"query(q)\":")
            // The tensor literal ({{token:2023}:1.5,...}), which every Vespa 8 release parses.
            var literal = "{"
            for i in 0..<vector.count where vector.values[i] > 0 {
                if literal.count > 1 { literal += "," }
                literal += "{token:\(vector.indices[i])}:\(vector.values[i])"
            }
            json.appendString(literal + "}")
            json.appendRaw("}}")
        }
        json.appendRaw("\n")
        return json.bytes
    }

    /// What creates the index: the body of `PUT /INDEX` (OpenSearch, Elasticsearch), of Milvus'
    /// `/v2/vectordb/collections/create`, of Qdrant's `PUT /collections/NAME`, or a Vespa schema file
    /// (`schemas/NAME.sd`).
    public func definition() -> [UInt8] {
        let field = Self.field
        func object(_ members: [(String, JSONValue)]) -> JSONValue { .object(members.map { (key: $0.0, value: $0.1) }) }
        let body: JSONValue
        switch engine {
        case .opensearch:
            body = object([("mappings", object([("properties", object([(field, object([("type", .string("rank_features"))]))]))]))])
        case .opensearchSeismic:
            // Seismic's parameters (n_postings, cluster_ratio, summary_prune_ratio, approximate_threshold)
            // keep their defaults; below approximate_threshold documents per segment the search is exact.
            let method = object([("name", .string("seismic"))])
            body = object([("settings", object([("index", object([("sparse", .bool(true))]))])),
                           ("mappings", object([("properties", object([(field, object([("type", .string("sparse_vector")),
                                                                                       ("method", method)]))]))]))])
        case .elasticsearch:
            body = object([("mappings", object([("properties", object([(field, object([("type", .string("sparse_vector"))]))]))]))])
        case .milvus:
            let fields: JSONValue = .array([
                object([("fieldName", .string("id")), ("dataType", .string("VarChar")), ("isPrimary", .bool(true)),
                        ("elementTypeParams", object([("max_length", .number("512"))]))]),
                object([("fieldName", .string(field)), ("dataType", .string("SparseFloatVector"))]),
            ])
            let index = object([("fieldName", .string(field)), ("indexName", .string(field)), ("metricType", .string("IP")),
                                ("indexType", .string("SPARSE_INVERTED_INDEX")),
                                ("params", object([("inverted_index_algo", .string("DAAT_MAXSCORE"))]))])
            body = object([("collectionName", .string(indexName)),
                           ("schema", object([("autoId", .bool(false)), ("enableDynamicField", .bool(false)), ("fields", fields)])),
                           ("indexParams", .array([index]))])
        case .qdrant:
            // No dense vector; no IDF modifier, since SPLADE weights already are the term weights.
            body = object([("vectors", object([])), ("sparse_vectors", object([(field, object([]))]))])
        case .vespa:
            return Array("""
                schema \(indexName) {
                    document \(indexName) {
                        field id type string {
                            indexing: summary | attribute
                        }
                        field \(field) type tensor<float>(token{}) {
                            indexing: summary | attribute
                        }
                    }
                    rank-profile splade {
                        inputs {
                            query(q) tensor<float>(token{})
                        }
                        first-phase {
                            expression: sum(query(q) * attribute(\(field)))
                        }
                    }
                }

                """.utf8)
        }
        var json = JSONWriter()
        json.appendValue(body)
        json.appendRaw("\n")
        return json.bytes
    }

    static func text(of id: JSONValue) -> String {
        guard let text = id.idText else { preconditionFailure("document ids are strings or numbers") }
        return text
    }

    /// `{"2023":1.5,...}`: the token-id map OpenSearch, Elasticsearch, Milvus and Vespa read.
    private func appendMap(_ vector: SparseVector, to json: inout JSONWriter) {
        json.appendRaw("{")
        var first = true
        for i in 0..<vector.count where vector.values[i] > 0 {
            if !first { json.appendRaw(",") }
            first = false
            json.appendRaw("\"")
            json.appendInt(Int(vector.indices[i]))
            json.appendRaw("\":")
            json.bytes.append(contentsOf: "\(vector.values[i])".utf8)
        }
        json.appendRaw("}")
    }

    /// `{"indices":[...],"values":[...]}`: Qdrant's sparse vector.
    private func appendIndicesValues(_ vector: SparseVector, to json: inout JSONWriter) {
        let kept = (0..<vector.count).filter { vector.values[$0] > 0 }
        json.appendRaw("{\"indices\":[")
        for (n, i) in kept.enumerated() {
            if n > 0 { json.appendRaw(",") }
            json.appendInt(Int(vector.indices[i]))
        }
        json.appendRaw("],\"values\":[")
        for (n, i) in kept.enumerated() {
            if n > 0 { json.appendRaw(",") }
            json.bytes.append(contentsOf: "\(vector.values[i])".utf8)
        }
        json.appendRaw("]}")
    }

    /// Qdrant point ids are unsigned integers or UUIDs: an id that is a JSON number holding an
    /// unsigned 64-bit integer is used as it is; any other id becomes the name-based UUID
    /// `uuid.uuid5(uuid.NAMESPACE_URL, id)` (RFC 4122 version 5), which Python recomputes from the
    /// id. The original id is kept in the payload either way.
    static func appendQdrantPointId(_ id: JSONValue, to json: inout JSONWriter) {
        if case .number(let literal) = id, UInt64(literal) != nil {
            json.bytes.append(contentsOf: literal.utf8)
        } else {
            json.appendString(nameBasedUUID(text(of: id)))
        }
    }

    /// RFC 4122 section 4.3 version 5 UUID of `name` in the URL namespace.
    static func nameBasedUUID(_ name: String) -> String {
        let urlNamespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]
        var hash = Array(SHA1.digest(urlNamespace + Array(name.utf8)).prefix(16))
        hash[6] = hash[6] & 0x0f | 0x50
        hash[8] = hash[8] & 0x3f | 0x80
        let hex = hash.map { String($0, radix: 16).leftPadded(to: 2) }.joined()
        let cuts = [0, 8, 12, 16, 20, 32].map { hex.index(hex.startIndex, offsetBy: $0) }
        return (0..<5).map { String(hex[cuts[$0]..<cuts[$0 + 1]]) }.joined(separator: "-")
    }
}

/// SHA-1 (FIPS 180-4), only for name-based UUIDs: not for anything that needs collision resistance.
enum SHA1 {
    static func digest(_ message: [UInt8]) -> [UInt8] {
        var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
        var padded = message + [0x80]
        while padded.count % 64 != 56 { padded.append(0) }
        let bits = UInt64(message.count) * 8
        for shift in stride(from: 56, through: 0, by: -8) { padded.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        var w = [UInt32](repeating: 0, count: 80)
        for chunk in stride(from: 0, to: padded.count, by: 64) {
            for t in 0..<16 {
                w[t] = (0..<4).reduce(0) { $0 << 8 | UInt32(padded[chunk + 4 * t + $1]) }
            }
            for t in 16..<80 {
                let x = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]
                w[t] = x << 1 | x >> 31
            }
            var (a, b, c, d, e) = (h[0], h[1], h[2], h[3], h[4])
            for t in 0..<80 {
                let (f, k): (UInt32, UInt32)
                switch t {
                case 0..<20: (f, k) = ((b & c) | (~b & d), 0x5A82_7999)
                case 20..<40: (f, k) = (b ^ c ^ d, 0x6ED9_EBA1)
                case 40..<60: (f, k) = ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC)
                default: (f, k) = (b ^ c ^ d, 0xCA62_C1D6)
                }
                let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[t]
                (e, d, c, b, a) = (d, c, b << 30 | b >> 2, a, temp)
            }
            h[0] &+= a; h[1] &+= b; h[2] &+= c; h[3] &+= d; h[4] &+= e
        }
        return h.flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> UInt32(24 - 8 * $0)) } }
    }
}
