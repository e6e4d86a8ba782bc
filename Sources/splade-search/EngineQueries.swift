import SpladeCLI
import SpladeCore

extension SpladeSearch.Format {
    /// The search engine whose request bodies this format writes (nil: a run).
    var engine: SearchEngine? { SearchEngine(rawValue: rawValue) }
}

extension SpladeSearch {
    /// --format ENGINE: instead of searching, the engine's request body for each query (float
    /// weights, keys token ids, top -k; with --query-terms N the N largest weights), one line per query in input order.
    func writeEngineQueries(_ engine: SearchEngine) throws(SpladeError) {
        let writer = EngineFormat(engine: engine, indexName: indexName)
        // Only Milvus' and Vespa's bodies name it (a search may name an index pattern, "logs-*", that no index is called).
        if engine == .milvus || engine == .vespa { try writer.validateNames() }
        let queries = try EngineQuerySource(tool: self)
        let sink = try OutputSink(path: output, inputs: [input], inputDirectories: readDirectories)
        let progress = Progress(label: "encode", unit: "queries", inputPath: input, forced: progress)
        var done = 0
        while let batch = try queries.next(count: batchSize) {
            for vector in batch { try sink.write(writer.query(queryTerms.map { vector.topK($0) } ?? vector, k: k)) }
            done += batch.count
            progress.update(items: done, bytes: queries.bytesConsumed)
        }
        progress.finish()
        try sink.commit()
    }
}

/// Query vectors with their float weights, as engines take them: encoded from texts (--model, or
/// --tokens-only) or read (--vectors). No index is involved, so the vocabulary is --model's.
final class EngineQuerySource {
    private enum Input {
        case texts(LineReader, TextRecordFormat, QueryEncoder)
        case vectors(VectorReader)
    }

    private let input: Input

    init(tool: SpladeSearch) throws(SpladeError) {
        let options = tool.tokenizerOptions
        let tokenizer = options.hasModel ? try options.loadTokenizer() : nil
        if tool.vectors {
            // Without --model, JSON Lines keys must be ids (a token key is reported with a hint);
            // the binary stream and .csr matrices carry ids anyway.
            let keys: VectorKeys = tool.keys == .tokens && tokenizer != nil
                ? .tokens(tokenizer!.vocabulary) : .ids(vocabularySize: tokenizer?.vocabulary.count)
            let reader = try VectorReader(path: tool.input, keys: keys)
            if let header = reader.header, let tokenizer,
               header.fingerprint != VectorStreamHeader.fingerprint(of: tokenizer.vocabulary.tokens) {
                throw SpladeError(.badInput, "the query vectors were made with another vocabulary than --model's (fingerprint differs)",
                                  location: reader.name)
            }
            input = .vectors(reader)
            return
        }
        guard let tokenizer else { throw SpladeSearch.modelNeeded }
        let mode: QueryEncoder.Mode
        var maxLength = options.maxLength
        if tool.tokensOnly {
            mode = .tokens
        } else {
            let network = try tool.deviceOptions.makeEncoder(directory: try options.modelDirectory(), threads: tool.threads)
            maxLength = try options.maxLength(positions: network.config.maxPositions)
            mode = .model(network)
            BLAS.threads = tool.threads
        }
        let encoder = try QueryEncoder(tokenizer: tokenizer, mode: mode, maxLength: maxLength,
                                       batchSize: tool.batchSize, threads: tool.threads)
        input = .texts(try LineReader(path: tool.input), tool.textOptions.format, encoder)
    }

    /// The text input read so far, for a percentage (nil for vectors).
    var bytesConsumed: Int? {
        if case .texts(let reader, _, _) = input { reader.bytesConsumed } else { nil }
    }

    /// Up to `count` query vectors in input order, nil at the end.
    func next(count: Int) throws(SpladeError) -> [SparseVector]? {
        var batch: [SparseVector] = []
        switch input {
        case .vectors(let reader):
            while batch.count < count, let record = try reader.next() { batch.append(record.vector) }
        case .texts(let reader, let format, let encoder):
            var inputs: [EncoderInput] = []
            let vocabularySize = encoder.tokenizer.vocabulary.count
            while inputs.count < count, let line = try reader.next() {
                if line.isBlank { continue }
                inputs.append(try format.encoderInput(line, file: reader.name, vocabularySize: vocabularySize).input)
            }
            if !inputs.isEmpty { batch = try encoder.encode(inputs) }
        }
        return batch.isEmpty ? nil : batch
    }
}
