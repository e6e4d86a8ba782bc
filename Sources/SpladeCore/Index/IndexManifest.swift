import Foundation

/// `manifest.json` of an index generation: what the index holds and how it was built.
///
///     {"format":"splade-index","version":2,"kind":"splade"|"bm25","documents":N,"deleted":D,
///      "vocabularySize":V,"vocabularyFingerprint":"89ab…(16 hex digits)","vocabulary":"vocab.txt"|null,
///      "blockSize":64,"reordered":true|false,"scale":0.0123,"bm25":{"k1":0.9,"b":0.4,"averageLength":…}|null,
///      "segments":[{"file":"seg-000001.spi","documents":n,"deleted":d,"deletions":"seg-000001.del"|null}],
///      "created":"2025-01-01T00:00:00Z"}
///
/// `documents` counts live documents (deleted ones excluded).
public struct IndexManifest: Sendable {
    public static let fileName = "manifest.json"
    public static let formatName = "splade-index"
    /// Version 2: segments carry the block order of their documents (reordering).
    public static let version = 2

    public enum Kind: String, Sendable { case splade, bm25 }

    public struct BM25Parameters: Sendable, Equatable {
        public var k1: Double
        public var b: Double
        public var averageLength: Double
        public init(k1: Double, b: Double, averageLength: Double) {
            self.k1 = k1
            self.b = b
            self.averageLength = averageLength
        }
    }

    public struct SegmentEntry: Sendable {
        public var file: String
        public var documents: Int
        public var deleted: Int
        public var deletionsFile: String?
    }

    public var kind: Kind
    public var vocabularySize: Int
    public var fingerprint: UInt64
    /// The vocabulary's tokens, stored beside the manifest when known (query vectors keyed by token).
    public var vocabularyFile: String?
    public var blockSize: Int
    /// Whether segments order their documents by `DocumentReordering` (segments added later too).
    public var reordered: Bool
    public var scale: Float
    public var bm25: BM25Parameters?
    public var segments: [SegmentEntry]
    public var created: String

    public var documents: Int { segments.reduce(0) { $0 + $1.documents - $1.deleted } }
    public var deleted: Int { segments.reduce(0) { $0 + $1.deleted } }

    public func json() -> [UInt8] {
        func number(_ value: some BinaryInteger) -> JSONValue { .number(String(value)) }
        func real(_ value: Double) -> JSONValue { .number(value.isFinite ? "\(value)" : "0") }
        var members: [(key: String, value: JSONValue)] = [
            ("format", .string(Self.formatName)), ("version", number(Self.version)), ("kind", .string(kind.rawValue)),
            ("documents", number(documents)), ("deleted", number(deleted)), ("vocabularySize", number(vocabularySize)),
            ("vocabularyFingerprint", .string(String(fingerprint, radix: 16).leftPadded(to: 16))),
            ("vocabulary", vocabularyFile.map(JSONValue.string) ?? .null),
            ("blockSize", number(blockSize)), ("reordered", .bool(reordered)), ("scale", .number("\(scale)")),
        ]
        members.append(("bm25", bm25.map {
            .object([("k1", real($0.k1)), ("b", real($0.b)), ("averageLength", real($0.averageLength))])
        } ?? .null))
        members.append(("segments", .array(segments.map { segment in
            .object([("file", .string(segment.file)), ("documents", number(segment.documents)), ("deleted", number(segment.deleted)),
                     ("deletions", segment.deletionsFile.map(JSONValue.string) ?? .null)])
        })))
        members.append(("created", .string(created)))
        var writer = JSONWriter()
        writer.appendValue(.object(members))
        writer.bytes.append(0x0A)
        return writer.bytes
    }

    public init(kind: Kind, vocabularySize: Int, fingerprint: UInt64, vocabularyFile: String?, blockSize: Int, reordered: Bool,
                scale: Float, bm25: BM25Parameters?, segments: [SegmentEntry]) {
        self.kind = kind
        self.vocabularySize = vocabularySize
        self.fingerprint = fingerprint
        self.vocabularyFile = vocabularyFile
        self.blockSize = blockSize
        self.reordered = reordered
        self.scale = scale
        self.bm25 = bm25
        self.segments = segments
        created = ISO8601DateFormatter().string(from: Date())
    }

