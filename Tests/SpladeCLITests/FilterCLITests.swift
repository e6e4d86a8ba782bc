import Foundation
import Testing

/// splade-filter as a user runs it: both layouts, mining, up-sampling, and its exit statuses.
struct FilterCLITests {
    func file(_ text: String, _ suffix: String = ".jsonl") throws -> String {
        let path = NSTemporaryDirectory() + "/filter-cli-\(UUID().uuidString)\(suffix)"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// An hpprc/emb collection: no id field, so ids are line positions.
    let collection = """
        {"title":"東京","text":"東京は日本の首都です。"}
        {"text":"大阪は関西の都市です。"}
        {"title":"","text":"京都には寺が多い。"}
        {"title":"札幌","text":"札幌は北海道にある。"}

        """

    let embRows = """
        {"anc":"日本の首都は?","pos_ids":[0],"neg_ids":[1,2],"neg_ids.bm25":[2,3],"score.a.pos_ids":[0.75],"score.b.pos_ids":[0.65],"score.a.neg_ids":[0.25,0.5],"score.b.neg_ids":[0.25,0.1],"score.a.neg_ids.bm25":[0.5,0.0],"score.b.neg_ids.bm25":[0.1,0.0]}
        {"anc":"x","pos_ids":[1],"neg_ids":[2],"score.a.pos_ids":[0.5],"score.b.pos_ids":[0.5],"score.a.neg_ids":[0.1],"score.b.neg_ids":[0.1]}

        """

    @Test func embScoresLayoutGolden() throws {
        let run = try Tools.run("splade-filter", ["--rerankers", "a,b", "--collection", try file(collection),
                                                  "--min-negatives", "2", "--threads", "2"], stdin: embRows)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdoutLines == [
            #"{"query":"日本の首都は?","positives":["東京 東京は日本の首都です。"],"negatives":["大阪は関西の都市です。","京都には寺が多い。","札幌 札幌は北海道にある。"],"positives_score":[0.7],"negatives_score":[0.25,0.3,0.0]}"#,
        ])
        #expect(run.stderr == """
            splade-filter: 2 rows read, 1 kept; dropped: 1 without a positive, 0 with fewer than 2 negatives, 0 invalid
            splade-filter: candidates: positives kept 1, negatives kept 4, outside the thresholds 1, duplicates 1

            """)
    }

    @Test func strictThresholdsExcludeTheBoundary() throws {
        let run = try Tools.run("splade-filter", ["--rerankers", "a,b", "--collection", try file(collection),
                                                  "--min-negatives", "2", "--strict"], stdin: embRows)
        #expect(run.status == 0)
        // 0.7 is no longer a positive, and 0.3 no longer a negative.
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains("2 rows read, 0 kept; dropped: 2 without a positive"))
    }

    /// The reference's own example rows, given as one reranker's scores, come back unchanged.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: Tools.data("yast-toy/toy_dataset_japanese.jsonl")),
                   "needs ../shared/data"))
    func genericLayoutReproducesTheToyDataset() throws {
        let toy = try String(contentsOfFile: Tools.data("yast-toy/toy_dataset_japanese.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSDictionary }
        let input = try toy.map { row in
            let scored = row.mutableCopy() as! NSMutableDictionary
            scored["score.teacher.positives"] = row["positives_score"]
            scored["score.teacher.negatives"] = row["negatives_score"]
            scored.removeObjects(forKeys: ["positives_score", "negatives_score"])
            return String(decoding: try JSONSerialization.data(withJSONObject: scored), as: UTF8.self)
        }.joined(separator: "\n")
        let run = try Tools.run("splade-filter", ["--rerankers", "teacher"], stdin: input)
        #expect(run.status == 0, "\(run.stderr)")
        let output = try run.stdoutLines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! NSDictionary }
        #expect(output == toy)
    }

    @Test func augFactorIsReproducibleAndWritesEveryRowPerCopy() throws {
        let rows = (0..<20).map { #"{"query":"q\#($0)","pos":["p"],"neg":["n"],"score.r.pos":[1],"score.r.neg":[0]}"# }
            .joined(separator: "\n")
        let arguments = ["--rerankers", "r", "--min-negatives", "1", "--aug-factor", "3"]
        let first = try Tools.run("splade-filter", arguments + ["--seed", "5"], stdin: rows)
        let again = try Tools.run("splade-filter", arguments + ["--seed", "5", "--threads", "1"], stdin: rows)
        let other = try Tools.run("splade-filter", arguments + ["--seed", "6"], stdin: rows)
        #expect(first.status == 0)
        #expect(first.stdoutLines.count == 60)
        #expect(first.stdout == again.stdout)
        #expect(first.stdout != other.stdout)
        #expect(Set(first.stdoutLines[0..<20]).count == 20)
        #expect(first.stderr.contains("20 rows read, 20 kept (60 rows written with --aug-factor 3)"))
    }

    @Test func miningGolden() throws {
        let documents = try file("""
            {"id":"d0","text":"正解の文書"}
            {"id":"d1","text":"近いが違う文書"}
            {"id":"d2","text":"遠い文書"}
            {"id":"d3","text":"もう一つの文書"}

            """)
        let run = try file("q1 Q0 d1 1 9.5 splade\nq1 Q0 d0 2 9.0 splade\nq1 Q0 d2 3 3.0 splade\n", ".trec")
        let bm25 = try file(#"{"qid":"q1","docno":"d3","score":12.0}"# + "\n" + #"{"qid":"q2","docno":"d3","score":1.0}"# + "\n")
        let qrels = try file("q1 0 d0 1\nq2 0 d3 0\n", ".trec")
        let queries = #"{"id":"q1","text":"質問一"}"# + "\n" + #"{"id":"q2","text":"質問二"}"# + "\n"
        let mined = try Tools.run("splade-filter", ["--run", run, "--run", bm25, "--qrels", qrels, "--collection", documents,
                                                    "--min-negatives", "2"], stdin: queries)
        #expect(mined.status == 0, "\(mined.stderr)")
        #expect(mined.stdoutLines == [
            #"{"query":"質問一","positives":["正解の文書"],"negatives":["近いが違う文書","もう一つの文書","遠い文書"],"positives_score":[1.0],"negatives_score":[0.0,0.0,0.0]}"#,
        ])
        #expect(mined.stderr.contains("2 queries read, 1 kept; dropped: 1 without a positive"))

        let skipped = try Tools.run("splade-filter", ["--run", run, "--qrels", qrels, "--collection", documents,
                                                      "--min-negatives", "1", "--skip", "1"], stdin: queries)
        #expect(skipped.stdoutLines.first?.contains(#""negatives":["遠い文書"]"#) == true, "\(skipped.stdoutText)")

        // Queries the runs and qrels do not know are dropped and counted; when no query is known, the ids do not match.
        let unknown = #"{"id":"Q9","text":"質問"}"# + "\n"
        let mixed = try Tools.run("splade-filter", ["--run", run, "--qrels", qrels, "--collection", documents,
                                                    "--min-negatives", "1"], stdin: queries + unknown)
        #expect(mixed.status == 0 && mixed.stderr.contains("3 queries read, 1 kept; dropped: 1 in neither the runs nor the qrels, 1 without"),
                "\(mixed.stderr)")
        let none = try Tools.run("splade-filter", ["--run", run, "--qrels", qrels, "--collection", documents], stdin: unknown + unknown)
        #expect(none.status == 65 && none.stderr.contains("<stdin>: no query is in the runs or the qrels"), "\(none.stderr)")
    }

    @Test(arguments: [
        (#"{"query":"q","pos":["p","p2"],"score.r.pos":[0.9]}"#, #"<stdin>:2: "pos" has 2 candidates but its scores have 1"#),
        (#"{"query":"q","pos":["p"],"score.r.pos":["0.9"]}"#, #"<stdin>:2: "score.r.pos"[0] is string, expected a finite number"#),
        (#"{"anc":"q","pos_ids":[7],"score.r.pos_ids":[0.9]}"#, #"<stdin>:2: unknown id 7 in "pos_ids""#),
        ("not json", "<stdin>:2: invalid JSON"),
    ])
    func badRowsExit65WithTheirLocationOrAreSkipped(row: String, message: String) throws {
        let good = #"{"query":"q","pos":["p"],"neg":["n"],"score.r.pos":[1],"score.r.neg":[0]}"#
        let input = good + "\n" + row + "\n" + good + "\n"
        // A collection only for the id case: ids need one, texts must not have one.
        let arguments = ["--rerankers", "r", "--min-negatives", "1"]
            + (row.contains("pos_ids") ? ["--collection", try file(#"{"text":"only"}"# + "\n")] : [])
        let failed = try Tools.run("splade-filter", arguments, stdin: row.contains("pos_ids") ? row + "\n" : input)
        #expect(failed.status == 65)
        let expected = row.contains("pos_ids") ? message.replacingOccurrences(of: ":2:", with: ":1:") : message
        #expect(failed.stderr.hasPrefix("splade-filter: error: " + expected), "\(failed.stderr)")

        if !row.contains("pos_ids") {
            let skipped = try Tools.run("splade-filter", arguments + ["--skip-invalid"], stdin: input)
            #expect(skipped.status == 0)
            #expect(skipped.stdoutLines.count == 2)
            #expect(skipped.stderr.contains("splade-filter: warning: " + message))
            #expect(skipped.stderr.contains("3 rows read, 2 kept; dropped: 0 without a positive, 0 with fewer than 1 negatives, 1 invalid"))
        }
    }

    @Test func exitStatuses() throws {
        let row = #"{"query":"q","pos":["p"],"neg":["n"],"score.r.pos":[1],"score.r.neg":[0]}"# + "\n"
        let noRerankers = try Tools.run("splade-filter", [], stdin: row)
        #expect(noRerankers.status == 64)
        #expect(noRerankers.stderr.contains("--rerankers"))
        #expect(try Tools.run("splade-filter", ["--run", "r.trec"], stdin: row).status == 64)
        #expect(try Tools.run("splade-filter", ["--rerankers", "r", "--pos-threshold", "nan"], stdin: row).status == 64)
        // Thresholds under which one score is both a positive's and a negative's; equal ones are fine when strict.
        let overlapping = try Tools.run("splade-filter", ["--rerankers", "r", "--pos-threshold", "0.5", "--neg-threshold", "0.5"], stdin: row)
        #expect(overlapping.status == 64 && overlapping.stderr.contains("overlap"), "\(overlapping.stderr)")
        #expect(try Tools.run("splade-filter", ["--rerankers", "r", "--pos-threshold", "0.1", "--neg-threshold", "0.9", "--strict"],
                              stdin: row).status == 64)
        #expect(try Tools.run("splade-filter", ["--rerankers", "r", "--pos-threshold", "0.5", "--neg-threshold", "0.5", "--strict",
                                                "--min-negatives", "1"], stdin: row).status == 0)
        #expect(try Tools.run("splade-filter", ["--rerankers", "r", "--aug-factor", "1001"], stdin: row).status == 64)
        let cut = try Tools.run("splade-filter", ["--rerankers", "r", "--doc-max-chars", "5"], stdin: row)
        #expect(cut.status == 64 && cut.stderr.contains("--doc-max-chars applies to the documents of --collection"), "\(cut.stderr)")
        for miningOption in [["--skip", "2"], ["--max-negatives", "5"]] {
            let misplaced = try Tools.run("splade-filter", ["--rerankers", "r"] + miningOption, stdin: row)
            #expect(misplaced.status == 64 && misplaced.stderr.contains("apply to mining (--run)"), "\(misplaced.stderr)")
        }
        #expect(try Tools.run("splade-filter", ["--rerankers", "r", "--collection", "/nonexistent.jsonl"], stdin: row).status == 66)
        // Training rows (splade-train's own format) have no reranker's scores to filter by: said, not an empty output.
        let trainingRow = #"{"query":"q","positives":["p"],"negatives":["n"],"positives_score":[1],"negatives_score":[0]}"# + "\n"
        let already = try Tools.run("splade-filter", ["--rerankers", "r"], stdin: trainingRow)
        #expect(already.status == 65 && already.stderr.contains("<stdin>:1: the row is a training row already (\"positives_score\")"),
                "\(already.stderr)")
        // Rows no chosen reranker scored at all are dropped and counted; an input of nothing else is an error, not an
        // empty training file.
        let unscored = #"{"query":"q","pos":["p"],"neg":["n","m"]}"# + "\n"
        let mixed = try Tools.run("splade-filter", ["--rerankers", "r", "--min-negatives", "1"], stdin: row + unscored)
        #expect(mixed.status == 0 && mixed.stdoutLines.count == 1, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("2 rows read, 1 kept; dropped: 1 without the rerankers' scores, 0 without a positive")
                && mixed.stderr.contains("without a teacher score 3"), "\(mixed.stderr)")
        let output = NSTemporaryDirectory() + "filter-\(UUID()).jsonl"
        let none = try Tools.run("splade-filter", ["--rerankers", "r", "-o", output], stdin: unscored + unscored)
        #expect(none.status == 65 && none.stderr.contains("<stdin>: no row has a candidate column scored by r")
                && none.stderr.contains("score.r.pos_ids"), "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: output))
        let full = try Tools.run("splade-filter", ["--rerankers", "r", "--min-negatives", "1"], stdin: row, stdoutPath: "/dev/full")
        #expect(full.status == 74)
        let many = try file(String(repeating: row, count: 5000))
        let head = try Tools.shell("splade-filter --rerankers r --min-negatives 1 -i \(many) | head -1")
        #expect(head.status == 0)
        #expect(head.stdoutLines.count == 1)
    }

    @Test func helpDocumentsTheRowFormatAndExitStatuses() throws {
        let help = try Tools.run("splade-filter", ["--help"])
        #expect(help.status == 0)
        for text in ["positives_score", "score.R.C", "hpprc/emb", "EXAMPLES", "EXIT STATUS", "65"] {
            #expect(help.stdoutText.contains(text), "\(text)")
        }
    }
}
