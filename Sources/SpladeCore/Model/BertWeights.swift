import Foundation

/// The parameters of a BertForMaskedLM, loaded strictly: a missing tensor, an unexpected one or a
/// wrong shape is an error naming it, never a silently random weight. Linear weights keep PyTorch's
/// [out, in] layout.
public struct BertWeights: Sendable {
    public struct Layer: Sendable {
        /// Query, key and value projections stacked into one [3H, H] matrix (one product instead of three).
        public var qkvWeight: [Float], qkvBias: [Float]
        public var attentionOutputWeight: [Float], attentionOutputBias: [Float]
        public var attentionNormWeight: [Float], attentionNormBias: [Float]
        public var intermediateWeight: [Float], intermediateBias: [Float]
        public var outputWeight: [Float], outputBias: [Float]
        public var outputNormWeight: [Float], outputNormBias: [Float]
    }

    public var wordEmbeddings: [Float]
    public var positionEmbeddings: [Float]
    public var tokenTypeEmbeddings: [Float]
    public var embeddingNormWeight: [Float], embeddingNormBias: [Float]
    public var layers: [Layer]
    public var transformWeight: [Float], transformBias: [Float]
    public var transformNormWeight: [Float], transformNormBias: [Float]
    /// The decoder matrix [V, H] when it is not tied to the word embeddings.
    public var untiedDecoder: [Float]?
    public var decoderBias: [Float]

    /// The [V, H] matrix of the MLM output layer.
    public var decoderWeight: [Float] { untiedDecoder ?? wordEmbeddings }

    /// Tensors of pre-training checkpoints that the masked-LM model does not use.
    static func isIgnorable(_ name: String) -> Bool {
        name.hasPrefix("bert.pooler.") || name.hasPrefix("cls.seq_relationship.") || name == "bert.embeddings.position_ids"
    }

    /// The current name of a tensor: legacy LayerNorm `gamma`/`beta` become `weight`/`bias`.
    static func canonicalName(_ name: String) -> String {
        if name.hasSuffix(".gamma") { return String(name.dropLast(6)) + ".weight" }
        if name.hasSuffix(".beta") { return String(name.dropLast(5)) + ".bias" }
        return name
    }

    /// Loads `model.safetensors`, or the shards listed by `model.safetensors.index.json`.
    public static func load(directory: String, config: BertConfig) throws(SpladeError) -> BertWeights {
        var tensors: [String: NamedTensor] = [:]
        var origin: [String: String] = [:]
        for file in try safetensorsFiles(directory) {
            for (name, tensor) in try Safetensors.read(file) {
                let canonical = canonicalName(name)
                if origin[canonical] != nil {
                    throw SpladeError(.badInput, "tensor \(name) appears twice (also in \(origin[canonical]!))", location: file)
                }
                tensors[canonical] = tensor
                origin[canonical] = file
            }
        }
        return try assemble(tensors, config: config, origin: origin, source: directory)
    }

    /// Weights from Hugging Face-named tensors (the inverse of `namedTensors`), strictly checked.
    static func assemble(_ tensors: [String: NamedTensor], config: BertConfig, origin: [String: String] = [:],
                         source: String) throws(SpladeError) -> BertWeights {
        var table = TensorTable(tensors: tensors, origin: origin, directory: source)
        let weights = try table.assemble(config)
        try table.rejectLeftovers()
        return weights
    }

    static func safetensorsFiles(_ directory: String) throws(SpladeError) -> [String] {
        let single = directory + "/model.safetensors"
        if FileManager.default.fileExists(atPath: single) { return [single] }
        let indexPath = directory + "/model.safetensors.index.json"
        guard let data = FileManager.default.contents(atPath: indexPath) else {
            let hint = FileManager.default.fileExists(atPath: directory + "/pytorch_model.bin")
                ? "this checkpoint is in PyTorch's pickle format; convert it with save_pretrained(..., safe_serialization=True)" : nil
            throw SpladeError(.missingInput, "no model.safetensors or model.safetensors.index.json", location: directory, hint: hint)
        }
        let index = try JSON.parseFile([UInt8](data), path: indexPath)
        guard case .object(let map)? = index["weight_map"] else {
            throw SpladeError(.badInput, "no weight_map object", location: indexPath)
        }
        var files: [String] = []
        for (_, file) in map {
            guard let name = file.stringValue, !name.contains("/") else {
                throw SpladeError(.badInput, "weight_map entries must be file names in the model directory", location: indexPath)
            }
            if !files.contains(directory + "/" + name) { files.append(directory + "/" + name) }
        }
        return files.sorted()
    }
}

