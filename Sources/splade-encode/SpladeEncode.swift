import ArgumentParser
import Foundation
import SpladeCLI
import SpladeCore

@main
struct SpladeEncode: SpladeTool {
    static let configuration = CommandConfiguration(
        commandName: "splade-encode",
        abstract: "Encode texts into SPLADE sparse vectors with a BERT masked-LM checkpoint.",
        discussion: """
            Reads JSON Lines texts ({"id": ..., "text": ...}), plain lines (--lines) or splade-tokenize \
            output (records with "input_ids"; a Hugging Face tokenizer's too: the padding its \
            "attention_mask" masks at the end is left out), runs the model (config.json + model.safetensors of a \
            Hugging Face BertForMaskedLM directory) and writes one vector per record, in input order: \
            w_j = max over tokens of log(1 + relu(logit_j)). Output is JSON Lines \
            ({"id":...,"vector":{"token":weight,...}}, the shape Seismic, Anserini and pyserini read; \
            --keys ids for token ids; a record's other fields pass through after the id) or the binary \
            vector stream (--format binary, zstd-compressed, ids and vectors only, see splade-vectors(5)), \
            which every splade tool that reads vectors also accepts. \
            --convert turns either vector format into the other (--input-keys says how JSON Lines input is keyed).

            --shard I/N encodes only shard I (0-based) of N: the records r with r mod N = I, counting \
            records from 0 in input order (every line of --lines input; the non-blank lines of JSON \
            Lines; the vectors of --convert input). The split depends on nothing but the input, so N \
            runs over the same input cover it exactly once; merge their outputs with \
            splade-index -i shard-0 -i shard-1 ...

            EXAMPLES
              splade-encode --model M --field title,text < corpus.jsonl > vectors.jsonl
              splade-tokenize --model M < docs.jsonl | \\
                splade-encode --model M --format binary -o docs.vec
              splade-encode --model M --max-length 32 --top-k 64 --lines < queries.txt
              splade-encode --convert --model M -i docs.vec | head -1
              for i in 0 1 2 3; do splade-encode --model M --format binary --shard $i/4 \\
                -i docs.jsonl -o shard-$i.vec & done; wait
              splade-encode --model M --device cuda --precision bf16 --format binary \\
                -i docs.jsonl -o docs.vec

            \(ExitStatus.table)
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, binary }
    enum Keys: String, ExpressibleByArgument, CaseIterable { case tokens, ids }

    @OptionGroup(title: "Model") var tokenizerOptions: TokenizerOptions
    @OptionGroup(title: "Input") var textOptions: TextInputOptions
    @OptionGroup(title: "Input and output") var stream: StreamOptions
    @OptionGroup(title: "Device") var deviceOptions: DeviceOptions

    @Option(help: ArgumentHelp("Sequences per forward pass (sorted by length within a window of input).", valueName: "n"))
    var batchSize = 32

    @Option(help: ArgumentHelp("Keep only the k largest weights of each vector (default: all).", valueName: "k"))
    var topK: Int?

    @Option(help: ArgumentHelp("Drop weights below this value (default: none).", valueName: "w"))
    var threshold: Float?

    @Option(help: "Output format.")
    var format: Format = .json

    @Option(help: "JSON Lines keys: token strings or token ids.")
    var keys: Keys = .tokens

    @Option(help: ArgumentHelp("With --convert: the keys of JSON Lines input vectors (default: tokens with --model, else ids).",
                               valueName: "keys"))
    var inputKeys: Keys?

    @Flag(help: "Read vectors (binary or JSON Lines) instead of texts and write them in --format (pruned by --top-k and --threshold when given).")
    var convert = false

    @Flag(help: "Report on standard error where the time went (model loading, tokenization, encoder, SPLADE head) and which OpenBLAS kernels ran; on a GPU the model's time, how much of it the host waited for the GPU, and the first window's (with the GPU's one-time set-up).")
    var timings = false

    @Option(help: ArgumentHelp("Encode only shard I of N (0-based): the records r with r mod N = I (see the discussion).", valueName: "I/N"))
    var shard: Shard?

    func validate() throws {
        if ToolMain.hasUnknownLongOption { return }  // the parser names it
        try StreamOptions.validateCount(batchSize, option: "--batch-size", limit: StreamOptions.maxBatchSize)
        if let topK, topK < 1 { throw ValidationError("--top-k must be at least 1") }
        if inputKeys != nil && !convert { throw ValidationError("--input-keys applies to --convert (texts have no keys)") }
        if convert && (!textOptions.field.isEmpty || textOptions.lines || textOptions.idFieldOption != nil || timings) {
            throw ValidationError("--convert reads vectors: --field, --id-field, --lines and --timings apply to texts")
        }
        if convert && stream.skipInvalid {
            throw ValidationError("--skip-invalid applies to texts: --convert stops at an invalid vector (status 65)")
        }
        if let threshold, !threshold.isFinite { throw ValidationError("--threshold must be a finite number") }
    }

    func run() throws {
        try ToolMain.run("splade-encode") {
            if format == .binary {
                try OutputSink.refuseBinaryOnATerminal(stream.output, what: "the vector stream",
                                                       hint: "redirect it (-o docs.vec, > docs.vec, | splade-index ...), or use --format json")
            }
            if convert { try convertVectors() } else { try encodeTexts() }
        }
    }

    /// Texts → tokens (all cores) → batches sorted by length → vectors, written in input order. With a
    /// GPU encoder the next window of input is read and tokenized while the current one is encoded and
    /// written (on the CPU the encoder has every core already).
    private func encodeTexts() throws(SpladeError) {
        let clock = Stopwatch()
        let tokenizer = try tokenizerOptions.loadTokenizer()
        let model = try deviceOptions.makeEncoder(directory: try tokenizerOptions.modelDirectory(), threads: stream.threads)
        let loading = clock.lap()
        var tokenizing = 0.0, encoding = 0.0
        /// The first window's documents and model seconds: on a GPU they include its one-time set-up (buffers, and
        /// cuBLAS's kernels loaded on their first use).
        var firstWindow: (docs: Int, seconds: Double)?
        BLAS.threads = stream.threads
        guard model.config.vocabularySize == tokenizer.vocabulary.count else {
            throw SpladeError(.badInput, "the model's vocabulary has \(model.config.vocabularySize) entries but its tokenizer's has "
                              + "\(tokenizer.vocabulary.count)", location: try tokenizerOptions.modelDirectory())
        }
        let maxLength = try tokenizerOptions.maxLength(positions: model.config.maxPositions)
        let sessions = try (0..<stream.threads).map { _ throws(SpladeError) in try tokenizer.makeSession() }
        var recordFormat = textOptions.format
        recordFormat.writtenFields = TextRecordFormat.tokenizationFields.union(["vector"])
        let input = EncodeInput(format: recordFormat, maxLength: maxLength,
                                vocabularySize: model.config.vocabularySize)
        let sink = try VectorSink(format: format, tokens: keys == .tokens ? tokenizer.vocabulary.tokens : nil,
                                  header: VectorStreamHeader(vocabularySize: tokenizer.vocabulary.count,
                                                             fingerprint: VectorStreamHeader.fingerprint(of: tokenizer.vocabulary.tokens)),
                                  path: stream.output, inputs: [stream.input], inputDirectories: [try tokenizerOptions.modelDirectory()])
        let windows = EncodeWindows(reader: try LineReader(path: stream.input), sessions: sessions, input: input, shard: shard,
                                    plainLines: textOptions.lines, size: batchSize * 16)
        let progress = Progress(label: "encode", unit: "docs", inputPath: stream.input, forced: stream.progress)
        var invalid = InvalidRecords(skipping: stream.skipInvalid)
        var written = 0, tokens = 0
        var window = try windows.next()
        while true {
            // Read ahead on a GPU. An error below leaves the read-ahead running (waiting for it could block on an
            // open pipe): the tool reports the error and exits.
            let upcoming = window.full && !model.usesHostCores ? BackgroundTask { () throws(SpladeError) in try windows.next() } : nil
            tokenizing += window.seconds
            var records: [EncodeInput.Record] = []
            for result in window.parsed {
                switch result {
                case .success(let record): records.append(record)
                case .failure(let error):
                    guard invalid.absorb(error) else { progress.finish(); throw error }
                }
            }
            let encodeClock = Stopwatch()
            let vectors = try model.splade(records.map(\.ids), batchSize: batchSize)
            let seconds = encodeClock.lap()
            encoding += seconds
            if firstWindow == nil { firstWindow = (records.count, seconds) }
            for (record, vector) in zip(records, vectors) {
                try sink.write(VectorRecord(id: record.id, vector: pruned(vector)), otherFields: record.otherFields)
                tokens += record.ids.count
            }
            written += records.count
            progress.update(items: written, extra: (tokens, "tokens"), bytes: window.bytesConsumed)
            guard window.full else { break }
            if let upcoming { window = try upcoming.value() } else { window = try windows.next() }
        }
        progress.finish()
        try sink.finish()
        invalid.reportCount()
        if timings {
            let total = loading + clock.lap()
            var line = String(format: "timings: %@, %d tokens in %.3f s: loading %.3f s, tokenizing %.3f s", counted(written, "doc"), tokens,
                              total, loading, tokenizing)
            line += model.usesHostCores ? ", " : " (alongside the GPU), "
            if let cpu = model as? BertMaskedLM {
                line += String(format: "encoder %.3f s, SPLADE head %.3f s", cpu.encoderSeconds, cpu.headSeconds)
                    + " (OpenBLAS \(BLAS.kernelName) kernels)"
            } else {
                line += String(format: "model on the GPU %.3f s", encoding)
                if let device = model as? DeviceEncoding {
                    line += String(format: " (the host waiting for it %.3f s of them", device.waitingSeconds)
                    if let firstWindow {
                        line += String(format: "; the first window, %d docs with the GPU's set-up, %.3f s",
                                       firstWindow.docs, firstWindow.seconds)
                    }
                    line += ")"
                }
            }
            Diagnostics.note(line)
        }
    }

    /// Vectors in either format → --format.
    private func convertVectors() throws(SpladeError) {
        let tokenizer = tokenizerOptions.hasModel ? try tokenizerOptions.loadTokenizer() : nil
        let vocabulary = tokenizer?.vocabulary
        let inputKeys: VectorKeys
        switch (self.inputKeys ?? (vocabulary == nil ? .ids : .tokens), vocabulary) {
        case (.tokens, let vocabulary?): inputKeys = .tokens(vocabulary)
        case (.tokens, nil): throw SpladeError(.usage, "--input-keys tokens needs --model to resolve the token strings")
        case (.ids, let vocabulary): inputKeys = .ids(vocabularySize: vocabulary?.count)
        }
        let reader = try VectorReader(path: stream.input, keys: inputKeys, keysOption: "--input-keys")
        let header: VectorStreamHeader
        if let vocabulary {
            header = VectorStreamHeader(vocabularySize: vocabulary.count, fingerprint: VectorStreamHeader.fingerprint(of: vocabulary.tokens))
            if let input = reader.header, input != header {
                throw SpladeError(.badInput, "the vectors were made with another vocabulary than --model's (fingerprint or size differs)",
                                  location: reader.name)
            }
        } else if let input = reader.header {
            header = input
        } else if format == .binary {
            throw SpladeError(.usage, "writing the binary stream from JSON Lines needs --model (for the vocabulary)")
        } else {
            header = VectorStreamHeader(vocabularySize: 0, fingerprint: 0)
        }
        if keys == .tokens && format == .json && vocabulary == nil {
            throw SpladeError(.usage, "token-string keys need --model; pass --keys ids to write token ids")
        }
        let sink = try VectorSink(format: format, tokens: keys == .tokens ? vocabulary?.tokens : nil, header: header, path: stream.output,
                                  inputs: [stream.input], inputDirectories: tokenizerOptions.hasModel ? [try tokenizerOptions.modelDirectory()] : [])
        var records = 0
        while let record = try reader.next() {
            defer { records += 1 }
            if let shard, records % shard.count != shard.index { continue }
            if header.vocabularySize > 0, let last = record.vector.indices.last, Int(last) >= header.vocabularySize {
                throw SpladeError(.badInput, "token id \(last) is outside the vocabulary of \(header.vocabularySize)", location: reader.location)
            }
            try sink.write(VectorRecord(id: record.id, vector: pruned(record.vector)))
        }
        try sink.finish()
    }

    /// --top-k, then --threshold: the same pruning whether the vectors were just encoded or are converted.
    private func pruned(_ vector: SparseVector) -> SparseVector {
        var vector = vector
        if let topK { vector = vector.topK(topK) }
        if let threshold { vector = vector.thresholded(threshold) }
        return vector
    }
}

/// The input a window of lines at a time (the lines of this --shard), parsed and tokenized on all threads.
/// One thread at a time uses it: the encoding loop, or the background task that reads ahead, which the
/// loop waits for before anything else reads.
final class EncodeWindows: @unchecked Sendable {
    struct Window {
        /// Each line's record or error, in input order.
        var parsed: [Result<EncodeInput.Record, SpladeError>]
        /// The window is full: more input may follow.
        var full: Bool
        /// Input bytes read up to the window's end, and the seconds spent tokenizing it.
        var bytesConsumed: Int
        var seconds: Double
    }

    private let reader: LineReader
    private let sessions: [TokenizerSession]
    private let input: EncodeInput
    private let shard: Shard?
    private let plainLines: Bool
    private let size: Int
    /// Records seen so far (for --shard).
    private var records = 0

    init(reader: LineReader, sessions: [TokenizerSession], input: EncodeInput, shard: Shard?, plainLines: Bool, size: Int) {
        self.reader = reader
        self.sessions = sessions
        self.input = input
        self.shard = shard
        self.plainLines = plainLines
        self.size = size
    }

    func next() throws(SpladeError) -> Window {
        var lines: [Line] = []
        while lines.count < size, let line = try reader.next() {
            // A blank line of JSON Lines is no record; with --lines every line is a text.
            if !plainLines && line.isBlank { continue }
            if let shard, !shard.keeps(counter: &records) { continue }
            lines.append(line)
        }
        let clock = Stopwatch()
        let (input, name) = (input, reader.name)
        let parsed = orderedParallelMap(lines, workers: sessions) { session, line in
            Result { () throws(SpladeError) in try input.parse(line, file: name, session: session) }
                .mapError { $0.located(at: "\(name):\(line.number)") }
        }
        return Window(parsed: parsed, full: lines.count == size, bytesConsumed: reader.bytesConsumed, seconds: clock.lap())
    }
}

/// One input line → its id, token ids and the fields that pass through: texts are tokenized, splade-tokenize
/// records are taken as they are.
struct EncodeInput: Sendable {
    typealias Record = (id: JSONValue, ids: [Int32], otherFields: [(key: String, value: JSONValue)])
    let format: TextRecordFormat
    let maxLength: Int
    let vocabularySize: Int

    func parse(_ line: Line, file: String, session: TokenizerSession) throws(SpladeError) -> Record {
        let (id, input, otherFields) = try format.encoderInput(line, file: file, vocabularySize: vocabularySize)
        return (id, try input.tokenIds(session: session, maxLength: maxLength), otherFields)
    }
}

/// --shard I/N: which records one of N runs over the same input encodes.
struct Shard: ExpressibleByArgument {
    let index: Int
    let count: Int

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1, (0..<count).contains(index) else {
            return nil
        }
        self.index = index
        self.count = count
    }

    /// Whether the next record is one of this shard's; `counter` counts records.
    func keeps(counter: inout Int) -> Bool {
        defer { counter += 1 }
        return counter % count == index
    }
}

/// Writes vector records in the chosen format to standard output or a file (atomically).
final class VectorSink {
    private let output: OutputSink
    private let json: VectorJSONWriter?
    private let encoder: VectorStreamEncoder?

    /// `inputs`, `inputDirectories`: the files and directories read, which the output must not replace (see OutputSink).
    init(format: SpladeEncode.Format, tokens: [String]?, header: VectorStreamHeader, path: String, inputs: [String],
         inputDirectories: [String]) throws(SpladeError) {
        output = try OutputSink(path: path, inputs: inputs, inputDirectories: inputDirectories)
        switch format {
        case .json: json = VectorJSONWriter(tokens: tokens); encoder = nil
        case .binary: json = nil; encoder = VectorStreamEncoder(header: header)
        }
    }

    /// `otherFields` (a text record's) go into JSON Lines only: the binary stream holds ids and vectors.
    func write(_ record: VectorRecord, otherFields: [(key: String, value: JSONValue)] = []) throws(SpladeError) {
        if let json { try output.write(json.line(record, otherFields: otherFields)) } else { try output.write(encoder!.encode(record)) }
    }

    func finish() throws(SpladeError) {
        if let encoder { try output.write(encoder.finish()) }
        try output.commit()
    }
}
