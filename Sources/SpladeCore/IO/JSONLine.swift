/// One line of JSON Lines input, parsed, with `FILE:LINE` errors.
public enum JSONLine {
    /// The JSON value of a line: invalid UTF-8 or JSON is bad input at `location` (invalid JSON with the hint
    /// `invalidJSONHint` gives, if any).
    public static func value(_ bytes: [UInt8], location: String,
                             invalidJSONHint: (() -> String?)? = nil) throws(SpladeError) -> JSONValue {
        guard UTF8Validation.isValid(bytes) else {
            throw SpladeError(.badInput, "invalid UTF-8", location: location)
        }
        do {
            return try JSON.parse(bytes)
        } catch {
            throw SpladeError(.badInput, error.description, location: location, hint: invalidJSONHint?())
        }
    }

    /// The JSON object of a line (a record): anything else is bad input at `location`.
    public static func object(_ bytes: [UInt8], location: String) throws(SpladeError) -> JSONValue {
        let value = try value(bytes, location: location)
        guard case .object = value else {
            throw SpladeError(.badInput, "expected a JSON object, found \(value.typeName)", location: location)
        }
        return value
    }
}

extension JSONValue {
    /// The text of a string or number id ("d1", or a number's literal), as runs print it and as
    /// engines that take string ids need it; nil for other values.
    public var idText: String? {
        switch self {
        case .string(let s), .number(let s): return s
        default: return nil
        }
    }
}
