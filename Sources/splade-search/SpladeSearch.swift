import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeSearch: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-search",
        abstract: "Search splade-index indexes with queries as texts, as vectors, or tokenizer-only; write a TREC run or JSON Lines.",
        discussion: """
            Reads queries ({"id": ..., "text": ...} JSON Lines, splade-tokenize's {"id": ..., "input_ids": [...]} \
            records, or plain lines with --lines) and writes the top -k documents of each, in input order. Text queries of a SPLADE index are encoded with --model \
            as splade-encode does; --tokens-only skips the model and gives each occurrence of a query token weight 1 \
            (a repeated token weighs its count, as BM25's query term frequency) \
            (the "inference-free" mode; always the query side of a BM25 index for text queries). --vectors \
            reads query vectors instead (binary stream or JSON Lines), used as they are for every index. A query whose vocabulary fingerprint differs \
            from the index's is refused (status 65).

            The search is exact by default: the same documents and order as brute force over the \
            index's 8-bit impacts and the query as integers (its weights on the index's terms scaled to sum \
            to 2^23 and rounded; equal scores: the document indexed first). Reported scores are within \
            scale/2 x (sum of query weights) of the float dot product (scale: see splade-index --help). \
            --alpha below 1 makes it approximate: a block is scored only while alpha x its upper bound \
            reaches the k-th best score so far. --query-terms N keeps only the N largest weights of \
            each query (as Seismic's query cut), another approximation. Measured recall and latency: \
            see the README.

            Several --index: shards of one collection, merged by score (an id in several shards counts \
            once, at its best score; shards indexed separately each have their own impact scale, so \
            scores are within their bounds rather than identical to one index's); with --fusion, indexes of \
            different kinds (SPLADE and BM25: hybrid retrieval), each searched to depth k and fused by \
            reciprocal rank (rrf) or a weighted sum of min-max normalised scores (sum), --weight per index.

            --format opensearch, opensearch-seismic, elasticsearch, milvus, qdrant or vespa searches \
            nothing: it writes, one line per query in input order, that engine's request body for the \
            query's vector (float weights, token ids as keys, top -k) against what splade-index \
            --export ENGINE loaded: the _search body (OpenSearch neural_sparse query; Elasticsearch \
            sparse_vector query), Milvus' /v2/vectordb/entities/search body, Qdrant's \
            /collections/NAME/points/query body, or a Vespa query body (rank profile splade). \
            No --index is needed; text queries need --model, as do --vectors keyed by token.

            EXAMPLES
              splade-search --index idx --model M -k 1000 < queries.jsonl > run.trec
              splade-search --index bm25 --model M --tokens-only < queries.jsonl | \\
                splade-eval --qrels qrels.trec
              splade-encode --model M --max-length 32 < queries.jsonl | \\
                splade-search --index idx --vectors --model M
              splade-search --index idx --index bm25 --fusion rrf --model M \\
                < queries.jsonl
              splade-search --index idx --model M --format json --with-text corpus.jsonl \\
                -k 10 < queries.jsonl
              splade-search --model M --format opensearch -k 10 < queries.jsonl | \\
                head -1 | curl -XPOST localhost:9200/splade/_search \\
                -H 'Content-Type: application/json' -d @-

            \(ExitStatus.table)
            """)

    /// A run, or (EngineQueries.swift) the query bodies of a search engine.
    /// Text queries and splade-tokenize's records both need the model's tokenizer (its vocabulary, for token ids).
    static let modelNeeded = SpladeError(.usage, "queries as texts or token ids need --model (or $SPLADE_MODEL) for the tokenizer",
                                         hint: "or pass query vectors with --vectors")

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case trec, json, opensearch, opensearchSeismic = "opensearch-seismic", elasticsearch, milvus, qdrant, vespa
    }
    enum FusionMethod: String, ExpressibleByArgument, CaseIterable { case rrf, sum }

    @Option(name: .long, help: ArgumentHelp("An index directory (repeat for shards or for fusion).", valueName: "dir"),
            completion: .directory)
    var index: [String] = []

    @OptionGroup(title: "Model") var tokenizerOptions: TokenizerOptions

    /// The indexes and the model, whose files the output must not replace.
    var readDirectories: [String] { index + ((try? tokenizerOptions.modelDirectory()).map { [$0] } ?? []) }
    @OptionGroup(title: "Query input") var textOptions: TextInputOptions
    @OptionGroup(title: "Device (query encoding)") var deviceOptions: DeviceOptions

    @Flag(help: "Queries are sparse vectors (binary stream or JSON Lines), not texts.")
    var vectors = false

    enum Keys: String, ExpressibleByArgument, CaseIterable { case tokens, ids }

    @Option(help: ArgumentHelp("Keys of JSON Lines query vectors: token strings (resolved with --model or the index's stored vocabulary) or token ids.",
                               valueName: "keys"))
    var keys: Keys = .tokens

    @Flag(help: "Tokenizer-only queries: each occurrence of a token weighs 1 (a repeated token its count), no model is run.")
    var tokensOnly = false

    @Option(name: .customShort("k"), help: ArgumentHelp("Documents per query.", valueName: "k"))
    var k = 1000

    @Option(help: ArgumentHelp("1: exact (rank-safe). Below 1: approximate, faster, lower recall (see the discussion).", valueName: "a"))
    var alpha: Double = 1

    @Option(help: ArgumentHelp("Search with only the N largest weights of each query (approximate: fewer blocks to bound and score).",
                               valueName: "n"))
    var queryTerms: Int?

    @Option(help: ArgumentHelp("Fuse the indexes' lists instead of merging shards.", valueName: "method"))
    var fusion: FusionMethod?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Fusion weight of each --index, in order (default 1 each).", valueName: "w"))
    var weight: [Double] = []

    @Option(help: ArgumentHelp("With --fusion rrf: the constant k of 1 / (k + rank) (default 60, as Cormack et al. and ranx).", valueName: "k"))
    var rrfK: Double?

    @Option(help: "Output format: a TREC run (qid Q0 docid rank score tag), JSON Lines ({\"qid\",\"docno\",\"rank\",\"score\"}), or a search engine's request body per query (no --index; see the discussion).")
    var format: Format = .trec

    @Option(help: ArgumentHelp("With --format milvus or vespa: the collection or schema the query bodies name (as splade-index --export --index-name).",
                               valueName: "name"))
    var indexName = "splade"

    @Option(help: ArgumentHelp("The run tag (TREC column 6; default: the index kind, splade or bm25, or with --fusion the method, rrf or sum).",
                               valueName: "tag"))
    var tag: String?

    @Option(help: ArgumentHelp("JSON Lines collection ({\"id\",\"text\"}) whose text is added to JSON hits as \"text\".", valueName: "file"),
            completion: .file())
    var withText: String?

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Fields of --with-text records joined into \"text\" (default: text).", valueName: "name"))
    var textField: [String] = []

    @Option(help: ArgumentHelp("Queries per model batch.", valueName: "n"))
    var batchSize = 32

    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Queries; '-' is standard input. zstd-compressed input is detected.", valueName: "file"),
            completion: .file())
    var input: String = "-"

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp(outputFileHelp, valueName: "file"),
            completion: .file())
    var output: String = "-"

    @Option(name: .customLong("threads"), help: ArgumentHelp("Worker threads, one query each (default: the number of cores).", valueName: "n"))
    var threadCount: Int?
    /// --threads, else the number of cores (kept out of the option's default, so --help and the man pages
    /// do not print this machine's count).
    var threads: Int { threadCount ?? StreamOptions.defaultThreads }

    @Flag(help: "Report on standard error the search latency per query (mean, p50, p99; encoding excluded).")
    var timings = false

    @Flag(help: ArgumentHelp(progressHelp))
    var progress = false

    func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        try StreamOptions.validateFileNames(inputs: [input], output: output)
        try StreamOptions.validateOneInput()
        if format.engine != nil {
            guard index.isEmpty else { throw ValidationError("--format \(format.rawValue) writes query bodies for that engine; drop --index") }
            guard alpha == 1 else { throw ValidationError("--alpha applies to splade-search's own search, not to --format \(format.rawValue)") }
        } else {
            guard !index.isEmpty else { throw ValidationError("name at least one --index") }
        }
        guard k >= 1 else { throw ValidationError("-k must be at least 1") }
        guard alpha > 0 && alpha <= 1 else { throw ValidationError("--alpha must be in (0, 1]") }
        if let queryTerms, queryTerms < 1 { throw ValidationError("--query-terms must be at least 1") }
        try StreamOptions.validateCount(threads, option: "--threads", limit: StreamOptions.maxThreads)
        try StreamOptions.validateCount(batchSize, option: "--batch-size", limit: StreamOptions.maxBatchSize)
        if vectors && tokensOnly { throw ValidationError("--vectors and --tokens-only exclude each other") }
        // Links resolved: a `current -> idx` link beside idx names it twice too.
        if Set(index.map { OutputSink.resolved($0) ?? URL(fileURLWithPath: $0).standardizedFileURL.path }).count != index.count {
            throw ValidationError(fusion == nil ? "an --index is named twice (its documents would be found twice)"
                                                : "an --index is named twice (its lists would count twice in --fusion)")
        }
        if !weight.isEmpty && weight.count != index.count { throw ValidationError("give one --weight per --index") }
        if !weight.allSatisfy(\.isFinite) { throw ValidationError("--weight must be a finite number") }
        if !weight.isEmpty && fusion == nil { throw ValidationError("--weight applies to --fusion") }
        if fusion != nil && index.count < 2 { throw ValidationError("--fusion needs two or more --index") }
        if let rrfK {
            guard fusion == .rrf else { throw ValidationError("--rrf-k applies to --fusion rrf") }
            guard rrfK.isFinite && rrfK >= 0 else { throw ValidationError("--rrf-k must be a finite number, at least 0") }
        }
        if withText != nil && format != .json { throw ValidationError("--with-text applies to --format json") }
        try TextInputOptions.validateFieldNames(textField)
        if format == .trec, let tag, !TRECField.isValid(tag) { throw ValidationError("--tag must be \(TRECField.rule) (TREC column 6)") }
    }

    func run() throws {
        try ToolMain.run("splade-search") {
            if let engine = format.engine {
                try writeEngineQueries(engine)
                return
            }
            let shards = try index.map { path throws(SpladeError) in try IndexSnapshot(directory: path) }
            if fusion == nil {
                for shard in shards.dropFirst() where shard.manifest.kind != shards[0].manifest.kind
                    || shard.manifest.fingerprint != shards[0].manifest.fingerprint {
                    throw SpladeError(.usage, "shards to merge must be indexes of one kind and vocabulary (\(shard.directory) differs)",
                                      hint: "to combine a SPLADE and a BM25 index, pass --fusion rrf or --fusion sum")
                }
            }
            let queries = try QuerySource(tool: self, shards: shards)
            let texts = try withText.map { path throws(SpladeError) in try CollectionTexts(path: path, fields: textField) }
            let writer = RunWriter(format: format, tag: tag ?? fusion?.rawValue ?? shards[0].manifest.kind.rawValue, texts: texts)
            let sink = try OutputSink(path: output, inputs: [input] + [withText].compactMap { $0 }, inputDirectories: readDirectories)
            let searchers: [Searcher] = (0..<threads).map { _ in
                Searcher(shards: shards, fusion: fusion.map { $0 == .rrf ? .reciprocalRank(c: rrfK ?? 60) : .weightedSum },
                         weights: weight.isEmpty ? Array(repeating: 1, count: shards.count) : weight, k: k, alpha: alpha)
            }
            let progress = Progress(label: "search", unit: "queries", inputPath: input, forced: progress)
            var done = 0
            var latencies: [UInt64] = []
            var missingTexts = 0
            while let batch = try queries.next(count: 1024) {
                let runs = orderedParallelMap(batch, workers: searchers) { searcher, query in
                    let start = DispatchTime.now().uptimeNanoseconds
                    let hits = searcher.search(query)
                    return (Result { () throws(SpladeError) in try writer.lines(for: query.id, hits: hits) },
                            DispatchTime.now().uptimeNanoseconds - start)
                }
                for (lines, nanoseconds) in runs {
                    let (bytes, missing) = try lines.get()
                    try sink.write(bytes)
                    missingTexts += missing
                    latencies.append(nanoseconds)
                }
                done += batch.count
                progress.update(items: done, bytes: queries.bytesConsumed)
            }
            progress.finish()
            try sink.commit()
            // Said, not refused: an empty run is the right answer to no queries, but in a cron job it is usually a step
            // before that failed.
            if done == 0 { Diagnostics.warning("no queries in \(InputFile.displayName(input)): the run is empty") }
            if let texts, missingTexts > 0 {
                Diagnostics.warning("\(counted(missingTexts, "hit")) without a text: \(missingTexts == 1 ? "its id is" : "their ids are") "
                                    + "not in \(texts.name)")
            }
            if timings && !latencies.isEmpty {
                let sorted = latencies.sorted()
                func ms(_ ns: UInt64) -> Double { Double(ns) / 1e6 }
                let mean = Double(sorted.reduce(0, +)) / Double(sorted.count) / 1e6
                Diagnostics.note(String(format: "timings: %@, search latency mean %.3f ms, p50 %.3f ms, p99 %.3f ms",
                                        counted(sorted.count, "query", plural: "queries"), mean, ms(sorted[sorted.count / 2]), ms(sorted[min(sorted.count - 1, sorted.count * 99 / 100)])))
            }
        }
    }
}

