import Foundation
import Testing

/// splade-eval as a user runs it: formats, inputs, and every exit status it can give.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"))
struct EvalCLITests {
    let qrels = Tools.fixtures + "/ja-tiny/eval/qrels.trec"
    let runFile = Tools.fixtures + "/ja-tiny/eval/run.trec"

    func temporaryFile(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("eval-cli-\(UUID().uuidString).trec").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func json(_ run: ToolRun) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
    }

    func means(_ report: [String: Any], run index: Int = 0) throws -> [String: Double] {
        let runs = try #require(report["runs"] as? [[String: Any]])
        return try #require(runs[index]["means"] as? [String: Double])
    }

    @Test func helpHasExamplesAndTheExitStatusTable() throws {
        let run = try Tools.run("splade-eval", ["--help"])
        #expect(run.status == 0)
        #expect(run.stdoutText.contains("EXAMPLES"))
        #expect(run.stdoutText.contains("EXIT STATUS"))
        #expect(run.stdoutText.contains("--fail-under"))
    }

    @Test func tableOfTheDefaultMetrics() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, runFile])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutLines == ["run  queries  nDCG@10  MRR@10     MAP  Recall@100",
                                    "run       50   0.1170  0.3577  0.1419      0.6677"])
    }

    @Test func jsonWithPerQueryValuesMatchesTrecEval() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, "--json", "--per-query", "--metrics", "ndcg_cut_10,P_10", runFile])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try json(run)
        #expect(report["metrics"] as? [String] == ["nDCG@10", "P@10"])
        let means = try means(report)
        #expect(abs(means["nDCG@10"]! - 0.11703086109559363) < 1e-9)
        #expect(abs(means["P@10"]! - 0.138) < 1e-9)
        let runs = try #require(report["runs"] as? [[String: Any]])
        let perQuery = try #require(runs[0]["per_query"] as? [String: [String: Double]])
        #expect(perQuery.count == 50)
        #expect(abs(perQuery["q000"]!["nDCG@10"]! - 0.040088423335737304) < 1e-9)
    }

    @Test func irMeasuresMeans() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, "--json", "--ir-measures", "--metrics", "RR@10,nDCG@10", runFile])
        let means = try means(try json(run))
        #expect(abs(means["MRR@10"]! - 0.33260582010582) < 1e-9)
        #expect(abs(means["nDCG@10"]! - 0.10836190842184595) < 1e-9)
    }

    @Test func runFromStandardInputAndJSONLines() throws {
        let text = try String(contentsOfFile: runFile, encoding: .utf8)
        let piped = try Tools.run("splade-eval", ["--qrels", qrels, "--json"], stdin: text)
        #expect(piped.status == 0, "\(piped.stderr)")
        let jsonLines = text.split(separator: "\n").map { line -> String in
            let f = line.split(separator: " ")
            return #"{"qid":"\#(f[0])","docid":"\#(f[2])","rank":\#(f[3]),"score":\#(f[4])}"#
        }.joined(separator: "\n")
        let fromJSON = try Tools.run("splade-eval", ["--qrels", qrels, "--json", "-"], stdin: jsonLines)
        #expect(fromJSON.status == 0, "\(fromJSON.stderr)")
        #expect(try means(try json(piped)) == (try means(try json(fromJSON))))
        #expect(abs(try means(try json(piped))["MAP"]! - 0.14193235991674505) < 1e-9)
    }

    /// The published JQaRA runs are zstd-compressed: the report's row with run-order ties, and the
    /// paired tests of BM25 against SPLADE.
    @Test func zstdRunsGiveTheReportsJQaRARow() throws {
        let run = try Tools.run("splade-eval", [
            "--qrels", Tools.data("jqara/qrels.trec"), "--tie-break", "rank", "--metrics", "nDCG@10,MRR@10", "--json",
            Tools.data("jqara/run.japanese-splade-base-v1.trec.zst"), Tools.data("jqara/run.bm25.trec.zst"),
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try json(run)
        let splade = try means(report, run: 0), bm25 = try means(report, run: 1)
        #expect(abs(splade["nDCG@10"]! - 0.6441) < 0.00005 && abs(splade["MRR@10"]! - 0.8616) < 0.00005)
        #expect(abs(bm25["nDCG@10"]! - 0.4580) < 0.00005 && abs(bm25["MRR@10"]! - 0.7020) < 0.00005)
        #expect(report["baseline"] as? String == "run.japanese-splade-base-v1")
        let comparisons = try #require(report["comparisons"] as? [[String: Any]])
        #expect(comparisons.count == 2)
        #expect((comparisons[0]["p_randomization"] as? Double ?? 1) < 0.001)
        // Standard input decompresses too.
        let piped = try Tools.shell("splade-eval --qrels '\(Tools.data("jqara/qrels.trec"))' --metrics nDCG@10 --tie-break rank < '\(Tools.data("jqara/run.bm25.trec.zst"))'")
        #expect(piped.stdoutLines.last?.hasSuffix("0.4580") == true, "\(piped.stdoutText)\(piped.stderr)")
    }

    @Test func failUnderGates() throws {
        let failing = try Tools.run("splade-eval", ["--qrels", qrels, "--fail-under", "nDCG@10=0.5,MAP=0.1", runFile])
        #expect(failing.status == 1)
        #expect(failing.stderr == "splade-eval: gate failed: run: nDCG@10 0.1170 is under 0.5\n")
        #expect(failing.stdoutLines.count == 2)
        let passing = try Tools.run("splade-eval", ["--qrels", qrels, "--fail-under", "nDCG@10=0.1", "--fail-under", "P@10=0.13", runFile])
        #expect(passing.status == 0, "\(passing.stderr)")
        #expect(passing.stdoutLines.first?.hasSuffix("P@10") == true)
    }

    @Test(arguments: [
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 x 1.0 t\n", ":2: rank \"x\" is not an integer"),
        ("q1 Q0 d1 1 2.0\n", ":1: expected 6 fields"),
        ("{\"qid\": \"q1\", \"docno\": \"d1\"}\n", ":1: missing field \"score\""),
    ])
    func malformedRunExits65WithFileAndLine(text: String, message: String) throws {
        let path = try temporaryFile(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-eval", ["--qrels", qrels, path])
        #expect(run.status == 65)
        #expect(run.stderr.hasPrefix("splade-eval: error: \(path)\(message)"), "\(run.stderr)")
    }

    @Test func malformedQrelsExits65() throws {
        let path = try temporaryFile("q1 0 d1 1\nq1 0 d2\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-eval", ["--qrels", path, runFile])
        #expect(run.status == 65)
        #expect(run.stderr.hasPrefix("splade-eval: error: \(path):2: expected 4 fields"), "\(run.stderr)")
    }

    @Test func duplicateDocumentsAreAWarning() throws {
        let path = try temporaryFile("q000 Q0 d02467 1 2.0 t\nq000 Q0 d02467 2 1.0 t\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-eval", ["--qrels", qrels, path])
        #expect(run.status == 0)
        #expect(run.stderr == "splade-eval: warning: \(path):2: duplicate document d02467 for query q000; keeping the first\n")
    }

    @Test func missingInputsExit66() throws {
        let noRun = try Tools.run("splade-eval", ["--qrels", qrels, "/nonexistent/run.trec"])
        #expect(noRun.status == 66)
        #expect(noRun.stderr.hasPrefix("splade-eval: error: /nonexistent/run.trec: cannot open"))
        let noQrels = try Tools.run("splade-eval", ["--qrels", "/nonexistent/qrels", runFile])
        #expect(noQrels.status == 66)
    }

    @Test(arguments: [
        ["--metrics", "bleu@4"],
        ["--metrics", "P"],
        ["--tie-break", "random"],
        ["--fail-under", "nDCG@10"],
        ["--baseline", "nosuchrun"],
        ["--trials", "0"],
        ["--ir-measures", "--tie-break", "rank"],
        ["--plot", "-"],
    ])
    func usageErrorsExit64(arguments: [String]) throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels] + arguments + [runFile])
        #expect(run.status == 64, "\(arguments): \(run.stderr)")
    }

    @Test func qrelsAndRunCannotBothComeFromStandardInput() throws {
        let run = try Tools.run("splade-eval", ["--qrels", "-"], stdin: "q1 0 d1 1\n")
        #expect(run.status == 64)
    }

    @Test func aRunWithoutJudgedQueriesIsAWarning() throws {
        let path = try temporaryFile("other Q0 d1 1 1.0 t\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-eval", ["--qrels", qrels, path])
        #expect(run.status == 0)
        #expect(run.stderr.contains("warning: \(URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent): no query in common with the qrels"))
    }

    @Test func plotWritesAnSVGChart() throws {
        let svg = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let run = try Tools.run("splade-eval", ["--qrels", qrels, "--plot", svg, "--baseline", "2", runFile, runFile])
        #expect(run.status == 0, "\(run.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg"))
        #expect(text.contains("per query"))
    }

    @Test func fullDiskExits74() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, runFile], stdoutPath: "/dev/full")
        #expect(run.status == 74)
    }
}
