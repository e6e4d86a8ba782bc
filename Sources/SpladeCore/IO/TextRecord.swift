/// One text to process: its id (any JSON scalar, passed through unchanged), its text, and the record's
/// other fields, which JSON Lines outputs pass through.
public struct TextRecord: Sendable {
    public var id: JSONValue
    public var text: String
    public var otherFields: [(key: String, value: JSONValue)] = []
}

/// What a model encodes for one record: a text to tokenize, or the token ids splade-tokenize wrote for one.
public enum EncoderInput: Sendable {
    case text(String)
    case tokenIds([Int32])

    /// The ids to encode: the text tokenized, or the given ids cut to `maxLength` as the tokenizer cuts a text
    /// (the last id, [SEP], kept).
    public func tokenIds(session: TokenizerSession, maxLength: Int) throws(SpladeError) -> [Int32] {
        switch self {
        case .text(let text): return try session.encode(text, maxLength: maxLength)
        case .tokenIds(let ids): return ids.count > maxLength ? Array(ids.prefix(maxLength - 1)) + [ids.last!] : ids
        }
    }
}

/// How text records are read from input lines: JSON Lines with chosen fields, or plain lines.
public struct TextRecordFormat: Sendable {
    /// Fields joined with a space into the text (`["title", "text"]` gives "title text").
    public var textFields: [String]
    public var idField: String
    /// Each line is a text; its id is the line number.
    public var plainLines: Bool
    /// The fields the tool writes itself: an input field of the same name does not pass through.
    public var writtenFields: Set<String> = []

    /// The fields of a splade-tokenize record (and Hugging Face's) that describe its tokens: an encoder's output leaves them out.
    public static let tokenizationFields: Set<String> = ["input_ids", "tokens", "attention_mask", "token_type_ids"]

    public init(textFields: [String] = ["text"], idField: String = "id", plainLines: Bool = false) {
        self.textFields = textFields
        self.idField = idField
        self.plainLines = plainLines
    }

    /// Parses one input line; errors carry `FILE:LINE`.
    public func parse(_ line: Line, file: String) throws(SpladeError) -> TextRecord {
        let location = "\(file):\(line.number)"
        guard plainLines else { return try record(from: try Self.json(line, location: location), location: location) }
        guard UTF8Validation.isValid(line.bytes) else {
            throw SpladeError(.badInput, "invalid UTF-8", location: location)
        }
        return TextRecord(id: .number(String(line.number)), text: String(decoding: line.bytes, as: UTF8.self))
    }

    /// The JSON value of a record line; a line that is no JSON object at all is most likely plain text, and said so.
    static func json(_ line: Line, location: String) throws(SpladeError) -> JSONValue {
        try JSONLine.value(line.bytes, location: location) {
            if line.bytes.isEmpty { return "empty line; use --lines for plain text input" }
            let start = line.bytes.first { ![0x20, 0x09, 0x0D].contains($0) }
            return start != UInt8(ascii: "{") ? "use --lines for plain text input (one text per line)" : nil
        }
    }

    /// The record of an already parsed JSON line.
    public func record(from value: JSONValue, location: String) throws(SpladeError) -> TextRecord {
        guard case .object = value else {
            throw SpladeError(.badInput, "expected a JSON object, found \(value.typeName)", location: location,
                              hint: "use --lines for plain text input")
        }
        let id = try recordId(of: value, location: location)
        var parts: [String] = []
        for field in textFields {
            guard let part = value[field] else {
                throw SpladeError(.badInput, "missing field \"\(field)\"", location: location)
            }
            guard let string = part.stringValue else {
                throw SpladeError(.badInput, "field \"\(field)\" is \(part.typeName), expected a string", location: location)
            }
            parts.append(string)
        }
        return TextRecord(id: id, text: parts.joined(separator: " "), otherFields: otherFields(of: value, read: Set(textFields)))
    }

    /// The fields of a record object that pass through: all but the id (the --id-field, and "id", which the output's
    /// id is named), those read and those the tool writes.
    func otherFields(of value: JSONValue, read: Set<String>) -> [(key: String, value: JSONValue)] {
        guard case .object(let members) = value else { return [] }
        return members.filter { $0.key != idField && $0.key != "id" && !read.contains($0.key) && !writtenFields.contains($0.key) }
    }

