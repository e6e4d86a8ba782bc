import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeFilter: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-filter",
        abstract: "Make SPLADE training rows from reranker scores, or by mining hard negatives from runs.",
        discussion: """
            Writes the training JSON Lines splade-train reads (the reference trainer's generic \
            format), one row per kept query; the scores are the teacher labels of the ranking loss:
              {"query":"…","positives":["…"],"negatives":["…","…"],
               "positives_score":[0.93],"negatives_score":[0.01,0.2]}

            FILTERING (the default) reads rows of scored candidates. A candidate's score is the \
            mean of the --rerankers' scores; it is kept as a positive when the mean is \
            ≥ --pos-threshold (0.7), as a negative when it is ≤ --neg-threshold (0.3); --strict \
            makes these > and < (the mMARCO variant). A row needs 1 positive and --min-negatives \
            (7) negatives. The scores of column C by reranker R are the list "score.R.C", aligned \
            with C. Two layouts:
              hpprc/emb-scores, with --collection: the query in "anc"; candidate ids in pos_ids, \
            neg_ids and their variants (pos_ids.me5-large, neg_ids.bm25, …), looked up in the \
            collection (JSON Lines {"id","title","text"}; without "id", a document's id is its \
            0-based line number, as in hpprc/emb), whose text is "title text" cut to --doc-max-chars.
              generic, without --collection: the query under query|qry|question|q, candidate \
            texts under pos|positive|positives and neg|negative|negatives (and .variants).
            Unscored columns are ignored; each chosen reranker must score a column that is used. \
            A row without any reranker's scores is dropped (and counted), and an input of only such \
            rows is an error, not an empty output; a row scored by other rerankers only is an error \
            naming them (a misspelt --rerankers). Candidates are pooled over the columns of a role; \
            a repeated one counts once (its first occurrence decides).

            MINING (--run) reads queries ({"id","text"} JSON Lines). Positives are a query's \
            relevant documents (--qrels, level ≥ 1); negatives are the best-ranked documents of \
            the runs that are not relevant, after each run's first --skip ranks, up to \
            --max-negatives, taken from several runs in turns. Runs are TREC or splade-search \
            JSON Lines. Labels are 1 and 0, or with --scores (a run file of reranker scores) \
            the teacher's scores, filtered by the thresholds as above. A query in neither the \
            runs nor the qrels is dropped (and counted), and an input of only such queries is an \
            error (their ids do not match).

            --aug-factor N writes every kept row N times, each copy in its own shuffle drawn \
            from --seed (the published data up-sampled JQaRA ×8, MIRACL ×5). A summary goes to \
            standard error: rows read, kept, dropped per reason, and the candidates' fate.

            EXAMPLES
              splade-filter --rerankers bge-reranker-v2-m3,ruri-reranker-large \\
                --collection wiki-collection.jsonl < wiki-scores.jsonl > train.jsonl
              splade-filter --rerankers bge-reranker-v2-m3 --strict -i mmarco.jsonl.zst
              splade-filter --rerankers bge --aug-factor 8 < jqara.jsonl > jqara-x8.jsonl
              splade-search --index idx/ --model M < queries.jsonl > run.trec
              splade-filter --run run.trec --run bm25.trec --qrels qrels.trec \\
                --collection docs.jsonl --skip 5 < queries.jsonl > mined.jsonl

            \(ExitStatus.table)
            """)

    @OptionGroup(title: "Input and output") var stream: StreamOptions

    @Option(help: ArgumentHelp("Rerankers whose scores are averaged, comma-separated (the R of score.R.COLUMN).",
                               valueName: "names"))
    var rerankers: String?

    @Option(help: ArgumentHelp("A positive needs a mean score ≥ this.", valueName: "x"))
    var posThreshold = 0.7

    @Option(help: ArgumentHelp("A negative needs a mean score ≤ this.", valueName: "x"))
    var negThreshold = 0.3

    @Flag(help: "Compare strictly: > --pos-threshold, < --neg-threshold.")
    var strict = false

    @Option(help: ArgumentHelp("Rows with fewer negatives are dropped (the trainer samples group size − 1).", valueName: "n"))
    var minNegatives = 7

    @Option(help: ArgumentHelp("Documents candidate ids refer to: JSON Lines with \"text\", optional \"title\" and \"id\".",
                               valueName: "file"),
            completion: .file())
    var collection: String?

    @Option(help: ArgumentHelp("Cut each collection document (\"title text\") to this many characters (default: \(DocumentCollection.defaultMaxCharacters)).",
                               valueName: "n"))
    var docMaxChars: Int?

    @Option(name: .customLong("run"), parsing: .singleValue,
            help: ArgumentHelp("Mine hard negatives from this run (TREC or JSON Lines); repeat for several.", valueName: "file"),
            completion: .file())
    var runs: [String] = []

    @Option(help: ArgumentHelp("Mining: relevance judgments (TREC qrels); level ≥ 1 is a positive.", valueName: "file"),
            completion: .file())
    var qrels: String?

    @Option(help: ArgumentHelp("Mining: teacher scores of query-document pairs, as a run file; labels instead of 1/0.",
                               valueName: "file"),
            completion: .file())
    var scores: String?

    @Option(help: ArgumentHelp("Mining: ranks skipped at the top of each run (default: 0).", valueName: "n"))
    var skip: Int?

    @Option(help: ArgumentHelp("Mining: negatives taken per query at most (default: 30).", valueName: "n"))
    var maxNegatives: Int?

    @Option(help: ArgumentHelp("Write every kept row this many times, shuffled.", valueName: "n"))
    var augFactor = 1

    @Option(help: ArgumentHelp("Seed of the --aug-factor shuffles.", valueName: "n"))
    var seed: UInt64 = 42

    var mining: Bool { !runs.isEmpty }

    var rerankerNames: [String] {
        (rerankers ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        if mining {
            guard qrels != nil, collection != nil else { throw ValidationError("--run needs --qrels and --collection") }
            guard rerankers == nil else { throw ValidationError("--rerankers applies to filtering; mining takes teacher scores from --scores") }
        } else {
            guard !rerankerNames.isEmpty else {
                throw ValidationError("name the rerankers whose scores to average: --rerankers a,b (or mine with --run)")
            }
            guard qrels == nil, scores == nil, skip == nil, maxNegatives == nil else {
                throw ValidationError("--qrels, --scores, --skip and --max-negatives apply to mining (--run)")
            }
        }
        guard posThreshold.isFinite, negThreshold.isFinite else { throw ValidationError("--pos-threshold and --neg-threshold must be numbers") }
        // A score that passed both would make one document a positive and a negative of the same row.
        guard strict ? posThreshold >= negThreshold : posThreshold > negThreshold else {
            throw ValidationError("--pos-threshold \(posThreshold) and --neg-threshold \(negThreshold) overlap: a document could be both "
                                  + "a positive and a negative (a positive needs \(strict ? ">" : "≥") \(posThreshold), a negative "
                                  + "\(strict ? "<" : "≤") \(negThreshold))")
        }
        guard (1...1000).contains(augFactor) else { throw ValidationError("--aug-factor must be within 1...1000") }
        guard minNegatives >= 0, (skip ?? 0) >= 0 else { throw ValidationError("--min-negatives and --skip must not be negative") }
        guard docMaxChars == nil || collection != nil else { throw ValidationError("--doc-max-chars applies to the documents of --collection") }
        guard (maxNegatives ?? 1) >= 1, (docMaxChars ?? 1) >= 1 else { throw ValidationError("--max-negatives and --doc-max-chars must be at least 1") }
        let stdinReaders = ([stream.input] + runs + [collection, qrels, scores].compactMap { $0 }).filter { $0 == "-" }.count
        guard stdinReaders <= 1 else { throw ValidationError("standard input ('-') can be read only once") }
    }

    func run() throws {
        try ToolMain.run("splade-filter") {
            let selection = CandidateSelection(positiveThreshold: posThreshold, negativeThreshold: negThreshold,
                                               strict: strict, minNegatives: minNegatives)
            let documents = try collection.map { path throws(SpladeError) in
                try DocumentCollection(path: path, maxCharacters: docMaxChars ?? DocumentCollection.defaultMaxCharacters)
            }
            let rows: RowSource
            if mining {
                let runs = try self.runs.map { path throws(SpladeError) in try Run(path: path, name: InputFile.displayName(path)) }
                let teacher = try scores.map { path throws(SpladeError) in try Run(path: path, name: InputFile.displayName(path)) }
                let judgments = try Qrels(path: qrels!)
                let miner = HardNegativeMiner(
                    runs: runs, qrels: judgments, qrelsPath: qrels!, collection: documents!,
                    teacherScores: teacher,
                    settings: .init(skip: skip ?? 0, maxNegatives: maxNegatives ?? 30, selection: selection))
                rows = .queries(miner)
            } else {
                rows = .scoredRows(ScoreFilter(rerankers: rerankerNames, selection: selection, collection: documents))
            }
            let summary = try FilterLoop(options: stream, source: rows, upsampling: Upsampling(factor: augFactor, seed: seed),
                                         otherInputs: runs + [collection, qrels, scores].compactMap { $0 }).run()
            summary.report(mining: mining, augFactor: augFactor, minNegatives: minNegatives)
        }
    }
}