    public init(path: String) throws(SpladeError) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SpladeError(.badInput, "index manifest missing or unreadable", location: path, hint: "rebuild the index")
        }
        func corrupt(_ what: String) -> SpladeError {
            SpladeError(.badInput, "corrupt index manifest: \(what)", location: path, hint: "rebuild the index")
        }
        let json: JSONValue
        do { json = try JSON.parse([UInt8](data)) } catch { throw corrupt(error.description) }
        func int(_ value: JSONValue?) -> Int? { value?.doubleValue.flatMap { Int(exactly: $0) } }
        guard json["format"]?.stringValue == Self.formatName else { throw corrupt("not a splade-index manifest") }
        guard int(json["version"]) == Self.version else {
            throw SpladeError(.badInput, "index format version \(json["version"]?.doubleValue ?? 0) is not supported (this build reads \(Self.version))",
                              location: path, hint: "rebuild the index with this splade-index")
        }
        guard let kind = json["kind"]?.stringValue.flatMap(Kind.init(rawValue:)),
              let vocabularySize = int(json["vocabularySize"]), vocabularySize > 0,
              let fingerprint = json["vocabularyFingerprint"]?.stringValue.flatMap({ UInt64($0, radix: 16) }),
              let blockSize = int(json["blockSize"]), (1...SegmentLayout.maxBlockSize).contains(blockSize),
              case .bool(let reordered)? = json["reordered"],
              let scale = json["scale"]?.doubleValue.map(Float.init), scale > 0,
              case .array(let segmentValues)? = json["segments"]
        else { throw corrupt("missing or invalid fields") }
        var segments: [SegmentEntry] = []
        for value in segmentValues {
            guard let file = value["file"]?.stringValue, IndexDirectory.isPlainName(file), file.hasSuffix(".spi"),
                  let documents = int(value["documents"]), let deleted = int(value["deleted"]),
                  documents >= 0, (0...documents).contains(deleted)
            else { throw corrupt("invalid segment entry") }
            if segments.contains(where: { $0.file == file }) { throw corrupt("segment \(file) is listed twice") }
            let deletions = value["deletions"]?.stringValue
            // A segment's deletions are always written beside it by name: another's would delete other documents.
            if let deletions, deletions != IndexUpdate.deletionsName(file) {
                throw corrupt("segment \(file) names the deletions file \(deletions), not its own")
            }
            segments.append(SegmentEntry(file: file, documents: documents, deleted: deleted, deletionsFile: deletions))
        }
        // The totals are written for people reading the manifest; they must still agree with the segments.
        guard int(json["documents"]) == segments.reduce(0, { $0 + $1.documents - $1.deleted }),
              int(json["deleted"]) == segments.reduce(0, { $0 + $1.deleted })
        else { throw corrupt("the document counts do not add up over the segments") }
        var bm25: BM25Parameters?
        if let parameters = json["bm25"], case .object = parameters {
            guard let k1 = parameters["k1"]?.doubleValue, let b = parameters["b"]?.doubleValue,
                  let averageLength = parameters["averageLength"]?.doubleValue,
                  k1.isFinite, k1 >= 0, (0...1).contains(b), averageLength.isFinite, averageLength >= 0
            else { throw corrupt("invalid bm25 parameters") }
            bm25 = BM25Parameters(k1: k1, b: b, averageLength: averageLength)
        }
        let vocabularyFile = json["vocabulary"]?.stringValue
        if let vocabularyFile, !IndexDirectory.isPlainName(vocabularyFile) { throw corrupt("invalid vocabulary file name") }
        self.init(kind: kind, vocabularySize: vocabularySize, fingerprint: fingerprint, vocabularyFile: vocabularyFile,
                  blockSize: blockSize, reordered: reordered, scale: scale, bm25: bm25, segments: segments)
        created = json["created"]?.stringValue ?? ""
    }
}

extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
