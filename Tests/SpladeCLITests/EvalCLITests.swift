import Foundation
import Testing

/// splade-eval as a user runs it: formats, inputs, and every exit status it can give.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"))
struct EvalCLITests {
    let qrels = Tools.fixtures + "/ja-tiny/eval/qrels.trec"
    let runFile = Tools.fixtures + "/ja-tiny/eval/run.trec"

    /// What splade-eval notes of the fixture's run: 4 judged queries without results, 5 results without judgments.
    var leftOutNotes: String {
        "splade-eval: \(runFile): 4 of 54 judged queries are not in the run and are left out of the means, as trec_eval leaves "
            + "them (--missing-as-zero counts them as 0)\nsplade-eval: \(runFile): 5 of 55 queries of the run have no judgments "
            + "and are left out\n"
    }

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

    /// --relevance-level 2 against pytrec_eval-terrier 0.5.11 (relevance_level=2) on the fixture's graded qrels (levels 0–3):
    /// nDCG keeps its graded gain; the setting is in the JSON report; a level below 1 is a usage error.
    @Test func relevanceLevelMeansAsPytrecEval() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, "--json", "--relevance-level", "2",
                                                "--metrics", "MAP,Recall@100,nDCG@10,MRR", runFile])
        #expect(run.status == 0, "\(run.stderr)")
        let report = try json(run)
        let means = try means(report)
        #expect(abs(means["MAP"]! - 0.0865120361293584) < 1e-9)
        #expect(abs(means["Recall@100"]! - 0.6099627594627597) < 1e-9)
        #expect(abs(means["nDCG@10"]! - 0.11703086109559363) < 1e-9)
        #expect(abs(means["MRR"]! - 0.22781533989635863) < 1e-9)
        #expect((report["options"] as? [String: Any])?["relevance_level"] as? Int == 2)
        let zero = try Tools.run("splade-eval", ["--qrels", qrels, "--relevance-level", "0", runFile])
        #expect(zero.status == 64 && zero.stderr.contains("--relevance-level must be at least 1: qrels give 0"), "\(zero.stderr)")
    }

    /// --max-retrieved n (trec_eval -M): each ranking cut to its first n documents, in trec_eval's order (score in
    /// single precision descending, docno descending), before anything else. MAP and recall then equal MAP@n and
    /// Recall@n; every metric equals the one of the run cut so beforehand.
    @Test func maxRetrievedEvaluatesTheFirstDocumentsOfEachRanking() throws {
        let metrics = "MAP,Recall@1000,bpref,Rprec,MRR,nDCG,P@10"
        let capped = try Tools.run("splade-eval", ["--qrels", qrels, "--json", "--max-retrieved", "5", "--metrics", metrics, runFile])
        #expect(capped.status == 0, "\(capped.stderr)")
        let report = try json(capped)
        #expect((report["options"] as? [String: Any])?["max_retrieved"] as? Int == 5)
        let values = try means(report)
        let cut = try means(try json(Tools.run("splade-eval", ["--qrels", qrels, "--json", "--metrics", "MAP@5,Recall@5", runFile])))
        #expect(abs(values["MAP"]! - cut["MAP@5"]!) < 1e-12 && abs(values["Recall@1000"]! - cut["Recall@5"]!) < 1e-12)

        var byQuery: [String: [(line: String, score: Float, docno: String)]] = [:]
        for line in try String(contentsOfFile: runFile, encoding: .utf8).split(separator: "\n") {
            let f = line.split(separator: " ")
            byQuery[String(f[0]), default: []].append((String(line), Float(f[4])!, String(f[2])))
        }
        let firstFive = byQuery.values.flatMap { lines in
            lines.sorted { $0.score != $1.score ? $0.score > $1.score : Array($1.docno.utf8).lexicographicallyPrecedes(Array($0.docno.utf8)) }
                .prefix(5).map(\.line)
        }
        let truncated = try temporaryFile(firstFive.joined(separator: "\n") + "\n")
        defer { try? FileManager.default.removeItem(atPath: truncated) }
        let expected = try means(try json(Tools.run("splade-eval", ["--qrels", qrels, "--json", "--metrics", metrics, truncated])))
        #expect(values.count == 7)
        for (metric, value) in values { #expect(abs(value - expected[metric]!) < 1e-12, "\(metric)") }
        #expect(abs(values["bpref"]! - (try means(try json(Tools.run("splade-eval", ["--qrels", qrels, "--json", "--metrics", "bpref",
                                                                                       runFile]))))["bpref"]!) > 1e-6)
        #expect(try Tools.run("splade-eval", ["--qrels", qrels, "--max-retrieved", "0", runFile]).status == 64)
    }

    /// A JSON Lines rank is read as a TREC line's: an integer (a number or a string holding one) orders ties under
    /// --tie-break rank; 1.0, null or text counts as absent (the line's position stands in), and is no error.
    @Test func aJSONRankThatIsNotAnIntegerCountsAsAbsent() throws {
        let judged = try temporaryFile("q 0 d1 1\n")
        defer { try? FileManager.default.removeItem(atPath: judged) }
        func mrr(_ ranks: (String, String), _ options: [String] = []) throws -> Double {
            let lines = #"{"qid":"q","docno":"d1","score":1,"rank":\#(ranks.0)}"# + "\n"
                + #"{"qid":"q","docno":"d2","score":1,"rank":\#(ranks.1)}"# + "\n"
            let run = try Tools.run("splade-eval", ["--qrels", judged, "--json", "--metrics", "MRR"] + options, stdin: lines)
            #expect(run.status == 0, "\(run.stderr)")
            return try means(try json(run))["MRR"] ?? -1
        }
        // Equal scores: trec_eval's order (docno descending) puts d2 first.
        #expect(try mrr(("2.0", "1.0")) == 0.5)
        #expect(try mrr(("2.0", "1.0"), ["--tie-break", "rank"]) == 1)
        #expect(try mrr(("null", "\"x\""), ["--tie-break", "rank"]) == 1)
        #expect(try mrr(("\"2\"", "\"1\""), ["--tie-break", "rank"]) == 0.5)
        #expect(try mrr(("2", "1"), ["--tie-break", "rank"]) == 0.5)
    }

    /// An output naming an input, or one that cannot be created, is said before anything is read (here, before the
    /// qrels are found missing).
    @Test func outputsAreCheckedBeforeTheInputsAreRead() throws {
        let run = try temporaryFile("q 0 d1 1 1.0 t\n")
        defer { try? FileManager.default.removeItem(atPath: run) }
        let same = try Tools.run("splade-eval", ["--qrels", "/nonexistent/qrels.trec", "-o", run, run])
        #expect(same.status == 64 && same.stderr.contains("\(run)"), "\(same.stderr)")
        let chart = try Tools.run("splade-eval", ["--qrels", "/nonexistent/qrels.trec", "--plot", "/nonexistent/chart.svg", run])
        #expect(chart.status == 73 && chart.stderr.contains("/nonexistent/chart.svg"), "\(chart.stderr)")
    }

    /// The queries the means leave out are said: judged queries the run lacks (unless they count as 0) and run
    /// queries without judgments; a run that covers the qrels exactly says nothing.
    @Test func queriesLeftOutOfTheMeansAreSaid() throws {
        let judged = try temporaryFile("1 0 a 1\n2 0 b 1\n3 0 c 1\n")
        let partial = try temporaryFile("1 Q0 a 1 1.0 t\n9 Q0 b 1 1.0 t\n")
        let whole = try temporaryFile("1 Q0 a 1 1.0 t\n2 Q0 x 1 1.0 t\n3 Q0 c 1 1.0 t\n")
        defer { [judged, partial, whole].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let run = try Tools.run("splade-eval", ["--qrels", judged, partial])
        #expect(run.status == 0)
        #expect(run.stderr.contains("2 of 3 judged queries are not in the run and are left out of the means"), "\(run.stderr)")
        #expect(run.stderr.contains("1 of 2 queries of the run have no judgments"), "\(run.stderr)")
        let counted = try Tools.run("splade-eval", ["--qrels", judged, "--missing-as-zero", partial])
        #expect(!counted.stderr.contains("judged queries") && counted.stderr.contains("have no judgments"), "\(counted.stderr)")
        let covered = try Tools.run("splade-eval", ["--qrels", judged, whole])
        #expect(covered.status == 0 && covered.stderr.isEmpty, "\(covered.stderr)")
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
        // The fixture's run and qrels share 50 queries; the notes say what the means leave out, then the gate.
        #expect(failing.stderr == leftOutNotes + "splade-eval: gate failed: run: nDCG@10 0.117031 is under 0.5\n")
        #expect(failing.stdoutLines.count == 2)
        let passing = try Tools.run("splade-eval", ["--qrels", qrels, "--fail-under", "nDCG@10=0.1", "--fail-under", "P@10=0.13", runFile])
        #expect(passing.status == 0, "\(passing.stderr)")
        #expect(passing.stdoutLines.first?.hasSuffix("P@10") == true)
    }

    @Test(arguments: [
        ("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 1 high t\n", ":2: score \"high\" is not a finite number"),
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

    @Test func aByteOrderMarkIsNoPartOfTheFirstQuery() throws {
        let directory = NSTemporaryDirectory() + "splade-eval-bom-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mark = "\u{FEFF}"
        try (mark + "q1 0 d1 1\nq2 0 d3 2\n").write(toFile: directory + "/qrels", atomically: true, encoding: .utf8)
        try (mark + "q1 Q0 d1 1 2.0 t\nq2 Q0 d3 1 0.5 t\n").write(toFile: directory + "/run", atomically: true, encoding: .utf8)
        let run = try Tools.run("splade-eval", ["--qrels", directory + "/qrels", "--json", directory + "/run"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutText.contains("\"queries\":2"), "\(run.stdoutText)")
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
        #expect(run.stderr == "splade-eval: warning: \(path):2: duplicate document d02467 for query q000; keeping the first\n"
                + "splade-eval: \(path): 53 of 54 judged queries are not in the run and are left out of the means, as trec_eval "
                + "leaves them (--missing-as-zero counts them as 0)\n")
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
        ["--metrics", ""],
        ["--metrics", "nDCG@10,"],
        ["--tie-break", "random"],
        ["--fail-under", "nDCG@10"],
        ["--fail-under", ""],
        ["--fail-under", "nDCG@10=0.5,"],
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

    /// As in trec_eval, a run none of whose queries is judged is an error: a gate must not pass on nothing.
    @Test func aRunWithoutJudgedQueriesIsAnError() throws {
        let path = try temporaryFile("other Q0 d1 1 1.0 t\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for extra in [[], ["--missing-as-zero"], ["--fail-under", "MAP=0"]] {
            let run = try Tools.run("splade-eval", ["--qrels", qrels] + extra + [path])
            #expect(run.status == 65 && run.stdout.isEmpty, "\(extra): \(run.stderr)")
            #expect(run.stderr.contains("\(path): no query of the run is in the qrels"), "\(run.stderr)")
        }
    }

    @Test func plotWritesAnSVGChart() throws {
        let svg = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).svg").path
        defer { try? FileManager.default.removeItem(atPath: svg) }
        let run = try Tools.run("splade-eval", ["--qrels", qrels, "--plot", svg, "--baseline", "2", runFile, runFile])
        #expect(run.status == 0, "\(run.stderr)")
        let text = try String(contentsOfFile: svg, encoding: .utf8)
        #expect(text.hasPrefix("<svg"))
        #expect(text.contains("per query"))

        // A report onto the run it evaluates would replace it: refused.
        let copy = svg + ".run"
        try FileManager.default.copyItem(atPath: runFile, toPath: copy)
        let onto = try Tools.run("splade-eval", ["--qrels", qrels, "-o", copy, copy])
        #expect(onto.status == 64 && onto.stderr.contains("the output is also an input"), "\(onto.stderr)")
        // So would one onto the run read from standard input.
        let ontoStandardInput = try Tools.shell("splade-eval --qrels '\(qrels)' -o '\(copy)' < '\(copy)'")
        #expect(ontoStandardInput.status == 64 && ontoStandardInput.stderr.contains("the output is also an input (<stdin>)"),
                "\(ontoStandardInput.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: copy)) == Data(contentsOf: URL(fileURLWithPath: runFile)))
        try? FileManager.default.removeItem(atPath: copy)

        #expect(try Tools.run("splade-eval", ["--qrels", qrels, "-o", svg, "--plot", svg, runFile]).status == 64)

        // A chart that cannot be created leaves no report either.
        let report = svg + ".txt"
        let failed = try Tools.run("splade-eval", ["--qrels", qrels, "-o", report, "--plot", svg + ".missing/chart.svg", runFile])
        #expect(failed.status == 73, "\(failed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: report))
    }

    // MARK: sparsity statistics of vector streams (--queries, --documents)

    let model = Tools.fixtures + "/ja-tiny/model"
    let texts = Tools.fixtures + "/ja-tiny/encode.jsonl"
    /// No $SPLADE_MODEL from the environment: JSON Lines keys are read as token ids.
    let noModel = ["SPLADE_MODEL": ""]

    func temporaryDirectory() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("eval-sparsity-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Queries with L0 2, 1, 2 (an explicit zero is no entry) and documents with L0 4, 1.
    func idVectors() throws -> (queries: String, documents: String) {
        let queries = try temporaryFile("""
            {"id":"q1","vector":{"1":0.5,"2":1.5}}
            {"id":"q2","vector":{"2":2.0}}
            {"id":3,"vector":{"3":1.0,"1":1.0,"7":0}}

            """)
        let documents = try temporaryFile("""
            {"id":"d1","vector":{"1":1,"2":1,"3":1,"4":1}}
            {"id":"d2","vector":{"2":0.5}}

            """)
        return (queries, documents)
    }

    /// A binary stream written by hand, uncompressed: one vector over a vocabulary of `size` with this fingerprint.
    func handMadeStream(size: UInt32, fingerprint: UInt64) throws -> String {
        var bytes = Array("SPLADEVS".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt16(1)); bytes += [1, 0]; append(size); append(fingerprint)
        bytes.append(0); append(UInt32(2)); bytes += Array("x1".utf8); append(UInt32(1)); append(UInt32(5)); append(Float(1).bitPattern)
        bytes.append(0xFF); append(UInt64(1))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("eval-\(UUID().uuidString).vec").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func sparsityTableOfJSONLinesKeyedByIds() throws {
        let (queries, documents) = try idVectors()
        defer { [queries, documents].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let run = try Tools.run("splade-eval", ["--queries", queries, "--documents", documents], environment: noModel)
        #expect(run.status == 0, "\(run.stderr)")
        let lines = run.stdoutText.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        // L0 p95 of the documents: np.percentile([1, 4], 95) = 3.85; mean weights 6/5 and 4.5/5;
        // FLOPs: p_q = {1: 2/3, 2: 2/3, 3: 1/3}, p_d = {1: 1/2, 2: 1, 3: 1/2, 4: 1/2} → 7/6.
        #expect(lines.count == 6, "\(run.stdoutText)")
        func cells(_ line: String) -> [String] { line.split(separator: " ").map(String.init) }
        #expect(lines[0].hasSuffix("  vectors  L0 mean  L0 median  L0 p95  mean weight  entries used"))
        #expect(cells(lines[1]) == ["queries", queries, "3", "1.67", "2.00", "2.00", "1.2000", "3"])
        #expect(cells(lines[2]) == ["documents", documents, "2", "2.50", "2.50", "3.85", "0.9000", "4"])
        #expect(lines[1].count == lines[0].count && lines[2].count == lines[0].count)
        #expect(lines[4] == "expected FLOPs per query-document product: 1.1667 (Σ_j p_q(j)·p_d(j))")

        let alone = try Tools.run("splade-eval", ["--documents", documents], environment: noModel)
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(alone.stdoutLines.count == 2 && alone.stdoutLines[1].hasPrefix("documents"))
        // Standard input works for one of the two.
        let piped = try Tools.run("splade-eval", ["--documents", "-", "--json"], stdin: try String(contentsOfFile: documents, encoding: .utf8),
                                  environment: noModel)
        let report = try json(piped)
        #expect((report["documents"] as? [String: Any])?["file"] as? String == "<stdin>")
    }

    @Test func sparsityJSONShape() throws {
        let (queries, documents) = try idVectors()
        defer { [queries, documents].forEach { try? FileManager.default.removeItem(atPath: $0) } }
        let run = try Tools.run("splade-eval", ["--json", "--queries", queries, "--documents", documents], environment: noModel)
        #expect(run.status == 0, "\(run.stderr)")
        let report = try json(run)
        #expect(Set(report.keys) == ["queries", "documents", "expected_flops"])
        let q = try #require(report["queries"] as? [String: Any]), d = try #require(report["documents"] as? [String: Any])
        #expect(Set(q.keys) == ["file", "vectors", "l0", "mean_weight", "entries_used"])
        #expect(q["file"] as? String == queries && q["vectors"] as? Int == 3 && q["entries_used"] as? Int == 3)
        // (Foundation's JSONSerialization may round the last bit: 3.8499999999999996 reads as 3.85.)
        func close(_ value: Any?, _ expected: [String: Double]) -> Bool {
            guard let value = value as? [String: Double], value.keys == expected.keys else { return false }
            return expected.allSatisfy { abs(value[$0.key]! - $0.value) < 1e-12 }
        }
        #expect(close(q["l0"], ["mean": 5.0 / 3, "median": 2, "p95": 2]), "\(q)")
        #expect(close(d["l0"], ["mean": 2.5, "median": 2.5, "p95": 3.85]), "\(d)")
        #expect(run.stdoutText.contains(#""p95":3.8499999999999996"#), "\(run.stdoutText)")
        #expect(q["mean_weight"] as? Double == 1.2 && d["mean_weight"] as? Double == 0.9)
        #expect(abs((report["expected_flops"] as? Double ?? 0) - 7.0 / 6) < 1e-12)

        let alone = try json(try Tools.run("splade-eval", ["--json", "--queries", queries], environment: noModel))
        #expect(Set(alone.keys) == ["queries"])
    }

    /// Vectors splade-encode wrote as the binary stream, as JSON keyed by ids and as JSON keyed by
    /// tokens (read back through --model) give one report, whose numbers match the vectors'.
    @Test func sparsityOfSpladeEncodeOutputInEveryFormat() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let encode = try Tools.shell("""
            sed -n 4,9p '\(texts)' | splade-encode --model '\(model)' --format binary -o '\(dir)/q.vec' &&
            sed -n 4,9p '\(texts)' | splade-encode --model '\(model)' --keys ids -o '\(dir)/q.ids.jsonl' &&
            sed -n 4,9p '\(texts)' | splade-encode --model '\(model)' -o '\(dir)/q.tokens.jsonl' &&
            sed -n 7,16p '\(texts)' | splade-encode --model '\(model)' --format binary -o '\(dir)/d.vec' &&
            sed -n 7,16p '\(texts)' | splade-encode --model '\(model)' --keys ids -o '\(dir)/d.ids.jsonl'
            """)
        #expect(encode.status == 0, "\(encode.stderr)")

        // The vectors as the test reads them: id → weight maps.
        func vectors(_ path: String) throws -> [[Int: Double]] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                let vector = try #require(record["vector"] as? [String: Double])
                return Dictionary(uniqueKeysWithValues: vector.filter { $0.value > 0 }.map { (Int($0.key)!, $0.value) })
            }
        }
        let q = try vectors(dir + "/q.ids.jsonl"), d = try vectors(dir + "/d.ids.jsonl")
        #expect(q.count == 6 && d.count == 10)
        let l0 = q.map { Double($0.count) }.sorted()
        let weights = q.flatMap(\.values)
        // numpy's linear percentile: virtual index 0.95 × 5 = 4.75 → l0[4] + 0.75 (l0[5] − l0[4]).
        let p95 = l0[4] + 0.75 * (l0[5] - l0[4])
        var overlap = 0
        for a in q { for b in d { overlap += Set(a.keys).intersection(b.keys).count } }

        let binary = try json(try Tools.run("splade-eval", ["--json", "--queries", dir + "/q.vec", "--documents", dir + "/d.vec"],
                                            environment: noModel))
        let s = try #require(binary["queries"] as? [String: Any])
        let stats = try #require(s["l0"] as? [String: Double])
        #expect(s["vectors"] as? Int == 6)
        #expect(stats["mean"] == l0.reduce(0, +) / 6)
        #expect(stats["median"] == (l0[2] + l0[3]) / 2)
        #expect(abs(stats["p95"]! - p95) < 1e-9)
        #expect(abs((s["mean_weight"] as! Double) - weights.reduce(0, +) / Double(weights.count)) < 1e-7)
        #expect(s["entries_used"] as? Int == Set(q.flatMap(\.keys)).count)
        #expect(abs((binary["expected_flops"] as! Double) - Double(overlap) / 60) < 1e-9)

        // The same vectors as JSON Lines (ids without a model, tokens through --model) report the same.
        let ids = try Tools.run("splade-eval", ["--json", "--queries", dir + "/q.ids.jsonl", "--documents", dir + "/d.ids.jsonl"],
                                environment: noModel)
        let tokens = try Tools.run("splade-eval", ["--json", "--model", model, "--queries", dir + "/q.tokens.jsonl", "--documents", dir + "/d.vec"])
        #expect(ids.status == 0 && tokens.status == 0, "\(ids.stderr)\(tokens.stderr)")
        for other in [try json(ids), try json(tokens)] {
            #expect((other["queries"] as? [String: Any])?["l0"] as? [String: Double] == stats)
            #expect((other["queries"] as? [String: Any])?["mean_weight"] as? Double == s["mean_weight"] as? Double)
            #expect(other["expected_flops"] as? Double == binary["expected_flops"] as? Double)
        }
    }

    @Test func streamsOfDifferentVocabulariesAreRefused() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let encode = try Tools.shell("sed -n 4,6p '\(texts)' | splade-encode --model '\(model)' --format binary -o '\(dir)/d.vec'")
        #expect(encode.status == 0, "\(encode.stderr)")
        let other = try handMadeStream(size: 6000, fingerprint: 1)
        defer { try? FileManager.default.removeItem(atPath: other) }

        // The hand-made stream reads fine on its own…
        let alone = try Tools.run("splade-eval", ["--queries", other], environment: noModel)
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(alone.stdoutLines.last?.hasSuffix("1     1.00       1.00    1.00       1.0000             1") == true, "\(alone.stdoutText)")
        // …but not with documents of another vocabulary, nor against --model's.
        let mixed = try Tools.run("splade-eval", ["--queries", other, "--documents", dir + "/d.vec"], environment: noModel)
        #expect(mixed.status == 65)
        #expect(mixed.stderr.hasPrefix("splade-eval: error: \(dir)/d.vec: the query and document vectors were made with different vocabularies"),
                "\(mixed.stderr)")
        #expect(mixed.stdout.isEmpty)
        let againstModel = try Tools.run("splade-eval", ["--model", model, "--queries", other])
        #expect(againstModel.status == 65)
        #expect(againstModel.stderr.contains("another vocabulary than --model's"), "\(againstModel.stderr)")
        // JSON Lines ids are bounded by the binary stream's vocabulary.
        let outside = try temporaryFile("{\"id\":1,\"vector\":{\"6000\":1}}\n")
        defer { try? FileManager.default.removeItem(atPath: outside) }
        let bounded = try Tools.run("splade-eval", ["--queries", outside, "--documents", dir + "/d.vec"], environment: noModel)
        #expect(bounded.status == 65)
        #expect(bounded.stderr.contains("token id 6000 is outside the vocabulary of 6000"), "\(bounded.stderr)")
    }

    @Test func tokenKeysWithoutAModelExit65WithAHint() throws {
        let path = try temporaryFile("{\"id\":1,\"vector\":{\"東京\":1.5}}\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let run = try Tools.run("splade-eval", ["--queries", path], environment: noModel)
        #expect(run.status == 65)
        #expect(run.stderr.contains("need --model"), "\(run.stderr)")
        let keys = try Tools.run("splade-eval", ["--queries", path, "--keys", "tokens"], environment: noModel)
        #expect(keys.status == 64, "\(keys.stderr)")
    }

    @Test(arguments: [
        [] as [String],
        ["RUN"],
        ["-"],
        ["--queries", "Q", "RUN"],
        ["--queries", "Q", "--qrels", "QRELS"],
        ["--documents", "Q", "--metrics", "MAP"],
        ["--documents", "Q", "--fail-under", "MAP=0.1"],
        ["--queries", "-", "--documents", "-"],
        ["--qrels", "QRELS", "--model", "M", "RUN"],
    ])
    func runsNeedQrelsAndVectorsStandAlone(arguments: [String]) throws {
        let (queries, _) = try idVectors()
        defer { try? FileManager.default.removeItem(atPath: queries) }
        let resolved = arguments.map { ["RUN": runFile, "Q": queries, "QRELS": qrels, "M": model][$0] ?? $0 }
        let run = try Tools.run("splade-eval", resolved, stdin: "", environment: noModel)
        #expect(run.status == 64, "\(arguments): \(run.stderr)")
        #expect(run.stdout.isEmpty)
    }

    @Test func fullDiskExits74() throws {
        let run = try Tools.run("splade-eval", ["--qrels", qrels, runFile], stdoutPath: "/dev/full")
        #expect(run.status == 74)
    }
}
