/// The judgments of one query: a relevance level per judged document.
public struct QueryJudgments: Sendable {
    /// Document → relevance level. Unjudged documents are not relevant; negative levels are non-relevant too, and
    /// bpref counts them, as unjudged ones, neither way.
    public private(set) var levels: [ExactID: Int] = [:]
    /// The positive levels, highest first: the ideal ranking's gains for nDCG.
    public private(set) var idealGains: [Int] = []

    /// Documents judged at `level` or above (≥ 1; trec_eval's -l, 1 by default): the R of recall and MAP.
    public func relevantCount(atLeast level: Int) -> Int {
        idealGains.prefix { $0 >= level }.count
    }

    /// Records a judgment; returns false (and keeps the first) when the document is already judged.
    mutating func add(document: ExactID, level: Int) -> Bool {
        guard levels[document] == nil else { return false }
        levels[document] = level
        if level > 0 {
            let position = idealGains.firstIndex { $0 < level } ?? idealGains.endIndex
            idealGains.insert(level, at: position)
        }
        return true
    }
}

/// Relevance judgments in TREC format: `qid iteration docno relevance`, one per line.
public struct Qrels: Sendable {
    public private(set) var queries: [ExactID: QueryJudgments] = [:]
    /// Repeated judgments (the first is kept).
    public private(set) var warnings: [InputWarning] = []

    public init() {}

    /// Reads a qrels file (`-` is standard input; zstd is detected). Malformed lines are errors
    /// with their `FILE:LINE`; blank lines and, as in trec_eval, `#` comment lines are skipped.
    public init(path: String) throws(SpladeError) {
        let reader = try LineReader(path: path)
        var fields: [Range<Int>] = []
        while let line = try reader.next() {
            let location = "\(reader.name):\(line.number)"
            let bytes = line.bytes
            FieldScanner.split(bytes, into: &fields)
            if fields.isEmpty || FieldScanner.isComment(bytes, fields: fields) { continue }
            guard fields.count == 4 else {
                throw SpladeError(.badInput, "expected 4 fields (qid iteration docno relevance), found \(fields.count)",
                                  location: location)
            }
            guard let query = FieldScanner.string(bytes[fields[0]]),
                  let document = FieldScanner.string(bytes[fields[2]]) else {
                throw SpladeError(.badInput, "invalid UTF-8", location: location)
            }
            guard let level = FieldScanner.integer(bytes, fields[3]) else {
                throw SpladeError(.badInput,
                                  "relevance \"\(String(decoding: bytes[fields[3]], as: UTF8.self))\" is not an integer",
                                  location: location)
            }
            add(query: query, document: document, level: level, location: location)
        }
        if queries.isEmpty {
            throw SpladeError(.badInput, "no judgments", location: reader.name)
        }
    }

    /// Where the qrels file at `path` judges `document` for `query` (`FILE:LINE`, the first such line), for a
    /// diagnostic about that judgment found after loading; the file's name alone when it cannot be read again
    /// (standard input).
    public static func location(ofQuery query: String, document: String, in path: String) -> String {
        let name = InputFile.displayName(path)
        guard path != "-", let reader = try? LineReader(path: path) else { return name }
        var fields: [Range<Int>] = []
        while let line = try? reader.next() {
            FieldScanner.split(line.bytes, into: &fields)
            guard fields.count == 4, !FieldScanner.isComment(line.bytes, fields: fields) else { continue }
            if FieldScanner.string(line.bytes[fields[0]]) == query && FieldScanner.string(line.bytes[fields[2]]) == document {
                return "\(name):\(line.number)"
            }
        }
        return name
    }

    /// Adds one judgment (for building qrels in code); a repeated document is a warning.
    public mutating func add(query: String, document: String, level: Int, location: String = "") {
        if !queries[ExactID(query), default: QueryJudgments()].add(document: ExactID(document), level: level) {
            warnings.append(InputWarning(location: location,
                                         message: "document \(document) judged twice for query \(query); keeping the first"))
        }
    }
}
