import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeEval: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-eval",
        abstract: "Score retrieval runs against relevance judgments, exactly as trec_eval does; measure how sparse vectors are.",
        discussion: """
            Reads TREC qrels (qid iteration docno relevance) and one or more runs, TREC lines \
            (qid Q0 docno rank score tag) or JSON Lines from splade-search ({"qid"|"query_id": …, \
            "docno"|"docid"|"doc_id": …, "score": …, "rank": … (optional)}; ids may be strings or numbers), \
            any of them zstd-compressed. As trec_eval does, it skips lines starting with # and a run line's fields \
            after the tag, and reads a rank only for --tie-break rank (one that is not an integer counts as absent). \
            With no RUN, or RUN '-', the run is read from standard input.

            Metrics (--metrics, any k): nDCG@k, MRR@k (reciprocal rank within the first k), MAP and MAP@k, \
            Recall@k, P@k, Success@k (hit rate), Rprec (precision at R, the number of relevant documents) and bpref \
            (relevant documents before judged non-relevant ones, for incomplete judgments), Judged@k (the share of the \
            first k documents the qrels judge, as ir_measures computes it, ties ordered as the other measures' unless with \
            --ir-measures); trec_eval names (ndcg_cut_10, recip_rank, map_cut_10, \
            P_10, recall_100, success_1) are accepted too. The semantics are trec_eval's: a query counts \
            when it is in both the qrels and the run (a note says how many queries either lacks); documents are ranked by score (in single precision, as trec_eval \
            stores it), ties by docno descending; relevance ≥ 1 is relevant (--relevance-level N: ≥ N, trec_eval -l, for \
            all but trec_eval's nDCG); nDCG's gain is the relevance level; P@k divides by k; \
            MAP@k divides by all relevant documents. The variants other tools use: --missing-as-zero \
            (trec_eval -c), --tie-break rank (the run's own order, as the published JQaRA \
            evaluations), --ndcg jmteb (binary gain, ideal DCG over all relevant documents), and \
            --ir-measures (missing queries as zero, and MRR@k and Judged ties by docno ascending as its MS MARCO \
            evaluator and its own Judged do). --tie-break rank and docno-asc compare scores in double precision, as the \
            Python evaluations they reproduce do.

            With several runs: one table, the best mean per column marked (when all are over the same \
            queries), and paired tests of each \
            run against the baseline (the first run, or --baseline) on the queries both were evaluated \
            on: Student's t-test and a seeded randomization test (two-sided).

            With --queries and/or --documents instead of qrels and runs: the sparsity of vector streams \
            (binary or JSON Lines, as splade-encode writes them). For each stream: vectors, L0 (non-zero \
            entries per vector) mean, median and 95th percentile (linear interpolation, numpy's default), \
            the mean of all non-zero weights, and the vocabulary entries used; with both, the expected \
            FLOPs of a query-document product, sum over j of p_q(j)*p_d(j), where p(j) is the fraction of \
            vectors with a non-zero weight on entry j (the SPLADE papers' measure: the expected number of \
            multiplications). JSON Lines keys are token strings resolved with --model (or $SPLADE_MODEL), \
            else token ids (--keys). Streams made with different vocabularies are refused.

            EXAMPLES
              splade-eval --qrels qrels.trec run.trec
              splade-search --index idx/ --model M < q.jsonl | splade-eval --qrels qr.trec
              splade-eval --qrels qrels.trec --tie-break rank splade.trec bm25.trec.zst
              splade-eval --qrels qrels.trec --json run.trec | jq .runs[0].means
              splade-eval --qrels qrels.trec --fail-under nDCG@10=0.6,MRR@10=0.8 run.trec
              splade-eval --qrels dl19-qrels.trec --relevance-level 2 \\
                --metrics MAP,Recall@1000,nDCG@10 run.trec
              splade-eval --qrels qrels.trec --plot compare.svg splade.trec bm25.trec
              splade-eval --queries queries.vec --documents docs.vec
              splade-eval --model M --json --documents docs.jsonl | jq .documents.l0

            \(ExitStatus.table)
            """)

    enum Keys: String, ExpressibleByArgument, CaseIterable { case tokens, ids }

    @Option(help: ArgumentHelp("Relevance judgments, TREC format (zstd detected); needed to score runs.", valueName: "file"),
            completion: .file())
    var qrels: String?

    @Option(help: ArgumentHelp("Query vectors (binary or JSON Lines, zstd detected): report their sparsity.", valueName: "file"),
            completion: .file())
    var queries: String?

    @Option(help: ArgumentHelp("Document vectors (binary or JSON Lines, zstd detected): report their sparsity; with --queries also the expected FLOPs.",
                               valueName: "file"),
            completion: .file())
    var documents: String?

    @Option(help: ArgumentHelp("Model directory whose vocabulary resolves token-string keys of JSON Lines vectors and must match binary streams' (default: $SPLADE_MODEL).",
                               valueName: "dir"),
            completion: .directory)
    var model: String?

    @Option(help: ArgumentHelp("MeCab dictionary directory for --model's tokenizer (default: as the other tools find it).", valueName: "dir"),
            completion: .directory)
    var mecabDic: String?

    @Option(help: ArgumentHelp("JSON Lines vector keys: token strings (resolved with --model) or token ids (default: tokens with a model, else ids).",
                               valueName: "tokens|ids"))
    var keys: Keys?

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Metrics, comma-separated or repeated (default: nDCG@10,MRR@10,MAP,Recall@100).", valueName: "list"))
    var metrics: [String] = []

    @Flag(help: "Write the report as JSON instead of a table.")
    var json = false

    @Flag(help: "Add every query's values to the report.")
    var perQuery = false

    @Option(help: ArgumentHelp("How equal scores are ordered: docno (descending, as trec_eval), docno-asc (as the MS MARCO evaluator), or rank (the run's own order).",
                               valueName: "docno|docno-asc|rank"))
    var tieBreak: TieBreak = .docno

    @Flag(help: "Count judged queries missing from a run as 0 (trec_eval -c).")
    var missingAsZero = false

    @Flag(help: "Reproduce ir_measures: --missing-as-zero, and MRR@k and Judged ties by docno ascending.")
    var irMeasures = false

    @Option(help: ArgumentHelp("nDCG variant: trec_eval (graded gain, ideal cut at k) or jmteb (binary gain, ideal over all relevant).",
                               valueName: "trec_eval|jmteb"))
    var ndcg: NDCGVariant = .trecEval

    @Option(help: ArgumentHelp("The lowest judged level that counts as relevant, for every metric but trec_eval's nDCG (whose gain is the level): trec_eval -l, pytrec_eval's relevance_level; TREC Deep Learning uses 2 for MAP and recall.",
                               valueName: "n"))
    var relevanceLevel = 1

    @Flag(help: "Evaluate each ranking condensed to its judged documents, unjudged ones dropped (trec_eval -J, pytrec_eval's judged_docs_only_flag).")
    var judgedOnly = false

    @Option(help: ArgumentHelp("Evaluate only the first n documents of each query's ranking, the rest dropped (trec_eval -M; "
                               + "TREC's official runs are evaluated with -M1000).", valueName: "n"))
    var maxRetrieved: Int?

    @Option(help: ArgumentHelp("The run the others are tested against: its name, path or position (default: the first).",
                               valueName: "run"))
    var baseline: String?

    @Option(help: ArgumentHelp("Trials of the randomization test.", valueName: "n"))
    var trials = 10_000

    @Option(help: ArgumentHelp("Seed of the randomization test.", valueName: "n"))
    var seed: UInt64 = 42

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("Exit with status 1 when a run's mean is under a threshold: METRIC=VALUE, comma-separated or repeated.",
                               valueName: "gates"))
    var failUnder: [String] = []

    @Option(help: ArgumentHelp("Also draw the means (and per-query differences from the baseline) as an SVG chart.",
                               valueName: "file.svg"), completion: .file(extensions: ["svg"]))
    var plot: String?

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp(outputFileHelp, valueName: "file"),
            completion: .file())
    var output = "-"

    @Argument(help: ArgumentHelp("Run files (TREC or JSON Lines, zstd detected); '-' or none: standard input.", valueName: "run"),
              completion: .file())
    var runs: [String] = []

    /// Sparsity statistics of vectors instead of scoring runs.
    var measuresSparsity: Bool { queries != nil || documents != nil }

    func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        try StreamOptions.validateFileNames(inputs: [], output: output)
        guard trials >= 1 else { throw ValidationError("--trials must be at least 1") }
        if let maxRetrieved, maxRetrieved < 1 { throw ValidationError("--max-retrieved must be at least 1") }
        guard relevanceLevel >= 1 else {
            throw ValidationError("--relevance-level must be at least 1: qrels give 0 (or less) to documents judged not relevant")
        }
        if measuresSparsity {
            guard qrels == nil, runs.isEmpty else {
                throw ValidationError("--queries/--documents measure vectors; score runs (--qrels, run files) in a separate invocation")
            }
            let runOptions = [("--metrics", !metrics.isEmpty), ("--per-query", perQuery), ("--tie-break", tieBreak != .docno),
                              ("--missing-as-zero", missingAsZero), ("--ir-measures", irMeasures), ("--ndcg", ndcg != .trecEval),
                              ("--relevance-level", relevanceLevel != 1), ("--judged-only", judgedOnly),
                              ("--max-retrieved", maxRetrieved != nil), ("--baseline", baseline != nil),
                              ("--trials", trials != 10_000), ("--seed", seed != 42),
                              ("--fail-under", !failUnder.isEmpty), ("--plot", plot != nil)]
            if let (name, _) = runOptions.first(where: { $0.1 }) {
                throw ValidationError("\(name) applies to scoring runs, not to --queries/--documents")
            }
            guard queries != "-" || documents != "-" else { throw ValidationError("standard input ('-') can be read only once") }
            return
        }
        guard qrels != nil else {
            throw ValidationError("scoring runs needs --qrels (or give --queries/--documents for the vectors' sparsity)")
        }
        guard model == nil, mecabDic == nil, keys == nil else {
            throw ValidationError("--model, --mecab-dic and --keys apply to --queries/--documents")
        }
        let stdinReaders = runs.filter { $0 == "-" }.count + (runs.isEmpty ? 1 : 0) + (qrels == "-" ? 1 : 0)
        guard stdinReaders <= 1 else { throw ValidationError("standard input ('-') can be read only once") }
        guard plot != "-" else { throw ValidationError("--plot needs a file name (standard output carries the report)") }
        if let plot, URL(fileURLWithPath: plot).standardizedFileURL == URL(fileURLWithPath: output).standardizedFileURL {
            throw ValidationError("--plot and -o name the same file")
        }
        guard !irMeasures || tieBreak == .docno else { throw ValidationError("--ir-measures sets its own tie-breaking; drop --tie-break") }
    }

    var options: EvaluationOptions {
        var options = irMeasures ? EvaluationOptions.irMeasures : EvaluationOptions(tieBreak: tieBreak)
        options.missingAsZero = options.missingAsZero || missingAsZero
        options.ndcg = ndcg
        options.relevanceLevel = relevanceLevel
        options.judgedOnly = judgedOnly
        options.maxRetrieved = maxRetrieved
        return options
    }

    func run() throws {
        try ToolMain.run("splade-eval") {
            if measuresSparsity {
                try reportSparsity()
                return
            }
            let qrels = qrels!
            let gates = try failUnder.flatMap { text throws(SpladeError) in try Gate.parseList(text) }
            var requested = try metrics.flatMap { text throws(SpladeError) in try Metric.parseList(text) }
            if requested.isEmpty { requested = Metric.defaults }
            // Each metric once (nDCG@10 and ndcg_cut_10 are one), gated ones computed even if not asked for.
            var metricList: [Metric] = []
            for metric in requested + gates.map(\.metric) where !metricList.contains(metric) { metricList.append(metric) }

            let paths = runs.isEmpty ? ["-"] : runs
            // The outputs are opened first, so that one naming an input, or one that cannot be created, is said before
            // the work. Both are written before either is committed: a chart that cannot be written leaves no report.
            let inputs = [qrels] + paths
            let sink = try OutputSink(path: output, inputs: inputs)
            let chart = try plot.map { path throws(SpladeError) in try OutputSink(path: path, inputs: inputs) }
            let judgments = try Qrels(path: qrels)
            printWarnings(judgments.warnings, in: qrels)
            let names = RunNames.display(paths)
            let baselineIndex = try RunNames.index(of: baseline, paths: paths, names: names)
            let loaded = try zip(paths, names).map { path, name throws(SpladeError) in
                let run = try Run(path: path, name: name)
                printWarnings(run.warnings, in: path)
                // As trec_eval: nothing to evaluate is an error, so that a gate cannot pass on it.
                guard run.queries.keys.contains(where: { judgments.queries[$0] != nil }) else {
                    throw SpladeError(.badInput, "no query of the run is in the qrels (\(InputFile.displayName(qrels)))",
                                      location: InputFile.displayName(path), hint: "do the run and the qrels use the same query ids?")
                }
                noteQueriesLeftOut(of: run, path: path, judgments: judgments)
                return run
            }
            let report = EvaluationReport(
                runs: loaded, qrels: judgments, metrics: metricList, options: options, baselineIndex: baselineIndex,
                settings: ComparisonSettings(trials: trials, seed: seed), perQuery: perQuery)

            if json { try sink.write(report.json()) } else { try sink.write(report.table()) }
            try chart?.write(report.svg())
            try chart?.flush()
            try sink.commit()
            try chart?.commit()

            let failures = gates.flatMap { $0.failures(in: report.evaluations) }
            guard failures.isEmpty else {
                failures.forEach { Diagnostics.note("gate failed: \($0)") }
                throw ExitCode(ExitStatus.gateFailed.rawValue)
            }
        }
    }

    /// The sparsity report of --queries and/or --documents.
    private func reportSparsity() throws(SpladeError) {
        let directory = model ?? ProcessInfo.processInfo.environment["SPLADE_MODEL"].flatMap { $0.isEmpty ? nil : $0 }
        let vocabulary = try directory.map { directory throws(SpladeError) in
            try TokenizerOptions.loadTokenizer(modelDirectory: directory, mecabDic: mecabDic).vocabulary
        }
        let keyed: VectorKeys
        switch (keys, vocabulary) {
        case (.ids, _), (nil, nil): keyed = .ids(vocabularySize: vocabulary?.count)
        case (_, let vocabulary?): keyed = .tokens(vocabulary)
        case (.tokens, nil):
            throw SpladeError(.usage, "token-string keys need --model (or $SPLADE_MODEL) for the vocabulary",
                              hint: "or pass --keys ids for vectors keyed by token id")
        }
        let modelHeader = vocabulary.map {
            VectorStreamHeader(vocabularySize: $0.count, fingerprint: VectorStreamHeader.fingerprint(of: $0.tokens))
        }

        // Open both (reading the binary headers) and compare vocabularies before reading any vector.
        let queryReader = try queries.map { path throws(SpladeError) in try VectorReader(path: path, keys: keyed) }
        let documentReader = try documents.map { path throws(SpladeError) in try VectorReader(path: path, keys: keyed) }
        let readers = [queryReader, documentReader].compactMap { $0 }
        for reader in readers {
            if let header = reader.header, let modelHeader, header != modelHeader {
                throw SpladeError(.badInput, "the vectors were made with another vocabulary than --model's (fingerprint "
                                  + "\(Self.hex(header.fingerprint)), the model's \(Self.hex(modelHeader.fingerprint)))",
                                  location: reader.name)
            }
        }
        if let q = queryReader?.header, let d = documentReader?.header, q != d {
            throw SpladeError(.badInput, "the query and document vectors were made with different vocabularies (fingerprint "
                              + "\(Self.hex(q.fingerprint)), \(q.vocabularySize) entries vs \(Self.hex(d.fingerprint)), "
                              + "\(d.vocabularySize) entries)",
                              location: documentReader!.name, hint: "encode queries and documents with the same model")
        }
        // JSON Lines ids are bounded by the vocabulary a binary stream (or the model) names.
        let vocabularySize = modelHeader?.vocabularySize ?? readers.compactMap(\.header).first?.vocabularySize

        func measure(_ reader: VectorReader?) throws(SpladeError) -> SparsityStatistics? {
            guard let reader else { return nil }
            let statistics = try SparsityStatistics(reading: reader)
            if let vocabularySize, let last = statistics.entries.last, Int(last) >= vocabularySize {
                throw SpladeError(.badInput, "token id \(last) is outside the vocabulary of \(vocabularySize)", location: reader.name)
            }
            if statistics.vectors == 0 { Diagnostics.warning("\(reader.name): no vectors") }
            return statistics
        }
        let report = SparsityReport(queries: try measure(queryReader), documents: try measure(documentReader))
        let sink = try OutputSink(path: output, inputs: [queries, documents].compactMap { $0 },
                                  inputDirectories: [directory].compactMap { $0 })
        if json { try sink.write(report.json()) } else { try sink.write(report.table()) }
        try sink.commit()
    }

    /// Says which queries the means leave out, which trec_eval leaves out silently: judged queries the run lacks (a
    /// run cut short, or ids that differ, raise the means) unless they count as 0, and run queries nobody judged.
    private func noteQueriesLeftOut(of run: Run, path: String, judgments: Qrels) {
        let name = InputFile.displayName(path)
        let missing = judgments.queries.keys.count { run.queries[$0] == nil }
        if missing > 0 && !options.missingAsZero {
            Diagnostics.note("\(name): \(missing) of \(judgments.queries.count) judged queries are not in the run and are left out of "
                             + "the means, as trec_eval leaves them (--missing-as-zero counts them as 0)")
        }
        let unjudged = run.queries.keys.count { judgments.queries[$0] == nil }
        if unjudged > 0 {
            Diagnostics.note("\(name): \(unjudged) of \(run.queries.count) queries of the run have no judgments and are left out")
        }
    }

    private static func hex(_ fingerprint: UInt64) -> String { String(fingerprint, radix: 16) }

    /// Prints an input's warnings, the first few one by one.
    private func printWarnings(_ warnings: [InputWarning], in path: String) {
        let shown = 20
        warnings.prefix(shown).forEach { Diagnostics.warning($0.description) }
        if warnings.count > shown {
            Diagnostics.warning("\(InputFile.displayName(path)): \(warnings.count - shown) more warnings like these")
        }
    }
}

extension TieBreak: ExpressibleByArgument {}
extension NDCGVariant: ExpressibleByArgument {}
