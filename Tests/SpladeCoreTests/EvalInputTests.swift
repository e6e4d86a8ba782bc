import Foundation
import Testing
@testable import SpladeCore

/// Reading qrels and runs: both formats, what is accepted, and where a bad line is reported.
struct EvalInputTests {
    func temporaryFile(_ text: String, suffix: String = ".trec") throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString)\(suffix)").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func error(_ body: () throws(SpladeError) -> Void) -> SpladeError? {
        do { try body() } catch { return error }
        return nil
    }

    @Test func qrelsLevelsRelevantCountsAndIdealGains() throws {
        let path = try temporaryFile("q1 0 a 1\nq1 0 b 3\n\nq1\t0\tc 0\nq1 0 d -1\nq1 0 e 2\nq2 0 x 1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let qrels = try Qrels(path: path)
        let q1 = try #require(qrels.queries["q1"])
        #expect(q1.levels == ["a": 1, "b": 3, "c": 0, "d": -1, "e": 2])
        #expect(q1.relevantCount(atLeast: 1) == 3 && q1.relevantCount(atLeast: 2) == 2)
        #expect(q1.idealGains == [3, 2, 1])
        #expect(qrels.queries.count == 2)
        #expect(qrels.warnings.isEmpty)
    }

    @Test func repeatedJudgmentKeepsTheFirstWithAWarning() throws {
        let path = try temporaryFile("q1 0 a 1\nq1 0 a 0\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let qrels = try Qrels(path: path)
        #expect(qrels.queries["q1"]?.levels == ["a": 1])
        #expect(qrels.warnings.map(\.location) == ["\(path):2"])
    }

    @Test func malformedQrelsLinesAreErrorsWithTheirLocation() throws {
        for (text, message) in [("q1 0 a 1\nq1 0 b\n", "expected 4 fields"), ("q1 0 a 1\nq1 0 b high\n", "is not an integer")] {
            let path = try temporaryFile(text)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let failure = try #require(error { () throws(SpladeError) in _ = try Qrels(path: path) })
            #expect(failure.kind == .badInput)
            #expect(failure.location == "\(path):2")
            #expect(failure.message.contains(message))
        }
    }

    /// Ids are compared byte for byte, as trec_eval's strcmp compares them: "é" as U+00E9 and as e + U+0301 are
    /// two documents (and two queries), though Swift's String equality holds them equal.
    @Test func idsThatDifferOnlyInUnicodeFormAreDifferentIds() throws {
        let composed = "\u{E9}", decomposed = "e\u{301}"
        let qrels = try Qrels(path: try temporaryFile("q1 0 \(composed) 1\n\(composed) 0 d 1\n"))
        let path = try temporaryFile("q1 Q0 \(decomposed) 1 2 t\nq1 Q0 \(composed) 2 1 t\n\(decomposed) Q0 d 1 1 t\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Run(path: path, name: "r")
        #expect(run.warnings.isEmpty && run.queries.count == 2 && run.queries[ExactID("q1")]?.count == 2)
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: try Metric.parseList("P@1,MRR"))
        // q1: the decomposed document ranks first but is not the judged one; query é has no results here.
        #expect(evaluation.queries == ["q1"] && evaluation.values == [[0, 0.5]])
    }

    @Test func trecRunKeepsInputOrderAndDropsRepeatedDocuments() throws {
        let path = try temporaryFile("q1 Q0 a 1 2.5 t\nq1 Q0 b 2 1e0 t\nq2 Q0 a 1 -3 t\nq1 Q0 a 3 0.5 t\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Run(path: path, name: "r")
        #expect(run.queries["q1"]?.map(\.document) == ["a", "b"])
        #expect(run.queries["q1"]?.map(\.score) == [2.5, 1])
        #expect(run.queries["q2"]?.map(\.rank) == [1])
        #expect(run.warnings.count == 1)
        #expect(run.warnings.first?.location == "\(path):4")
        #expect(run.warnings.first?.message.contains("duplicate document a for query q1") == true)
    }

    @Test func jsonLinesRunAcceptsTheFieldNamesOfOtherTools() throws {
        let path = try temporaryFile("""
            {"qid": "q1", "docno": "a", "rank": 1, "score": 2.0}
            {"query_id": "q1", "docid": 7, "score": 1.5}
            {"qid": 5, "doc_id": "c", "score": -1, "extra": [1]}
            q1 Q0 d 4 1.0 trec-lines-mix

            """, suffix: ".jsonl")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Run(path: path, name: "r")
        #expect(run.queries["q1"]?.map(\.document) == ["a", "7", "d"])
        // Without "rank", the position within the query's lines.
        #expect(run.queries["q1"]?.map(\.rank) == [1, 2, 4])
        #expect(run.queries["5"]?.map(\.document) == ["c"])
    }

    /// What trec_eval 9 reads, read alike: `#` comment lines (runs and qrels), fields after the run tag, a rank
    /// column that is not an integer (trec_eval never reads it; the line's position in its query's stands in), a
    /// TREC query id that starts with "{" (a JSON object starts with `{"` or is `{}`), and fields separated by any of
    /// C's isspace() characters (a vertical tab, a form feed).
    @Test func linesTrecEvalAcceptsAreAccepted() throws {
        let runPath = try temporaryFile("""
            # a run made by hand
            q1 Q0 a 1.0 2 my run tag
              # an indented comment
            q1 Q0\u{0B}b - 1\u{0C}t
            {q2} Q0 c 1 1 t

            """)
        let qrelsPath = try temporaryFile("# four words here\n#\nq1 0\u{0B}b 1\n{q2} 0 c 1\n")
        defer { for path in [runPath, qrelsPath] { try? FileManager.default.removeItem(atPath: path) } }
        let run = try Run(path: runPath, name: "r")
        #expect(run.queries.count == 2)
        #expect(run.queries["q1"]?.map(\.document) == ["a", "b"] && run.queries["q1"]?.map(\.rank) == [1, 2])
        #expect(run.queries["{q2}"]?.map(\.document) == ["c"])
        let qrels = try Qrels(path: qrelsPath)
        #expect(qrels.queries.count == 2 && qrels.queries["q1"]?.levels == ["b": 1])
        let evaluation = Evaluator.evaluate(run, qrels: qrels, metrics: try Metric.parseList("MRR"))
        #expect(evaluation.queries == ["q1", "{q2}"] && evaluation.values == [[0.5], [1]])
    }

    @Test func malformedRunLinesAreErrorsWithTheirLocation() throws {
        let cases = [
            ("q1 Q0 a 1 2.5\n", "expected 6 fields"),
            ("q1 Q0 a 1 high t\n", "score \"high\" is not a finite number"),
            ("q1 Q0 a 1 nan t\n", "not a finite number"),
            ("{\"qid\": \"q1\", \"score\": 1}\n", "missing field \"docno\""),
            ("{\"qid\": \"q1\", \"docno\": \"a\"}\n", "missing field \"score\""),
            ("{\"qid\": \"q1\", \"docno\": \"a\", \"score\": \"1\"}\n", "field \"score\" is string"),
            ("{\"qid\": [1], \"docno\": \"a\", \"score\": 1}\n", "field \"qid\" is array"),
            ("{\"qid\": \"q1\", \n", "invalid JSON"),
        ]
        for (line, message) in cases {
            let path = try temporaryFile("q0 Q0 x 1 1 t\n" + line)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let failure = try #require(error { () throws(SpladeError) in _ = try Run(path: path, name: "r") }, "\(line)")
            #expect(failure.kind == .badInput)
            #expect(failure.location == "\(path):2", "\(line)")
            #expect(failure.message.contains(message), "\(failure.message)")
        }
        // In JSON Lines (by the lines before, or the file's name) a line that is no JSON object is said to be that.
        let json = "{\"qid\": \"q1\", \"docno\": \"a\", \"score\": 1}\n"
        for (name, text) in [("run.txt", json + "not json\n"), ("run.jsonl", "not json\n" + json)] {
            let path = NSTemporaryDirectory() + "\(UUID())-" + name
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            let failure = try #require(error { () throws(SpladeError) in _ = try Run(path: path, name: "r") })
            #expect(failure.message.hasPrefix("not a JSON object (a line of JSON Lines); as a TREC line: expected 6 fields"),
                    "\(failure.message)")
        }
    }

    @Test func emptyInputsAreErrors() throws {
        let path = try temporaryFile("\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(error { () throws(SpladeError) in _ = try Run(path: path, name: "r") }?.kind == .badInput)
        #expect(error { () throws(SpladeError) in _ = try Qrels(path: path) }?.kind == .badInput)
        #expect(error { () throws(SpladeError) in _ = try Qrels(path: path + ".missing") }?.kind == .missingInput)
    }
}