    /// One line's id, what to encode (the token ids of a splade-tokenize record when it has `"input_ids"`, else
    /// its text: the fields, or the line itself with --lines) and its fields that pass through (of either kind of
    /// record, all but the id, the text fields and `writtenFields`). Errors carry `FILE:LINE`.
    public func encoderInput(_ line: Line, file: String, vocabularySize: Int)
        throws(SpladeError) -> (id: JSONValue, input: EncoderInput, otherFields: [(key: String, value: JSONValue)]) {
        if plainLines {
            let record = try parse(line, file: file)
            return (record.id, .text(record.text), [])
        }
        let location = "\(file):\(line.number)"
        let json = try Self.json(line, location: location)
        guard let ids = try tokenIds(of: json, vocabularySize: vocabularySize, location: location) else {
            let record = try record(from: json, location: location)
            return (record.id, .text(record.text), record.otherFields)
        }
        guard ids.count >= 2 else { throw SpladeError(.badInput, "input_ids needs at least [CLS] and [SEP]", location: location) }
        return (try recordId(of: json, location: location), .tokenIds(ids), otherFields(of: json, read: Set(textFields)))
    }

    /// The token ids of a splade-tokenize record (`"input_ids": [2, 1045, 3]`), each below `vocabularySize`, without
    /// the padding a Hugging Face `attention_mask` masks at the end; nil when the record has no such field (a text
    /// record). `token_type_ids`, when given, must be all 0: one text, not a pair.
    public func tokenIds(of value: JSONValue, vocabularySize: Int, location: String) throws(SpladeError) -> [Int32]? {
        guard let field = value["input_ids"] else { return nil }
        guard case .array(let values) = field else {
            throw SpladeError(.badInput, "input_ids is \(field.typeName), expected an array of token ids", location: location)
        }
        var ids: [Int32] = []
        ids.reserveCapacity(values.count)
        for (position, value) in values.enumerated() {
            guard let id = value.doubleValue.flatMap({ Int32(exactly: $0) }), id >= 0, Int(id) < vocabularySize else {
                let shown = if case .number(let text) = value { text } else { value.typeName }
                throw SpladeError(.badInput, "input_ids[\(position)] (\(shown)) is not a token id below the vocabulary's \(vocabularySize)",
                                  location: location)
            }
            ids.append(id)
        }
        if let types = value["token_type_ids"] {
            let values = try Self.flags(types, field: "token_type_ids", count: ids.count, location: location)
            if let second = values.firstIndex(of: 1) {
                throw SpladeError(.badInput, "token_type_ids[\(second)] is 1: a second text of a pair, which SPLADE does not encode "
                                  + "(every type must be 0)", location: location)
            }
        }
        // Hugging Face pads a batch at the end and masks the padding: left out here, as the model leaves it out. A 0 before a
        // 1 (left padding, a token masked inside) would shift the positions of the tokens after it, so it is refused.
        if let mask = value["attention_mask"] {
            let values = try Self.flags(mask, field: "attention_mask", count: ids.count, location: location)
            let length = values.firstIndex(of: 0) ?? values.count
            if let unmasked = values[length...].firstIndex(of: 1) {
                throw SpladeError(.badInput, "attention_mask[\(unmasked)] is 1 after a 0 at \(length): only padding at the end can be masked",
                                  location: location)
            }
            guard length >= 2 else {
                throw SpladeError(.badInput, "attention_mask masks all but \(length) of the \(counted(ids.count, "token id")): a record needs "
                                  + "at least [CLS] and [SEP]", location: location)
            }
            ids.removeLast(ids.count - length)
        }
        return ids
    }

    /// A field of 0s and 1s, one per token id (attention_mask, token_type_ids).
    private static func flags(_ field: JSONValue, field name: String, count: Int, location: String) throws(SpladeError) -> [Int] {
        guard case .array(let values) = field else {
            throw SpladeError(.badInput, "\(name) is \(field.typeName), expected an array of 0 and 1", location: location)
        }
        guard values.count == count else {
            throw SpladeError(.badInput, "\(name) has \(values.count) values for \(counted(count, "token id"))", location: location)
        }
        var flags: [Int] = []
        flags.reserveCapacity(count)
        for (position, value) in values.enumerated() {
            guard let flag = value.doubleValue, flag == 0 || flag == 1 else {
                let shown = if case .number(let text) = value { text } else { value.typeName }
                throw SpladeError(.badInput, "\(name)[\(position)] (\(shown)) is not 0 or 1", location: location)
            }
            flags.append(Int(flag))
        }
        return flags
    }

    /// The id field of a record: a string or a number.
    public func recordId(of value: JSONValue, location: String) throws(SpladeError) -> JSONValue {
        guard let id = value[idField] else {
            throw SpladeError(.badInput, "missing field \"\(idField)\"", location: location)
        }
        switch id {
        case .string, .number: return id
        default: throw SpladeError(.badInput, "field \"\(idField)\" is \(id.typeName), expected a string or number",
                                   location: location)
        }
    }
}
