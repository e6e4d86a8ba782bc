/// Writes vector records as JSON Lines: `{"id":…,"vector":{"token":weight,…}}` (the shape Seismic,
/// Anserini and pyserini read), keyed by token strings or, with `ids`, by token ids as strings.
public struct VectorJSONWriter: Sendable {
    public let tokens: [String]?

    /// `tokens` nil writes token ids as keys.
    public init(tokens: [String]?) { self.tokens = tokens }

    /// `{"id":…,` the `otherFields` (a text record's, passed through), `"vector":{…}}` and a newline.
    public func line(_ record: VectorRecord, otherFields: [(key: String, value: JSONValue)] = []) -> [UInt8] {
        var json = JSONWriter()
        json.appendRaw("{\"id\":")
        json.appendValue(record.id)
        json.appendMembers(otherFields)
        json.appendRaw(",\"vector\":{")
        for i in 0..<record.vector.count {
            if i > 0 { json.appendRaw(",") }
            let index = Int(record.vector.indices[i])
            if let tokens {
                json.appendString(tokens[index])
            } else {
                json.appendRaw("\"")
                json.appendInt(index)
                json.appendRaw("\"")
            }
            json.appendRaw(":")
            json.bytes.append(contentsOf: "\(record.vector.values[i])".utf8)
        }
        json.appendRaw("}}\n")
        return json.bytes
    }
}
