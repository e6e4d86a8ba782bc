import Foundation
import SpladeCLI
import SpladeCore

/// Formats a query's hits: TREC run lines (`qid Q0 docid rank score tag`) or JSON Lines
/// (`{"qid":…,"docno":…,"rank":…,"score":…}`, plus "text" with --with-text), which splade-eval reads.
struct RunWriter: Sendable {
    let format: SpladeSearch.Format
    let tag: String
    let texts: CollectionTexts?

    /// The lines of one query's hits, and how many of them --with-text found no text for. A TREC run cannot hold a
    /// document id that is empty or has whitespace in it (query ids and the tag are checked before the search):
    /// status 65, pointing to JSON Lines.
    func lines(for query: JSONValue, hits: [Fusion.Item]) throws(SpladeError) -> (bytes: [UInt8], missingTexts: Int) {
        var out = JSONWriter()
        var missingTexts = 0
        let qid = query.idText ?? ""
        for (rank, hit) in hits.enumerated() {
            let score = Self.score(hit.score)
            switch format {
            case .trec:
                guard TRECField.isValid(hit.key) else {
                    throw SpladeError(.badInput, "the index holds document id \(TRECField.quoted(hit.key)), a hit of query "
                                      + "\(TRECField.quoted(qid)), which a TREC run cannot hold (a field is \(TRECField.rule))",
                                      hint: "write JSON Lines with --format json")
                }
                out.bytes.append(contentsOf: "\(qid) Q0 \(hit.key) \(rank + 1) \(score) \(tag)\n".utf8)
            case .json:
                out.appendRaw("{\"qid\":")
                out.appendValue(query)
                out.appendRaw(",\"docno\":")
                out.appendString(hit.key)
                out.appendRaw(",\"rank\":")
                out.appendInt(rank + 1)
                out.appendRaw(",\"score\":")
                out.bytes.append(contentsOf: score.utf8)
                if let texts {
                    if let text = texts.text(of: hit.key) {
                        out.appendRaw(",\"text\":")
                        out.appendString(text)
                    } else {
                        missingTexts += 1
                    }
                }
                out.appendRaw("}\n")
            default:
                preconditionFailure("engine query bodies are written by writeEngineQueries, not as runs")
            }
        }
        return (out.bytes, missingTexts)
    }

    /// At least seven significant digits, as many as a Float score holds: six decimals from 1 up; below, seven
    /// digits in all (an exponent where they need one), so that small scores (small weights, fused ranks) that differ
    /// do not print alike, as trec_eval would then break their ties by docno.
    static func score(_ value: Double) -> String {
        abs(value) >= 1 || value == 0 ? String(format: "%.6f", value) : String(format: "%#.7g", value)
    }
}

/// The texts of a JSON Lines collection by id, for --with-text.
final class CollectionTexts: @unchecked Sendable {
    private var texts: [ExactID: String] = [:]
    /// The collection's display name, for the warning about hits it lacks.
    let name: String

    init(path: String, fields: [String]) throws(SpladeError) {
        let format = TextRecordFormat(textFields: TextInputOptions.fieldNames(fields) ?? ["text"])
        let reader = try LineReader(path: path)
        name = reader.name
        while let line = try reader.next() {
            if line.isBlank { continue }
            let record = try format.parse(line, file: reader.name)
            let key: String
            switch record.id {
            case .string(let s): key = s
            case .number(let literal): key = literal
            default: continue
            }
            texts[ExactID(key)] = record.text
        }
    }

    func text(of id: String) -> String? { texts[ExactID(id)] }
}
