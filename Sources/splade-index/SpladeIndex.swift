import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeIndex: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-index",
        abstract: "Build, update and check an inverted index of SPLADE vectors (or BM25 weights) for splade-search.",
        discussion: """
            Reads sparse vectors (the binary stream of splade-encode --format binary, or JSON Lines \
            {"id":...,"vector":{"token":weight,...}} as splade-encode, Seismic and Anserini write them) and \
            writes an index directory. With --bm25 it reads splade-tokenize output ({"id":...,"input_ids":[...]}) \
            or texts, and indexes BM25 weights instead: the lexical baseline, searched the same way.

            The index is a block-max impact index in the style of BMP: weights become 8-bit impacts \
            (impact = round(w / scale), scale = largest weight / 255, so a score is within \
            scale/2 x (sum of query weights) of the float dot product); documents are cut into blocks \
            of --block-size, each term keeps the largest impact it has in each block, and each block \
            keeps a small forward index that scores it exactly. Files are mapped, never loaded whole. \
            Before blocks are cut, documents are reordered by recursive graph bisection (as BMP's \
            indexes are), so each block holds documents that share terms: block maxima become tight, \
            searches skip most blocks and the index shrinks. Document numbers, ids and the order of \
            equal scores stay those of the input. --no-reorder skips this step (faster builds, \
            slower searches; measured figures in the README).

            The directory is safe for cron: a build writes a new generation beside the live one and \
            swaps INDEX/CURRENT atomically, so readers never see a half-built index and kill -9 \
            leaves the old one searchable. One build runs at a time (INDEX/LOCK): a second one exits \
            with status 75, or waits with --wait. --add and --delete write only what changes: each --add \
            a new segment (one per batch under --memory-limit), which searches visit in turn, so an \
            index grown by many of them is slower (a warning says when it has more than \
            \(manySegments)); --compact merges its segments into one, \
            leaving deleted documents out, with the same impacts. \
            The manifest (INDEX/gen-N/manifest.json) records the format version, counts, build \
            parameters and the vocabulary fingerprint; splade-search refuses queries from another \
            vocabulary. With --model the index also keeps the vocabulary itself (gen-N/vocab.txt), which CIFF \
            export and JSON Lines queries keyed by token strings need. --check verifies every checksum and invariant (status 65 when corrupt).

            Several -i merge vector streams, e.g. the shards of splade-encode --shard I/N: they must \
            share one vocabulary fingerprint, and a document id may occur in only one of them (status \
            65 naming both places otherwise); documents are numbered in the order of the -i options.

            A build (or --add) holds its documents in memory (8 bytes per weight: about 1 GiB for a \
            million SPLADE documents) up to --memory-limit, by default 40% of the machine's memory (or \
            of its control group's limit); a larger input is built as several segments, each from a \
            batch of that size spilled to disk while the rest is read, so vectors larger than memory \
            can be indexed (their ids, kept to refuse a repeated one, stay in memory).

            --export ENGINE writes bulk files for other search engines to standard output (or -o FILE): the live \
            documents of --index (weights dequantised, impact x scale, so within scale/2 of the indexed \
            ones), or the -i vectors as they are, streamed. opensearch: _bulk NDJSON for a \
            rank_features field (OpenSearch 2.11+); opensearch-seismic: the same for a sparse_vector \
            field with the SEISMIC method (OpenSearch 3.3+); elasticsearch: _bulk NDJSON for a \
            sparse_vector field (8.15+); milvus: JSON Lines entities for MilvusClient.insert; qdrant: \
            JSON Lines points for upsert (ids that are unsigned integers as they are, others as \
            uuid5(NAMESPACE_URL, id), the id in the payload); vespa: JSON Lines put operations for \
            vespa feed. The vector field is "sparse_embedding" everywhere, and its keys are always \
            token ids ("2023"), never token strings, which some engines refuse (a "." in a \
            field name). --mapping prints what creates the index instead (settings and mapping, \
            collection schema, Vespa schema file); splade-search --format ENGINE writes matching queries.

            EXAMPLES
              splade-encode --model M --field title,text < docs.jsonl | \\
                splade-index --model M -o idx
              splade-encode --model M --format binary < docs.jsonl | \\
                splade-index --model M -o idx --quiet
              splade-tokenize --model M --field title,text < docs.jsonl | \\
                splade-index --bm25 --model M -o bm25
              splade-encode --model M < new.jsonl | splade-index --model M -o idx --add
              splade-index -o idx --delete gone.txt
              splade-index -o idx --compact
              splade-index --check idx
              splade-index -i shard-0.vec -i shard-1.vec -i shard-2.vec -i shard-3.vec \\
                -o idx
              splade-index -i corpus.vec -o idx --memory-limit 8G
              splade-index --export opensearch --mapping | \\
                curl -XPUT localhost:9200/splade -H 'Content-Type: application/json' -d @-
              splade-index --export opensearch --index idx | \\
                curl -XPOST localhost:9200/_bulk -H 'Content-Type: application/x-ndjson' \\
                --data-binary @-
              splade-index --export qdrant --index idx > points.jsonl
              splade-index --export ciff --index idx > idx.ciff
              splade-index --model M -i idx.ciff -o idx2

            \(ExitStatus.table)
            """)

    enum Keys: String, ExpressibleByArgument, CaseIterable { case tokens, ids }

    enum InputFormat: String, ExpressibleByArgument, CaseIterable { case vectors, ciff }

    /// Formats other engines read: CIFF (CIFF.swift) and search-engine bulk files (EngineExport.swift).
    enum ExportFormat: String, ExpressibleByArgument, CaseIterable {
        case ciff, opensearch, opensearchSeismic = "opensearch-seismic", elasticsearch, milvus, qdrant, vespa
    }

    /// The model's vocabulary keys JSON vectors, tokenizes --bm25 texts and is fingerprinted into the index.
    @OptionGroup(title: "Model") var tokenizerOptions: TokenizerOptions

    @Option(name: [.customShort("i"), .customLong("input")],
            help: ArgumentHelp("Input file; '-' is standard input. zstd-compressed input is detected. Repeat to merge vector streams (shards).",
                               valueName: "file"),
            completion: .file())
    var inputs: [String] = []

    /// The input of the modes that read one.
    var input: String { inputs.first ?? "-" }

    @Option(name: [.customShort("o"), .long],
            help: ArgumentHelp("The index directory (created if needed); with --export, the file written (default: standard output).",
                               valueName: "dir"),
            completion: .directory)
    var output: String?

    @Option(help: ArgumentHelp("Verify the index in this directory and exit (status 65 when it is corrupt).", valueName: "dir"),
            completion: .directory)
    var check: String?

    @Flag(help: "Add the input's documents to the existing index (a document with an id already there replaces it).")
    var add = false

    @Option(help: ArgumentHelp("Delete the documents whose ids are listed in this file, one per line, or given by its JSON Lines records' \"id\" (the documents' own file; '-': standard input).", valueName: "file"),
            completion: .file())
    var delete: String?

    @Flag(help: "Merge the index's segments into one, leaving deleted documents out (the same ids, impacts, block size and reordering setting; equal scores then follow the merged block order).")
    var compact = false

    /// Segments beyond which --add warns that searches slow down and suggests --compact.
    static let manySegments = 16
    static let defaultBlockSize = 32

    @Flag(help: "Index BM25 weights of token ids (splade-tokenize output) or texts instead of vectors.")
    var bm25 = false

    @Option(help: ArgumentHelp("BM25 term-frequency saturation.", valueName: "x"))
    var k1: Double = 0.9

    @Option(help: ArgumentHelp("BM25 length normalisation.", valueName: "x"))
    var b: Double = 0.4

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("With --bm25 and text input: the text fields, joined with a space (--field title,text).", valueName: "name"))
    var field: [String] = []

    @Option(help: ArgumentHelp("JSON Lines vector keys and CIFF terms (read or exported): token strings (resolved with --model) or token ids.", valueName: "keys"))
    var keys: Keys = .tokens

    @Option(help: ArgumentHelp("Documents per block (1-256): smaller blocks prune more finely, larger ones cost less memory.",
                               valueName: "n"))
    var blockSize = defaultBlockSize

    @Option(help: ArgumentHelp("The input's format: vectors (binary or JSON Lines, detected) or ciff (the default for a .ciff or .ciff.zst file).",
                               valueName: "format"))
    var inputFormat: InputFormat?

    @Option(help: ArgumentHelp("Write the index named by --index (or the input's vectors) in another engine's format to standard output (or -o).",
                               valueName: "format"))
    var export: ExportFormat?

    @Option(help: ArgumentHelp("With --export: the index directory to export (otherwise the vectors of --input).", valueName: "dir"),
            completion: .directory)
    var index: String?

    @Flag(help: "With --export ENGINE: print the index settings and mapping (collection schema, Vespa schema) to create instead of the documents.")
    var mapping = false

    @Option(help: ArgumentHelp("With --export ENGINE: the OpenSearch/Elasticsearch index, Milvus/Qdrant collection or Vespa schema name.",
                               valueName: "name"))
    var indexName = "splade"

    @Option(help: ArgumentHelp("With --export vespa: the namespace of the document ids (id:NAMESPACE:NAME::ID).", valueName: "ns"))
    var vespaNamespace = "splade"

    @Flag(inversion: .prefixedNo,
          help: "Group documents that share terms into the same blocks (recursive graph bisection), so searches skip more blocks; --no-reorder builds faster.")
    var reorder = true

    @Option(help: ArgumentHelp("Refuse (status 65, the live index kept) a build from fewer documents, or a --delete that would leave "
                               + "fewer: the guard of a cron rebuild whose JSON Lines input was cut short upstream, or of a list "
                               + "of ids that names the whole collection.", valueName: "n"))
    var minDocuments: Int?

    @Option(help: ArgumentHelp("The documents a build (from vectors or --bm25), --add or --compact holds in memory at once, 8 bytes per "
                               + "weight (with --bm25, per distinct token of a document) plus the ids (e.g. 4G, 500M; default: 40% "
                               + "of the memory this process may use: the machine's, or its cgroup's limit). Beyond it, each full batch is spilled to the "
                               + "new generation's directory and becomes a segment of its own, reordered on its own: the same results, "
                               + "slower searches. A build's peak adds the segment it writes (up to twice the batch's documents, when they share few terms) "
                               + "and some 33 MiB for the tool.", valueName: "size"))
    var memoryLimit: MemorySize?
    /// The share of the machine's memory a build's documents may take without --memory-limit.
    static let defaultMemoryShare = 0.4
    var documentMemory: MemorySize {
        memoryLimit ?? MemorySize(bytes: Int(Double(MemorySize.available.bytes) * Self.defaultMemoryShare))
    }

    /// Where a new index's documents are held as they are read: a new generation of `directory`, spilled beyond
    /// `documentMemory`.
    private func newDocumentSpool(directory: String, lock: IndexLock) throws(SpladeError) -> DocumentSpool {
        DocumentSpool(generation: try GenerationBuilder(directory: directory, lock: lock), memoryLimit: documentMemory.bytes)
    }

    @Flag(help: "When another build holds the index's lock, wait for it instead of exiting with status 75.")
    var wait = false

    @Flag(help: "No progress display, even on a terminal: only the one-line summary and any warnings (for cron logs).")
    var quiet = false

    @Flag(help: ArgumentHelp(progressHelp))
    var progress = false

    func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        try StreamOptions.validateFileNames(inputs: inputs, output: output, outputIsStream: false)
        let actions = [check != nil, add, delete != nil, compact, export != nil].filter { $0 }.count
        guard actions <= 1 else { throw ValidationError("--check, --add, --delete, --compact and --export exclude each other") }
        if (delete != nil || compact) && (!inputs.isEmpty || bm25) {
            throw ValidationError("--delete and --compact change the index named by -o: drop -i and --bm25")
        }
        if let minDocuments {
            guard minDocuments >= 1 else { throw ValidationError("--min-documents must be at least 1") }
            guard actions == 0 || delete != nil else {
                throw ValidationError("--min-documents guards a build or a --delete: drop --add, --compact, --check and --export")
            }
        }
        if (add || delete != nil || compact) && (blockSize != Self.defaultBlockSize || !reorder) {
            throw ValidationError("--block-size and --no-reorder apply to a build: an update keeps the index's own")
        }
        if index != nil && export == nil { throw ValidationError("--index names the index to export; use it with --export") }
        if mapping && (export == nil || export == .ciff) { throw ValidationError("--mapping applies to --export with a search engine") }
        guard inputs.filter({ $0 == "-" }).count <= 1 else { throw ValidationError("standard input ('-') can be read only once") }
        if !inputs.isEmpty && (check != nil || index != nil) {
            throw ValidationError("--check and --export --index read the index, not -i: drop -i")
        }
        if readsCIFF && (bm25 || add || inputs.count > 1) {
            throw ValidationError("a CIFF file builds a new index of its own: drop --bm25, --add and other inputs")
        }
        if inputs.count > 1 && (bm25 || delete != nil || check != nil || index != nil) {
            throw ValidationError("several -i merge vector streams: they apply to building, --add and --export without --index")
        }
        if check == nil && export == nil && output == nil { throw ValidationError("name the index directory with -o DIR") }
        if check != nil && output != nil { throw ValidationError("--check names the index itself; drop -o") }
        if quiet && progress { throw ValidationError("--quiet and --progress exclude each other") }
        if memoryLimit != nil && (readsCIFF || (actions > 0 && !compact && !add)) {
            throw ValidationError("--memory-limit applies to a build (from vectors or --bm25), --add and --compact")
        }
        try TextInputOptions.validateFieldNames(field)
        guard (1...SegmentLayout.maxBlockSize).contains(blockSize) else {
            throw ValidationError("--block-size must be between 1 and \(SegmentLayout.maxBlockSize)")
        }
        if bm25 && (add || delete != nil) {
            throw ValidationError("a BM25 index cannot be updated in place (its weights depend on the whole collection); rebuild it")
        }
        guard k1 >= 0, k1.isFinite, (0...1).contains(b) else { throw ValidationError("--k1 must be finite and ≥ 0, and --b within 0...1") }
    }

    func run() throws {
        try ToolMain.run("splade-index") {
            let clock = Stopwatch()
            if let check {
                try checkIndex(check)
                return
            }
            if let export {
                switch export {
                case .ciff: try exportCIFF()
                default: try exportToEngine(export)
                }
                return
            }
            let directory = output!
            try OutputSink.refuseReplacingAnInput(directory, inputs: inputs, inputDirectories: modelDirectories)
            if add || delete != nil || compact {
                // Nothing to update: say so before the lock would create the directory.
                guard try IndexDirectory.currentGeneration(of: directory) != nil else {
                    throw SpladeError(.missingInput, "no index here (no \(IndexDirectory.currentFile))", location: directory,
                                      hint: "build it first, without --add, --delete or --compact")
                }
            }
            let lock = try IndexLock(directory: directory, wait: wait)
            let (summary, verb): (IndexUpdateSummary, String)
            do { (summary, verb) = try update(directory, lock: lock) } catch {
                // A build whose staging directory another build removed fails on its files: say why.
                try lock.checkHeld()
                lock.abandonCreatedDirectory()  // a failed first build leaves no directory behind
                throw error
            }
            Diagnostics.note(String(format: "%@: %@; %d live in %@, %@, %.2f s",
                                    summary.generationPath, verb, summary.documents, counted(summary.segments, "segment"),
                                    formattedBytes(summary.bytes), clock.lap()))
            for path in summary.generationsNotRemoved {
                Diagnostics.warning("\(path): an old generation could not be removed (the next build tries again)")
            }
            if summary.clampedWeights > 0 {
                Diagnostics.warning("\(summary.clampedWeights) weights exceeded the index's scale and were clamped to impact 255, "
                                    + "so their documents score lower than their vectors say",
                                    hint: "rebuild the index (without --add) to rescale it")
            }
        }
    }

    /// The model directory the tokenizer is read from, when there is one: no output may lie inside it.
    var modelDirectories: [String] {
        tokenizerOptions.hasModel ? [(try? tokenizerOptions.modelDirectory())].compactMap { $0 } : []
    }

    /// The build, addition or deletion the options ask for, under `lock`, with the summary's verb.
    private func update(_ directory: String, lock: IndexLock) throws(SpladeError) -> (IndexUpdateSummary, String) {
        if compact {
            let before = try IndexSnapshot(directory: directory).manifest
            let summary = try IndexUpdate.compact(directory: directory, lock: lock, memoryLimit: documentMemory.bytes, progress: buildProgress())
            noteSegmentsOfMemoryLimit(summary.segments)
            let segments = counted(before.segments.count, "segment")
            let verb = before.segments.isEmpty ? "no documents to compact, left as it was"
                : before.segments.count == 1 && before.deleted == 0 ? "already one segment without deletions, left as it was"
                : "compacted \(segments) into \(summary.segments), leaving out \(counted(before.deleted, "document"))"
            return (summary, verb)
        }
        if let delete {
            let ids = try readIds(delete)
            let summary = try IndexUpdate.delete(ids: ids, minimumLive: minDocuments ?? 0, directory: directory, lock: lock)
            if summary.deleted < ids.count {
                Diagnostics.warning("\(ids.count - summary.deleted) of the \(ids.count) ids named no live document")
            }
            if summary.deleted > 0, try IndexManifest(path: summary.generationPath + "/" + IndexManifest.fileName).kind == .bm25 {
                // The index holds weights, not term counts: they cannot be weighed again without the deleted documents.
                Diagnostics.warning("the BM25 weights keep the statistics of the collection they were built from (document "
                                    + "frequencies, average length), deleted documents included, even after --compact",
                                    hint: "build the index again with --bm25 for BM25 over the documents left")
            }
            return (summary, "deleted \(counted(summary.deleted, "document"))")
        }
        if readsCIFF {
            let summary = try buildFromCIFF(directory: directory, lock: lock)
            return (summary, "indexed \(counted(summary.added, "document")) (CIFF)")
        }
        if bm25 {
            let summary = try buildBM25(directory: directory, lock: lock)
            return (summary, "indexed \(counted(summary.added, "document")) (BM25)")
        }
        if add {
            let snapshot = try IndexUpdate.indexToAddTo(directory: directory)
            let documents = try newDocumentSpool(directory: directory, lock: lock)
            let vocabulary = try readVectors { id, vector throws(SpladeError) in try documents.append(id: id, vector: vector) }
            let source = (inputs.isEmpty ? ["-"] : inputs).map(InputFile.displayName).joined(separator: ", ")
            let batches = documents.segments
            let summary = try IndexUpdate.add(documents, to: snapshot, fingerprint: vocabulary.fingerprint, source: source,
                                              progress: buildProgress())
            if summary.added == 0 { Diagnostics.warning("no documents to add in \(source): the index is left as it was") }
            noteSegmentsOfMemoryLimit(batches)
            // Said once: when the batches alone are that many, the note above warned already.
            if summary.segments > Self.manySegments && batches <= Self.manySegments {
                Diagnostics.warning("the index has \(summary.segments) segments, and searches visit each in turn",
                                    hint: "merge them with splade-index -o \(directory) --compact")
            }
            return (summary, "added \(counted(summary.added, "document")), replaced \(summary.deleted)")
        }
        let documents = try newDocumentSpool(directory: directory, lock: lock)
        let vocabulary = try readVectors { id, vector throws(SpladeError) in try documents.append(id: id, vector: vector) }
        var settings = IndexSettings(kind: .splade, vocabularySize: vocabulary.size, fingerprint: vocabulary.fingerprint,
                                     tokens: vocabulary.tokens, blockSize: blockSize, reorder: reorder)
        settings.minimumDocuments = minDocuments ?? 1
        let summary = try IndexUpdate.build(documents, settings: settings, progress: buildProgress())
        noteSegmentsOfMemoryLimit(summary.segments)
        return (summary, "indexed \(counted(summary.added, "document"))")
    }

    /// Says why a build or an addition made several segments: its documents took more memory than it may hold at once.
    private func noteSegmentsOfMemoryLimit(_ segments: Int) {
        guard segments > 1 else { return }
        let limit = memoryLimit.map { "--memory-limit \($0)" }
            ?? "\(documentMemory), \(Int(Self.defaultMemoryShare * 100))% of the memory this process may use (--memory-limit)"
        let message = "the documents took more than \(limit): \(segments) segments, each reordered on its own; "
            + "searches visit each in turn"
        // Many small segments cost search time and a table the size of the vocabulary each (a limit below a batch's size).
        if segments > Self.manySegments {
            Diagnostics.warning(message, hint: "a larger --memory-limit makes fewer segments; --compact with one merges them")
        } else {
            Diagnostics.note(message)
        }
    }

    private func checkIndex(_ directory: String) throws(SpladeError) {
        let snapshot = try IndexSnapshot(directory: directory)
        try snapshot.verify()
        let m = snapshot.manifest
        Diagnostics.note("\(snapshot.path): ok (\(m.kind.rawValue), \(counted(m.documents, "document")), \(m.deleted) deleted, "
                         + "\(counted(m.segments.count, "segment")), \(formattedBytes(snapshot.fileBytes)))")
    }

    struct VocabularyInfo {
        var size: Int
        var fingerprint: UInt64
        var tokens: [String]?
    }

    /// The model's tokenizer, when --model or $SPLADE_MODEL names one.
    private func loadTokenizer() throws(SpladeError) -> Tokenizer? {
        tokenizerOptions.hasModel ? try tokenizerOptions.loadTokenizer() : nil
    }

    /// Reads every input's vectors into `append`, with a progress display, and warns about ids a TREC run cannot hold.
    private func readVectors(_ append: (JSONValue, SparseVector) throws(SpladeError) -> Void) throws(SpladeError) -> VocabularyInfo {
        let progressBar = progressDisplay("read", unit: "docs", inputPath: inputs.count == 1 ? input : nil)
        var count = 0
        var trecIds = TRECIdSurvey()
        let vocabulary = try forEachInputVector { record throws(SpladeError) in
            try append(record.id, record.vector)
            trecIds.note(record.id.idText ?? "")
            count += 1
            if count % 1024 == 0 { progressBar.update(items: count) }
        }
        progressBar.update(items: count)  // the count a log's last line gives
        progressBar.finish()
        trecIds.warn()
        return vocabulary
    }

    /// Calls `body` with each vector of each input in turn, and returns the vocabulary they share:
    /// every stream's fingerprint must match --model's and the other streams' (status 65 naming the
    /// file otherwise). A document id may occur only once among all the inputs (shards included).
    func forEachInputVector(_ body: (VectorRecord) throws(SpladeError) -> Void) throws(SpladeError) -> VocabularyInfo {
        let tokenizer = try loadTokenizer()
        let tokens = tokenizer?.vocabulary.tokens
        var vocabulary = tokens.map { VocabularyInfo(size: $0.count, fingerprint: VectorStreamHeader.fingerprint(of: $0), tokens: $0) }
        var vocabularySource = "--model's"
        // Where each id was first read: (input, position), turned into text only for an error.
        var seen: [ExactID: (input: Int, position: Int)] = [:]
        var readers: [VectorReader] = []
        for path in inputs.isEmpty ? ["-"] : inputs {
            let reader = try VectorReader(path: path, keys: keys == .tokens && tokenizer != nil
                                          ? .tokens(tokenizer!.vocabulary) : .ids(vocabularySize: vocabulary?.size))
            if let header = reader.header {
                if let known = vocabulary {
                    guard header.fingerprint == known.fingerprint, header.vocabularySize == known.size else {
                        throw SpladeError(.badInput, "the vectors were made with another vocabulary than \(vocabularySource) (fingerprint differs)",
                                          location: reader.name)
                    }
                } else {
                    vocabulary = VocabularyInfo(size: header.vocabularySize, fingerprint: header.fingerprint, tokens: nil)
                    vocabularySource = reader.name + "'s"
                }
            } else if vocabulary == nil {
                if keys == .tokens && !path.hasSuffix(".csr") {
                    throw SpladeError(.usage, "JSON Lines vectors keyed by token need --model (or $SPLADE_MODEL) for the vocabulary")
                }
                throw SpladeError(.usage, "\(reader.name) carries no vocabulary fingerprint: pass --model (or $SPLADE_MODEL)",
                                  hint: "or index the binary stream (splade-encode --format binary), which carries it")
            }
            let size = vocabulary!.size
            readers.append(reader)
            while let record = try reader.next() {
                if let last = record.vector.indices.last, Int(last) >= size {
                    throw SpladeError(.badInput, "token id \(last) is outside the vocabulary of \(size)", location: reader.location)
                }
                let id = record.id.idText ?? ""
                if let first = seen.updateValue((readers.count - 1, reader.position), forKey: ExactID(id)) {
                    throw SpladeError(.badInput, "document id \"\(id)\" was already read at \(readers[first.input].location(of: first.position))",
                                      location: reader.location,
                                      hint: inputs.count > 1 ? "shards of one collection hold each document once"
                                                             : "each document needs an id of its own (1 and \"1\" are the same id)")
                }
                try body(record)
            }
        }
        return vocabulary!
    }

    /// splade-tokenize records (or texts, tokenized here) → BM25 weights → a new index.
    private func buildBM25(directory: String, lock: IndexLock) throws(SpladeError) -> IndexUpdateSummary {
        guard let tokenizer = try loadTokenizer() else {
            throw SpladeError(.usage, "--bm25 needs --model (or $SPLADE_MODEL): its tokenizer names the special tokens and the vocabulary")
        }
        let session = try tokenizer.makeSession()
        let format = TextRecordFormat(textFields: TextInputOptions.fieldNames(field) ?? ["text"])
        let reader = try LineReader(path: input)
        let progressBar = progressDisplay("read", unit: "docs", inputPath: input)
        let spool = try newDocumentSpool(directory: directory, lock: lock)
        var collection = BM25Collection(vocabularySize: tokenizer.vocabulary.count, documents: spool)
        let ignored: Set<Int32> = [tokenizer.clsId, tokenizer.sepId]
        var firstLine: [ExactID: Int] = [:]  // each document id's line, for the error on a repeated one
        var trecIds = TRECIdSurvey()
        while let line = try reader.next() {
            if line.isBlank { continue }
            let location = "\(reader.name):\(line.number)"
            let json = try JSONLine.object(line.bytes, location: location)
            // The id first: a repeated one is refused before its text is tokenized.
            let id = try format.recordId(of: json, location: location)
            try Self.checkUnique(id, line: line.number, in: &firstLine, location: location)
            let tokens: [Int32]
            if let ids = try format.tokenIds(of: json, vocabularySize: tokenizer.vocabulary.count, location: location) {
                tokens = ids
            } else {
                let text = try format.record(from: json, location: location).text
                do { tokens = try session.encode(text, maxLength: tokenizerOptions.maxLength) } catch { throw error.located(at: location) }
            }
            try collection.append(id: id, tokens: tokens, ignoring: ignored)
            trecIds.note(id.idText ?? "")
            if collection.count % 1024 == 0 { progressBar.update(items: collection.count, bytes: reader.bytesConsumed) }
        }
        progressBar.update(items: collection.count, bytes: reader.bytesConsumed)  // the count a log's last line gives
        progressBar.finish()
        trecIds.warn()
        let averageLength = try collection.weigh(k1: k1, b: b)
        var settings = IndexSettings(kind: .bm25, vocabularySize: tokenizer.vocabulary.count,
                                     fingerprint: VectorStreamHeader.fingerprint(of: tokenizer.vocabulary.tokens),
                                     tokens: tokenizer.vocabulary.tokens, blockSize: blockSize, reorder: reorder,
                                     bm25: .init(k1: k1, b: b, averageLength: averageLength))
        settings.minimumDocuments = minDocuments ?? 1
        let summary = try IndexUpdate.build(spool, settings: settings, progress: buildProgress())
        noteSegmentsOfMemoryLimit(summary.segments)
        return summary
    }

    /// Ids a TREC run cannot hold are indexed (JSON Lines runs take them), but splade-search refuses hits on them in its
    /// default format, the TREC run: said once, with the first of them.
    struct TRECIdSurvey {
        private var refused = 0
        private var first: String?

        mutating func note(_ id: String) {
            guard !TRECField.isValid(id) else { return }
            refused += 1
            if first == nil { first = id }
        }

        /// The warning for documents read as one batch (CIFF).
        static func warn(about documents: DocumentBatch) {
            var survey = TRECIdSurvey()
            for d in 0..<documents.count { survey.note(documents.idText(d)) }
            survey.warn()
        }

        func warn() {
            guard let first else { return }
            Diagnostics.warning("\(counted(refused, "document id")) (the first \(TRECField.quoted(first))) cannot be "
                                + "\(refused == 1 ? "a field" : "fields") of a TREC run (\(TRECField.rule)): splade-search "
                                + "refuses hits on them in its default format",
                                hint: "search with --format json, or give these documents other ids")
        }
    }

    /// Status 65 when `id` was already read (at the line `firstLine` holds for it).
    private static func checkUnique(_ id: JSONValue, line: Int, in firstLine: inout [ExactID: Int], location: String) throws(SpladeError) {
        let text = id.idText ?? ""
        if let first = firstLine.updateValue(line, forKey: ExactID(text)) {
            throw SpladeError(.badInput, "document id \"\(text)\" was already read at line \(first)", location: location,
                              hint: "each document needs an id of its own (1 and \"1\" are the same id)")
        }
    }

    /// A progress display as --progress and --quiet ask.
    func progressDisplay(_ label: String, unit: String, inputPath: String?) -> SpladeCLI.Progress {
        Progress(label: label, unit: unit, inputPath: inputPath, forced: progress, silenced: quiet)
    }

    /// Progress of the build steps after reading (reordering), from any thread.
    func buildProgress() -> IndexUpdate.ProgressHandler {
        let bar = progressDisplay("reorder", unit: "docs placed", inputPath: nil)
        let lock = NSLock()
        nonisolated(unsafe) let shared = bar
        return { _, done in lock.withLock { shared.update(items: done) } }
    }

    /// Ids to delete, one per line, compared byte for byte as ids are everywhere (a line's ending, `\n` or
    /// `\r\n`, is not part of it; empty lines name nothing); or a JSON Lines record's "id" (a line that starts
    /// `{"` or `{ "`), so that the documents' own file deletes them, and ids no line can hold (a newline, an empty id) can be named.
    private func readIds(_ path: String) throws(SpladeError) -> Set<ExactID> {
        let reader = try LineReader(path: path)
        let records = TextRecordFormat()
        var ids = Set<ExactID>()
        while let line = try reader.next() {
            if line.bytes.isEmpty { continue }
            let location = "\(reader.name):\(line.number)"
            if line.bytes.first == UInt8(ascii: "{"), line.bytes.dropFirst().first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: "\"") {
                let id = try records.recordId(of: try JSONLine.object(line.bytes, location: location), location: location)
                ids.insert(ExactID(id.idText ?? ""))
                continue
            }
            guard let id = String(validating: line.bytes, as: UTF8.self) else {
                throw SpladeError(.badInput, "invalid UTF-8", location: location)
            }
            ids.insert(ExactID(id))
        }
        return ids
    }
}
