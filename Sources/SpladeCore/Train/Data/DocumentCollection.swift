/// The documents candidate ids refer to, read from JSON Lines: `{"id": …, "title": …, "text": …}`.
///
/// A document's text is "title text" (the title only when present and not empty), cut to
/// `maxCharacters` Unicode scalars, as the reference trainer builds it from the hpprc/emb collections.
/// Those collections have no id column: a candidate id is the row's position. So when the first
/// record has no id field, every record's id is its 0-based position in the file.
public final class DocumentCollection: Sendable {
    /// Documents are cut to this many characters unless told otherwise, as the reference data preparation cuts them.
    public static let defaultMaxCharacters = 1024

    private let texts: [String]
    /// Id → index into `texts`; nil when ids are positions.
    private let slots: [ExactID: Int]?
    /// The input's display name, for diagnostics.
    public let name: String

    /// The text of a document, nil when the id is not in the collection. Ids are compared as text, byte for byte:
    /// the JSON number 12 and the string "12" are the same id.
    public func text(of id: String) -> String? {
        guard let slots else {
            guard let position = Int(id), texts.indices.contains(position) else { return nil }
            return texts[position]
        }
        return slots[ExactID(id)].map { texts[$0] }
    }

    public init(texts: [String], ids: [String]?, name: String) {
        self.texts = texts
        self.slots = ids.map { Dictionary($0.enumerated().map { (ExactID($1), $0) }, uniquingKeysWith: { first, _ in first }) }
        self.name = name
    }

    /// Reads a collection file (`-` is standard input; zstd is detected). Malformed records are
    /// errors with their `FILE:LINE`; a repeated id is one too, since candidates would be ambiguous.
    /// Blank lines are not documents; in a collection without ids, where a document's id is its place, a blank line
    /// before a document is an error (would it count as a place or not?).
    public convenience init(path: String, maxCharacters: Int = defaultMaxCharacters) throws(SpladeError) {
        let idField = "id"
        let reader = try LineReader(path: path)
        var texts: [String] = []
        var ids: [String]?
        var seen = Set<ExactID>()
        var blankLine: Int?
        while let line = try reader.next() {
            if line.isBlank {
                blankLine = blankLine ?? line.number
                continue
            }
            let location = "\(reader.name):\(line.number)"
            let value = try JSONLine.object(line.bytes, location: location)
            if texts.isEmpty, value[idField] != nil { ids = [] }
            if ids == nil, let blankLine {
                throw SpladeError(.badInput, "line \(blankLine) is blank, in a collection whose ids are the documents' places",
                                  location: location, hint: "remove the blank lines, or give every document an \"id\"")
            }
            if ids != nil {
                guard let field = value[idField], let id = field.idText else {
                    throw SpladeError(.badInput, "missing field \"\(idField)\" (a string or number)", location: location,
                                      hint: "the first record has one, so every record needs one")
                }
                guard seen.insert(ExactID(id)).inserted else {
                    throw SpladeError(.badInput, "document id \(id) appears twice", location: location)
                }
                ids!.append(id)
            }
            texts.append(try Self.documentText(value, maxCharacters: maxCharacters, location: location))
        }
        guard !texts.isEmpty else { throw SpladeError(.badInput, "empty collection", location: reader.name) }
        self.init(texts: texts, ids: ids, name: reader.name)
    }

    /// "title text" cut to `maxCharacters` scalars (Python's `text[0:max_len]` counts code points).
    static func documentText(_ value: JSONValue, maxCharacters: Int, location: String) throws(SpladeError) -> String {
        guard let field = value["text"] else {
            throw SpladeError(.badInput, "missing field \"text\"", location: location)
        }
        guard var text = field.stringValue else {
            throw SpladeError(.badInput, "field \"text\" is \(field.typeName), expected a string", location: location)
        }
        switch value["title"] {
        case nil, .null?:
            break
        case .string(let title)?:
            if !title.isEmpty { text = title + " " + text }
        case let other?:
            throw SpladeError(.badInput, "field \"title\" is \(other.typeName), expected a string", location: location)
        }
        let scalars = text.unicodeScalars
        guard scalars.count > maxCharacters else { return text }
        return String(String.UnicodeScalarView(scalars.prefix(maxCharacters)))
    }
}
