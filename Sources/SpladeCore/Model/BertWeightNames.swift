extension BertWeights {
    /// Every parameter under its Hugging Face name (query/key/value split back out of the fused
    /// projection), as save_pretrained writes them: the tied decoder is not stored.
    public func namedTensors(config c: BertConfig) -> [String: NamedTensor] {
        let h = c.hiddenSize, i = c.intermediateSize, v = c.vocabularySize
        var named: [String: NamedTensor] = [:]
        func put(_ name: String, _ shape: [Int], _ values: some Collection<Float>) {
            named[name] = NamedTensor(shape: shape, values: Array(values))
        }
        let e = "bert.embeddings."
        put(e + "word_embeddings.weight", [v, h], wordEmbeddings)
        put(e + "position_embeddings.weight", [c.maxPositions, h], positionEmbeddings)
        put(e + "token_type_embeddings.weight", [c.typeVocabularySize, h], tokenTypeEmbeddings)
        put(e + "LayerNorm.weight", [h], embeddingNormWeight)
        put(e + "LayerNorm.bias", [h], embeddingNormBias)
        for (index, layer) in layers.enumerated() {
            let p = "bert.encoder.layer.\(index)."
            for (part, name) in ["query", "key", "value"].enumerated() {
                put(p + "attention.self.\(name).weight", [h, h], layer.qkvWeight[(part * h * h)..<((part + 1) * h * h)])
                put(p + "attention.self.\(name).bias", [h], layer.qkvBias[(part * h)..<((part + 1) * h)])
            }
            put(p + "attention.output.dense.weight", [h, h], layer.attentionOutputWeight)
            put(p + "attention.output.dense.bias", [h], layer.attentionOutputBias)
            put(p + "attention.output.LayerNorm.weight", [h], layer.attentionNormWeight)
            put(p + "attention.output.LayerNorm.bias", [h], layer.attentionNormBias)
            put(p + "intermediate.dense.weight", [i, h], layer.intermediateWeight)
            put(p + "intermediate.dense.bias", [i], layer.intermediateBias)
            put(p + "output.dense.weight", [h, i], layer.outputWeight)
            put(p + "output.dense.bias", [h], layer.outputBias)
            put(p + "output.LayerNorm.weight", [h], layer.outputNormWeight)
            put(p + "output.LayerNorm.bias", [h], layer.outputNormBias)
        }
        put("cls.predictions.transform.dense.weight", [h, h], transformWeight)
        put("cls.predictions.transform.dense.bias", [h], transformBias)
        put("cls.predictions.transform.LayerNorm.weight", [h], transformNormWeight)
        put("cls.predictions.transform.LayerNorm.bias", [h], transformNormBias)
        put("cls.predictions.bias", [v], decoderBias)
        if let untiedDecoder { put("cls.predictions.decoder.weight", [v, h], untiedDecoder) }
        return named
    }

    /// Applies `body` to every parameter array with its Hugging Face-style role, in a fixed order.
    /// `decays` is false for biases and LayerNorm weights, which the Hugging Face Trainer excludes
    /// from weight decay.
    mutating func forEachParameter(_ body: (_ values: inout [Float], _ decays: Bool) -> Void) {
        body(&wordEmbeddings, true)
        body(&positionEmbeddings, true)
        body(&tokenTypeEmbeddings, true)
        body(&embeddingNormWeight, false)
        body(&embeddingNormBias, false)
        for index in layers.indices {
            body(&layers[index].qkvWeight, true)
            body(&layers[index].qkvBias, false)
            body(&layers[index].attentionOutputWeight, true)
            body(&layers[index].attentionOutputBias, false)
            body(&layers[index].attentionNormWeight, false)
            body(&layers[index].attentionNormBias, false)
            body(&layers[index].intermediateWeight, true)
            body(&layers[index].intermediateBias, false)
            body(&layers[index].outputWeight, true)
            body(&layers[index].outputBias, false)
            body(&layers[index].outputNormWeight, false)
            body(&layers[index].outputNormBias, false)
        }
        body(&transformWeight, true)
        body(&transformBias, false)
        body(&transformNormWeight, false)
        body(&transformNormBias, false)
        if untiedDecoder != nil { body(&untiedDecoder!, true) }
        body(&decoderBias, false)
    }
}