/// One worker's search: exact or approximate, shards merged or lists fused.
final class Searcher {
    let merged: ShardedSearch
    let perIndex: [ShardedSearch]
    let fusion: Fusion?
    let weights: [Double]
    let k: Int
    let alpha: Double
    let scratch = BlockMaxSearch.Scratch()

    init(shards: [IndexSnapshot], fusion: Fusion?, weights: [Double], k: Int, alpha: Double) {
        merged = ShardedSearch(shards: shards)
        perIndex = shards.map { ShardedSearch(shards: [$0]) }
        self.fusion = fusion
        self.weights = weights
        self.k = k
        self.alpha = alpha
    }

    func search(_ query: Query) -> [Fusion.Item] {
        guard let fusion else {
            return merged.search(query.vectors[0], k: k, alpha: alpha, scratch: scratch).map {
                Fusion.Item(id: merged.idValue(of: $0), key: merged.id(of: $0), score: $0.score)
            }
        }
        let lists = perIndex.enumerated().map { i, search in
            search.search(query.vectors[i], k: k, alpha: alpha, scratch: scratch).map {
                Fusion.Item(id: search.idValue(of: $0), key: search.id(of: $0), score: $0.score)
            }
        }
        return fusion.fuse(lists, weights: weights, k: k)
    }
}
