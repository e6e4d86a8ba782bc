import SpladeCLI
import SpladeCore

/// A query ready to search: its id and its vector for each index (model-encoded for a SPLADE
/// index, tokenizer-only for a BM25 index).
struct Query: Sendable {
    var id: JSONValue
    var vectors: [QuantizedQuery]
}

/// Reads queries in batches and turns them into vectors, checking that they share the indexes' vocabulary.
final class QuerySource {
    /// Where each query id was read, to refuse a repeated one.
    private var firstLocation: [ExactID: String] = [:]
    private enum Input {
        case texts(LineReader, TextRecordFormat, model: QueryEncoder?, tokens: QueryEncoder)
        case vectors(VectorReader)
    }

    private let input: Input
    /// For each index: whether its queries come from the model (else tokenizer-only).
    private let usesModel: [Bool]
    private let shards: [IndexSnapshot]
    /// --fusion: each index is searched with its own query; otherwise one query searches all shards (one ranking).
    private let fused: Bool
    /// --query-terms: keep only this many of a query's largest weights (approximate).
    private let termLimit: Int?
    /// Whether query ids become TREC fields (--format trec), which must be non-empty and without whitespace.
    private let trecIds: Bool

    init(tool: SpladeSearch, shards: [IndexSnapshot]) throws(SpladeError) {
        usesModel = shards.map { $0.manifest.kind == .splade && !tool.tokensOnly && !tool.vectors }
        self.shards = shards
        fused = tool.fusion != nil
        termLimit = tool.queryTerms
        trecIds = tool.format == .trec
        let options = tool.tokenizerOptions
        let tokenizer = options.hasModel ? try options.loadTokenizer() : nil
        if let tokenizer {
            let fingerprint = VectorStreamHeader.fingerprint(of: tokenizer.vocabulary.tokens)
            for shard in shards where shard.manifest.fingerprint != fingerprint {
                throw Self.mismatch(shard, what: "--model's vocabulary", fingerprint: fingerprint)
            }
        }
        if tool.vectors {
            let keys: VectorKeys
            if tool.keys == .ids {
                keys = .ids(vocabularySize: shards[0].manifest.vocabularySize)
            } else if let tokenizer {
                keys = .tokens(tokenizer.vocabulary)
            } else if let vocabulary = try shards[0].vocabulary() {
                keys = .tokens(vocabulary)
            } else {
                keys = .unresolvable(SpladeError(.usage, "query vectors keyed by token need --model (the index stores no vocabulary)",
                                                 hint: "or pass --keys ids for vectors keyed by token id"))
            }
            let reader = try VectorReader(path: tool.input, keys: keys)
            if let header = reader.header {
                for shard in shards where shard.manifest.fingerprint != header.fingerprint {
                    throw Self.mismatch(shard, what: "the query vectors' vocabulary (\(reader.name))", fingerprint: header.fingerprint)
                }
            }
            input = .vectors(reader)
            return
        }
        guard let tokenizer else { throw SpladeSearch.modelNeeded }
        var model: QueryEncoder?
        if usesModel.contains(true) {
            let network = try tool.deviceOptions.makeEncoder(directory: try options.modelDirectory(), threads: tool.threads)
            BLAS.threads = tool.threads
            model = try QueryEncoder(tokenizer: tokenizer, mode: .model(network),
                                     maxLength: try options.maxLength(positions: network.config.maxPositions),
                                     batchSize: tool.batchSize, threads: tool.threads)
        }
        let tokens = try QueryEncoder(tokenizer: tokenizer, mode: .tokens, maxLength: options.maxLength,
                                      batchSize: tool.batchSize, threads: tool.threads)
        input = .texts(try LineReader(path: tool.input), tool.textOptions.format, model: model, tokens: tokens)
    }

    private static func mismatch(_ shard: IndexSnapshot, what: String, fingerprint: UInt64) -> SpladeError {
        SpladeError(.badInput, "the index was built with another vocabulary than \(what) (fingerprint "
                    + "\(String(shard.manifest.fingerprint, radix: 16)), not \(String(fingerprint, radix: 16)))", location: shard.directory,
                    hint: "search an index with queries from the model that built it")
    }

    /// The integer query of each index from its float one (`vector(i)`), leaving out the terms no document of what
    /// it searches has: that index when lists are fused; all the shards otherwise, which one query serves.
    private func quantized(_ vector: (Int) -> SparseVector) -> [QuantizedQuery] {
        func quantize(_ vector: SparseVector, searching indexes: [IndexSnapshot]) -> QuantizedQuery {
            QuantizedQuery(termLimit.map { vector.topK($0) } ?? vector) { term in
                indexes.contains { $0.segments.contains { $0.hasPostings(forTerm: Int(term)) } }
            }
        }
        guard fused else {
            let query = quantize(vector(0), searching: shards)
            return shards.map { _ in query }
        }
        return shards.indices.map { quantize(vector($0), searching: [shards[$0]]) }
    }

    /// Status 65 for a query id that a TREC run cannot hold.
    private func checkId(_ id: JSONValue, location: String) throws(SpladeError) {
        let text = id.idText ?? ""
        if trecIds && !TRECField.isValid(text) {
            throw SpladeError(.badInput, "query id \(TRECField.quoted(text)) cannot be a TREC run's field (\(TRECField.rule))",
                              location: location, hint: "write JSON Lines with --format json")
        }
        // A run holds one ranking per query: a second one under the same id would be merged with the first by
        // trec_eval and splade-eval.
        if let first = firstLocation.updateValue(location, forKey: ExactID(text)) {
            throw SpladeError(.badInput, "query id \"\(text)\" was already read at \(first)", location: location,
                              hint: "each query needs an id of its own (1 and \"1\" are the same id)")
        }
    }

    /// The text input read so far, for a percentage (nil for vectors).
    var bytesConsumed: Int? {
        if case .texts(let reader, _, _, _) = input { reader.bytesConsumed } else { nil }
    }

    /// Up to `count` queries, nil at the end.
    func next(count: Int) throws(SpladeError) -> [Query]? {
        switch input {
        case .vectors(let reader):
            var batch: [Query] = []
            while batch.count < count, let record = try reader.next() {
                try checkId(record.id, location: reader.location)
                batch.append(Query(id: record.id, vectors: quantized { _ in record.vector }))
            }
            return batch.isEmpty ? nil : batch
        case .texts(let reader, let format, let model, let tokens):
            var records: [(id: JSONValue, input: EncoderInput)] = []
            let vocabularySize = tokens.tokenizer.vocabulary.count
            while records.count < count, let line = try reader.next() {
                if line.isBlank { continue }
                let record = try format.encoderInput(line, file: reader.name, vocabularySize: vocabularySize)
                try checkId(record.id, location: "\(reader.name):\(line.number)")
                records.append((record.id, record.input))
            }
            guard !records.isEmpty else { return nil }
            let inputs = records.map(\.input)
            let encoded = try model?.encode(inputs)
            let tokenized = usesModel.contains(false) ? try tokens.encode(inputs) : nil
            return records.indices.map { i in
                Query(id: records[i].id, vectors: quantized { usesModel[$0] ? encoded![i] : tokenized![i] })
            }
        }
    }
}
