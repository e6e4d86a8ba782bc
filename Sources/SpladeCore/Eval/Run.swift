/// The fields of a TREC line (`qid Q0 docno rank score tag`). trec_eval splits them at ASCII blanks, Python's readers
/// (pytrec_eval's parse_run, ranx, pandas) at any Unicode white space: a field must hold neither.
public enum TRECField {
    /// Whether `text` can be one: non-empty, without white space (ASCII or Unicode: U+00A0, U+3000, U+2028, …), and
    /// without control characters (C0, DEL, C1: a NUL or an escape is no id a reader can print back).
    public static func isValid(_ text: String) -> Bool {
        !text.isEmpty && !text.unicodeScalars.contains(where: isSeparatorOrControl)
    }

    private static func isSeparatorOrControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value <= 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.properties.isWhitespace
    }

    /// What a field must be, for messages.
    public static let rule = "non-empty, without whitespace or control characters"

    /// `text` quoted as JSON writes it, with DEL, C1 controls and white space other than a space escaped too, so that
    /// what makes an id unfit shows, never acts on a terminal.
    public static func quoted(_ text: String) -> String {
        var writer = JSONWriter()
        writer.appendString(text)
        var shown = ""
        for scalar in String(decoding: writer.bytes, as: UTF8.self).unicodeScalars {
            if scalar.value != 0x20 && isSeparatorOrControl(scalar) {
                let hex = String(scalar.value, radix: 16)  // all below U+10000: four digits, as JSON's \u001b
                shown += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }
}

/// A retrieval run: for each query, the documents it returned with their scores.
///
/// Read from TREC lines (`qid Q0 docno rank score tag`) or JSON Lines
/// (`{"qid": …, "docno": …, "rank": …, "score": …}`), decided line by line, optionally zstd-compressed.
public struct Run: Sendable {
    public struct Entry: Sendable {
        public var document: String
        public var score: Double
        /// The run's own rank (the TREC rank column, JSON "rank", else the position in the query's
        /// input): the tie-break of `--tie-break rank`.
        public var rank: Int
        /// The input line it was read from (0 for entries made in code): where tools that use a run's
        /// documents, like hard-negative mining, point when one is wrong.
        public var line: Int
        public init(document: String, score: Double, rank: Int, line: Int = 0) {
            self.document = document
            self.score = score
            self.rank = rank
            self.line = line
        }
    }

    /// The name shown in reports.
    public var name: String
    /// Query → entries in input order, a repeated document dropped (the first is kept).
    public private(set) var queries: [ExactID: [Entry]] = [:]
    /// Repeated documents.
    public private(set) var warnings: [InputWarning] = []

    public init(name: String, queries: [ExactID: [Entry]]) {
        self.name = name
        self.queries = queries
    }

    /// Reads a run file (`-` is standard input; zstd is detected). A malformed line is an error
    /// with its `FILE:LINE`; blank lines and, as in trec_eval, `#` comment lines are skipped.
    public init(path: String, name: String) throws(SpladeError) {
        self.name = name
        let reader = try LineReader(path: path)
        var builder = Builder()
        var fields: [Range<Int>] = []
        // Whether the run is JSON Lines (by its name or its lines so far): a bad line is then a bad JSON line, not a TREC one.
        var jsonLines = reader.name.hasSuffix(".jsonl") || reader.name.hasSuffix(".jsonl.zst")
        while let line = try reader.next() {
            let location = InputLocation(file: reader.name, line: line.number)
            let record: RunRecord
            if FieldScanner.isJSONObject(line.bytes) {
                record = try RunRecord(jsonLine: line.bytes, location: location)
                jsonLines = true
            } else {
                FieldScanner.split(line.bytes, into: &fields)
                if fields.isEmpty || FieldScanner.isComment(line.bytes, fields: fields) { continue }
                do throws(SpladeError) {
                    record = try RunRecord(trecLine: line.bytes, fields: fields, location: location)
                } catch {
                    guard jsonLines else { throw error }
                    throw SpladeError(.badInput, "not a JSON object (a line of JSON Lines); as a TREC line: \(error.message)",
                                      location: location.description)
                }
            }
            try builder.add(record, location: location)
        }
        guard !builder.entries.isEmpty else {
            throw SpladeError(.badInput, "empty run", location: reader.name)
        }
        queries = Dictionary(uniqueKeysWithValues: zip(builder.queryNames, builder.entries))
        warnings = builder.warnings
    }

    /// Groups records by query, dropping repeated documents. Runs list a query's lines together,
    /// so the last query's slot is remembered and the lookup skipped while the query repeats.
    private struct Builder {
        var queryIndex: [ExactID: Int] = [:]
        var queryNames: [ExactID] = []
        var entries: [[Entry]] = []
        var seen: [Set<ExactID>] = []
        var warnings: [InputWarning] = []
        var last: (query: ArraySlice<UInt8>, slot: Int)?
        var deepest = 0

        mutating func add(_ record: RunRecord, location: InputLocation) throws(SpladeError) {
            let slot: Int
            if let last, last.query == record.queryBytes {
                slot = last.slot
            } else {
                guard let text = FieldScanner.string(record.queryBytes) else {
                    throw SpladeError(.badInput, "invalid UTF-8", location: location.description)
                }
                let query = ExactID(text)
                if let existing = queryIndex[query] {
                    slot = existing
                } else {
                    slot = entries.count
                    queryIndex[query] = slot
                    queryNames.append(query)
                    entries.append([])
                    // Runs give every query about the same depth: size for the deepest so far.
                    seen.append(Set(minimumCapacity: deepest))
                }
                last = (record.queryBytes, slot)
            }
            guard seen[slot].insert(ExactID(record.document)).inserted else {
                warnings.append(InputWarning(location: location.description,
                                             message: "duplicate document \(record.document) for query \(queryNames[slot]); keeping the first"))
                return
            }
            entries[slot].append(Entry(document: record.document, score: record.score,
                                       rank: record.rank ?? entries[slot].count + 1, line: location.line))
            deepest = max(deepest, entries[slot].count)
        }
    }
}

/// One parsed run line. The query id stays bytes: it usually repeats the previous line's.
struct RunRecord {
    var queryBytes: ArraySlice<UInt8>
    var document: String
    var score: Double
    var rank: Int?

    /// `qid Q0 docno rank score tag`: the second field, the tag and any after it are ignored, as trec_eval does. trec_eval
    /// never reads the rank either; here an integer one orders ties under `--tie-break rank`, and another counts as
    /// absent (the line's position in its query's stands in).
    init(trecLine bytes: [UInt8], fields: [Range<Int>], location: InputLocation) throws(SpladeError) {
        guard fields.count >= 6 else {
            throw SpladeError(.badInput, "expected 6 fields (qid Q0 docno rank score tag), found \(fields.count)",
                              location: location.description)
        }
        guard let document = FieldScanner.string(bytes[fields[2]]) else {
            throw SpladeError(.badInput, "invalid UTF-8", location: location.description)
        }
        let rank = FieldScanner.integer(bytes, fields[3])
        guard let score = FieldScanner.finiteDouble(bytes, fields[4]) else {
            throw SpladeError(.badInput, "score \"\(String(decoding: bytes[fields[4]], as: UTF8.self))\" is not a finite number",
                              location: location.description)
        }
        self.queryBytes = bytes[fields[0]]
        self.document = document
        self.score = score
        self.rank = rank
    }

    /// The query id fields accepted in JSON Lines, in order of preference; likewise documents.
    static let queryFields = ["qid", "query_id"]
    static let documentFields = ["docno", "docid", "doc_id"]

    /// `{"qid": …, "docno": …, "score": …, "rank": …}`; ids may be strings or numbers, rank is optional (and read as
    /// a TREC line's is).
    init(jsonLine bytes: [UInt8], location: InputLocation) throws(SpladeError) {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw SpladeError(.badInput, "invalid UTF-8", location: location.description)
        }
        let value: JSONValue
        do {
            value = try JSON.parse(bytes)
        } catch {
            throw SpladeError(.badInput, error.description, location: location.description)
        }
        func id(_ names: [String]) throws(SpladeError) -> String {
            guard let name = names.first(where: { value[$0] != nil }), let field = value[name] else {
                throw SpladeError(.badInput, "missing field \"\(names[0])\" (or \(names.dropFirst().map { "\"\($0)\"" }.joined(separator: ", ")))",
                                  location: location.description)
            }
            switch field {
            case .string(let text): return text
            case .number(let literal): return literal
            default:
                throw SpladeError(.badInput, "field \"\(name)\" is \(field.typeName), expected a string or number",
                                  location: location.description)
            }
        }
        queryBytes = ArraySlice(try id(Self.queryFields).utf8)
        document = try id(Self.documentFields)
        guard let field = value["score"] else {
            throw SpladeError(.badInput, "missing field \"score\"", location: location.description)
        }
        guard let score = field.doubleValue, score.isFinite else {
            throw SpladeError(.badInput, "field \"score\" is \(field.typeName), expected a finite number",
                              location: location.description)
        }
        self.score = score
        // As in a TREC line: an integer orders ties under --tie-break rank, anything else counts as absent.
        switch value["rank"] {
        case .number(let literal), .string(let literal): rank = Int(literal)
        default: rank = nil
        }
    }
}