/// The tensors of a checkpoint being assembled into `BertWeights`: each is taken once, with its shape checked.
private struct TensorTable {
    var tensors: [String: NamedTensor]
    let origin: [String: String]
    let directory: String

    mutating func take(_ name: String, _ shape: [Int]) throws(SpladeError) -> [Float] {
        guard let tensor = tensors.removeValue(forKey: name) else {
            throw SpladeError(.badInput, "missing tensor \(name)", location: directory)
        }
        guard tensor.shape == shape else {
            throw SpladeError(.badInput, "tensor \(name) has shape \(tensor.shape), expected \(shape) from config.json",
                              location: origin[name] ?? directory)
        }
        return tensor.values
    }

    mutating func assemble(_ c: BertConfig) throws(SpladeError) -> BertWeights {
        let h = c.hiddenSize, v = c.vocabularySize, i = c.intermediateSize
        let e = "bert.embeddings."
        var layers: [BertWeights.Layer] = []
        for index in 0..<c.layers {
            let p = "bert.encoder.layer.\(index)."
            let q = try take(p + "attention.self.query.weight", [h, h]), qb = try take(p + "attention.self.query.bias", [h])
            let k = try take(p + "attention.self.key.weight", [h, h]), kb = try take(p + "attention.self.key.bias", [h])
            let vw = try take(p + "attention.self.value.weight", [h, h]), vb = try take(p + "attention.self.value.bias", [h])
            layers.append(BertWeights.Layer(
                qkvWeight: q + k + vw, qkvBias: qb + kb + vb,
                attentionOutputWeight: try take(p + "attention.output.dense.weight", [h, h]),
                attentionOutputBias: try take(p + "attention.output.dense.bias", [h]),
                attentionNormWeight: try take(p + "attention.output.LayerNorm.weight", [h]),
                attentionNormBias: try take(p + "attention.output.LayerNorm.bias", [h]),
                intermediateWeight: try take(p + "intermediate.dense.weight", [i, h]),
                intermediateBias: try take(p + "intermediate.dense.bias", [i]),
                outputWeight: try take(p + "output.dense.weight", [h, i]),
                outputBias: try take(p + "output.dense.bias", [h]),
                outputNormWeight: try take(p + "output.LayerNorm.weight", [h]),
                outputNormBias: try take(p + "output.LayerNorm.bias", [h])))
        }
        let decoderBias = try take("cls.predictions.bias", [v])
        // The decoder's own bias is the same parameter as cls.predictions.bias when a checkpoint stores both.
        _ = tensors.removeValue(forKey: "cls.predictions.decoder.bias")
        let storedDecoder = tensors["cls.predictions.decoder.weight"] != nil
        if !c.tiedDecoder && !storedDecoder {
            throw SpladeError(.badInput, "missing tensor cls.predictions.decoder.weight (config.json says tie_word_embeddings: false)",
                              location: directory)
        }
        let wordEmbeddings = try take(e + "word_embeddings.weight", [v, h])
        var untied: [Float]? = nil
        if storedDecoder {
            let decoder = try take("cls.predictions.decoder.weight", [v, h])
            // save_pretrained may store a tied copy; keep a separate matrix only when it really differs.
            if decoder != wordEmbeddings || !c.tiedDecoder { untied = decoder }
        }
        return BertWeights(
            wordEmbeddings: wordEmbeddings,
            positionEmbeddings: try take(e + "position_embeddings.weight", [c.maxPositions, h]),
            tokenTypeEmbeddings: try take(e + "token_type_embeddings.weight", [c.typeVocabularySize, h]),
            embeddingNormWeight: try take(e + "LayerNorm.weight", [h]), embeddingNormBias: try take(e + "LayerNorm.bias", [h]),
            layers: layers,
            transformWeight: try take("cls.predictions.transform.dense.weight", [h, h]),
            transformBias: try take("cls.predictions.transform.dense.bias", [h]),
            transformNormWeight: try take("cls.predictions.transform.LayerNorm.weight", [h]),
            transformNormBias: try take("cls.predictions.transform.LayerNorm.bias", [h]),
            untiedDecoder: untied, decoderBias: decoderBias)
    }

    func rejectLeftovers() throws(SpladeError) {
        let unexpected = tensors.keys.filter { !BertWeights.isIgnorable($0) }.sorted()
        guard unexpected.isEmpty else {
            throw SpladeError(.badInput, "unexpected tensor\(unexpected.count > 1 ? "s" : "") \(unexpected.prefix(5).joined(separator: ", "))"
                              + (unexpected.count > 5 ? " and \(unexpected.count - 5) more" : "")
                              + " (not part of a BERT masked-LM model)", location: origin[unexpected[0]] ?? directory)
        }
    }
}
