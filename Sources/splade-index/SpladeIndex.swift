import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeIndex: ParsableCommand {
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
            keeps a small forward index that scores it exactly. Files are mapped, never loaded whole.

            The directory is safe for cron: a build writes a new generation beside the live one and \
            swaps INDEX/CURRENT atomically, so readers never see a half-built index and kill -9 \
            leaves the old one searchable. One build runs at a time (INDEX/LOCK): a second one exits \
            with status 75, or waits with --wait. --add and --delete write only what changes. \
            The manifest (INDEX/gen-N/manifest.json) records the format version, counts, build \
            parameters and the vocabulary fingerprint; splade-search refuses queries from another \
            vocabulary. --check verifies every checksum and invariant (status 65 when corrupt).

            EXAMPLES
              splade-encode --model M --field title,text < docs.jsonl | splade-index --model M -o idx
              splade-encode --model M --format binary < docs.jsonl | splade-index -o idx --quiet
              splade-tokenize --model M --field title,text < docs.jsonl | splade-index --bm25 --model M -o bm25
              splade-encode --model M < new.jsonl | splade-index --model M -o idx --add
              splade-index -o idx --delete gone.txt
              splade-index --check idx

            \(ExitStatus.table)
            """)

    enum Keys: String, ExpressibleByArgument, CaseIterable { case tokens, ids }

    /// The model's vocabulary keys JSON vectors, tokenizes --bm25 texts and is fingerprinted into the index.
    @OptionGroup(title: "Model") var tokenizerOptions: TokenizerOptions

    @Option(name: [.customShort("i"), .long], help: ArgumentHelp("Input file; '-' is standard input. zstd-compressed input is detected.", valueName: "file"),
            completion: .file())
    var input: String = "-"

    @Option(name: [.customShort("o"), .long], help: ArgumentHelp("The index directory (created if needed).", valueName: "dir"),
            completion: .directory)
    var output: String?

    @Option(help: ArgumentHelp("Verify the index in this directory and exit (status 65 when it is corrupt).", valueName: "dir"),
            completion: .directory)
    var check: String?

    @Flag(help: "Add the input's documents to the existing index (a document with an id already there replaces it).")
    var add = false

    @Option(help: ArgumentHelp("Delete the documents whose ids are listed in this file, one per line ('-': standard input).", valueName: "file"),
            completion: .file())
    var delete: String?

    @Flag(help: "Index BM25 weights of token ids (splade-tokenize output) or texts instead of vectors.")
    var bm25 = false

    @Option(help: ArgumentHelp("BM25 term-frequency saturation.", valueName: "x"))
    var k1: Double = 0.9

    @Option(help: ArgumentHelp("BM25 length normalisation.", valueName: "x"))
    var b: Double = 0.4

    @Option(name: .long, parsing: .singleValue,
            help: ArgumentHelp("With --bm25 and text input: the text fields, joined with a space (--field title,text).", valueName: "name"))
    var field: [String] = []

    @Option(help: ArgumentHelp("JSON Lines vector keys: token strings (resolved with --model) or token ids.", valueName: "keys"))
    var keys: Keys = .tokens

    @Option(help: ArgumentHelp("Documents per block (1-256): smaller blocks prune more finely, larger ones cost less memory.",
                               valueName: "n"))
    var blockSize = 32

    @Flag(help: "When another build holds the index's lock, wait for it instead of exiting with status 75.")
    var wait = false

    @Flag(help: "Print only a one-line summary (for cron logs).")
    var quiet = false

    @Flag(help: "Show progress on standard error even when it is not a terminal.")
    var progress = false

    func validate() throws {
        let actions = [check != nil, add, delete != nil].filter { $0 }.count
        guard actions <= 1 else { throw ValidationError("--check, --add and --delete exclude each other") }
        if check == nil && output == nil { throw ValidationError("name the index directory with -o DIR") }
        if check != nil && output != nil { throw ValidationError("--check names the index itself; drop -o") }
        guard (1...SegmentLayout.maxBlockSize).contains(blockSize) else {
            throw ValidationError("--block-size must be between 1 and \(SegmentLayout.maxBlockSize)")
        }
        if bm25 && (add || delete != nil) {
            throw ValidationError("a BM25 index cannot be updated in place (its weights depend on the whole collection); rebuild it")
        }
        guard k1 >= 0, (0...1).contains(b) else { throw ValidationError("--k1 must be ≥ 0 and --b within 0...1") }
    }

    func run() throws {
        try ToolMain.run("splade-index") {
            let clock = Stopwatch()
            if let check {
                try checkIndex(check)
                return
            }
            let directory = output!
            let lock = try IndexLock(directory: directory, wait: wait)
            let summary: IndexUpdateSummary
            let verb: String
            if let delete {
                summary = try IndexUpdate.delete(ids: try readIds(delete), directory: directory, lock: lock)
                verb = "deleted \(summary.deleted)"
            } else if bm25 {
                summary = try buildBM25(directory: directory, lock: lock)
                verb = "indexed \(summary.added) (BM25)"
            } else {
                let (documents, vocabulary) = try readVectors()
                if add {
                    summary = try IndexUpdate.add(documents, fingerprint: vocabulary.fingerprint, directory: directory, lock: lock)
                    verb = "added \(summary.added), replaced \(summary.deleted)"
                } else {
                    let settings = IndexSettings(kind: .splade, vocabularySize: vocabulary.size, fingerprint: vocabulary.fingerprint,
                                                 tokens: vocabulary.tokens, blockSize: blockSize)
                    summary = try IndexUpdate.build(documents, settings: settings, directory: directory, lock: lock)
                    verb = "indexed \(summary.added)"
                }
            }
            Diagnostics.note(String(format: "%@: %@ documents; %d live in %d segment%@, %@, %.2f s",
                                    summary.generationPath, verb, summary.documents, summary.segments,
                                    summary.segments == 1 ? "" : "s", Self.bytes(summary.bytes), clock.lap()))
            if summary.clampedWeights > 0 && !quiet {
                Diagnostics.warning("\(summary.clampedWeights) weights exceeded the index's scale and were clamped to impact 255")
            }
        }
    }

    private func checkIndex(_ directory: String) throws(SpladeError) {
        let snapshot = try IndexSnapshot(directory: directory)
        try snapshot.verify()
        let m = snapshot.manifest
        Diagnostics.note("\(snapshot.path): ok (\(m.kind.rawValue), \(m.documents) documents, \(m.deleted) deleted, "
                         + "\(m.segments.count) segment\(m.segments.count == 1 ? "" : "s"), \(Self.bytes(snapshot.fileBytes)))")
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

    /// Every input vector in memory, with the vocabulary they refer to.
    private func readVectors() throws(SpladeError) -> (DocumentBatch, VocabularyInfo) {
        let tokenizer = try loadTokenizer()
        let tokens = tokenizer?.vocabulary.tokens
        let reader = try VectorReader(path: input, keys: keys == .tokens && tokenizer != nil
                                      ? .tokens(tokenizer!.vocabulary) : .ids(vocabularySize: tokens?.count))
        var vocabulary: VocabularyInfo
        if let header = reader.header {
            vocabulary = VocabularyInfo(size: header.vocabularySize, fingerprint: header.fingerprint, tokens: nil)
            if let tokens {
                guard header.fingerprint == VectorStreamHeader.fingerprint(of: tokens), header.vocabularySize == tokens.count else {
                    throw SpladeError(.badInput, "the vectors were made with another vocabulary than --model's (fingerprint differs)",
                                      location: reader.name)
                }
                vocabulary.tokens = tokens
            }
        } else if let tokens {
            vocabulary = VocabularyInfo(size: tokens.count, fingerprint: VectorStreamHeader.fingerprint(of: tokens), tokens: tokens)
        } else if keys == .tokens {
            throw SpladeError(.usage, "JSON Lines vectors keyed by token need --model (or $SPLADE_MODEL) for the vocabulary")
        } else {
            throw SpladeError(.usage, "JSON Lines vectors carry no vocabulary fingerprint: pass --model (or $SPLADE_MODEL)",
                              hint: "or index the binary stream (splade-encode --format binary), which carries it")
        }
        let progressBar = Progress(label: "read", unit: "docs", inputPath: input, forced: progress && !quiet)
        var documents = DocumentBatch()
        while let record = try reader.next() {
            if let last = record.vector.indices.last, Int(last) >= vocabulary.size {
                throw SpladeError(.badInput, "token id \(last) is outside the vocabulary of \(vocabulary.size)", location: reader.name)
            }
            documents.append(id: record.id, vector: record.vector)
            if documents.count % 1024 == 0 { progressBar.update(items: documents.count) }
        }
        progressBar.finish()
        return (documents, vocabulary)
    }

    /// splade-tokenize records (or texts, tokenized here) → BM25 weights → a new index.
    private func buildBM25(directory: String, lock: IndexLock) throws(SpladeError) -> IndexUpdateSummary {
        guard let tokenizer = try loadTokenizer() else {
            throw SpladeError(.usage, "--bm25 needs --model (or $SPLADE_MODEL): its tokenizer names the special tokens and the vocabulary")
        }
        let session = try tokenizer.makeSession()
        let fields = field.flatMap { $0.split(separator: ",").map(String.init) }
        let format = TextRecordFormat(textFields: fields.isEmpty ? ["text"] : fields)
        let reader = try LineReader(path: input)
        let progressBar = Progress(label: "read", unit: "docs", inputPath: input, forced: progress && !quiet)
        var collection = BM25Collection(vocabularySize: tokenizer.vocabulary.count)
        let ignored: Set<Int32> = [tokenizer.clsId, tokenizer.sepId]
        while let line = try reader.next() {
            if line.bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let location = "\(reader.name):\(line.number)"
            guard UTF8Validation.isValid(line.bytes) else { throw SpladeError(.badInput, "invalid UTF-8", location: location) }
            let json: JSONValue
            do { json = try JSON.parse(line.bytes) } catch { throw SpladeError(.badInput, error.description, location: location) }
            if case .array(let values)? = json["input_ids"] {
                var ids: [Int32] = []
                for value in values {
                    guard let id = value.doubleValue.flatMap({ Int32(exactly: $0) }), id >= 0, Int(id) < tokenizer.vocabulary.count else {
                        throw SpladeError(.badInput, "input_ids holds something other than a token id below \(tokenizer.vocabulary.count)",
                                          location: location)
                    }
                    ids.append(id)
                }
                collection.append(id: try format.recordId(of: json, location: location), tokens: ids, ignoring: ignored)
            } else {
                let record = try format.record(from: json, location: location)
                collection.append(id: record.id, tokens: try session.encode(record.text, maxLength: tokenizerOptions.maxLength), ignoring: ignored)
            }
            if collection.count % 1024 == 0 { progressBar.update(items: collection.count, bytes: reader.bytesConsumed) }
        }
        progressBar.finish()
        let (documents, averageLength) = collection.weighted(k1: k1, b: b)
        let settings = IndexSettings(kind: .bm25, vocabularySize: tokenizer.vocabulary.count,
                                     fingerprint: VectorStreamHeader.fingerprint(of: tokenizer.vocabulary.tokens),
                                     tokens: tokenizer.vocabulary.tokens, blockSize: blockSize,
                                     bm25: .init(k1: k1, b: b, averageLength: averageLength))
        return try IndexUpdate.build(documents, settings: settings, directory: directory, lock: lock)
    }

    /// Ids to delete, one per line (surrounding blanks ignored).
    private func readIds(_ path: String) throws(SpladeError) -> Set<String> {
        let reader = try LineReader(path: path)
        var ids = Set<String>()
        while let line = try reader.next() {
            let id = String(decoding: line.bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            if !id.isEmpty { ids.insert(id) }
        }
        return ids
    }

    static func bytes(_ count: Int) -> String {
        count >= 1 << 30 ? String(format: "%.2f GiB", Double(count) / Double(1 << 30))
            : count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / Double(1 << 20))
            : String(format: "%.1f KiB", Double(count) / 1024)
    }
}
