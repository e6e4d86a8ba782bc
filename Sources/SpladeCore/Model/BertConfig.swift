import Foundation

/// The `config.json` keys of a Hugging Face BERT checkpoint that the forward pass needs.
public struct BertConfig: Sendable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    public var intermediateSize: Int
    public var maxPositions: Int
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Float
    public var hiddenDropout: Float
    public var attentionDropout: Float
    /// False only when the checkpoint stores its own decoder matrix (`tie_word_embeddings: false`).
    public var tiedDecoder: Bool

    public var headSize: Int { hiddenSize / heads }

    public init(vocabularySize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int,
                maxPositions: Int = 512, typeVocabularySize: Int = 2, layerNormEpsilon: Float = 1e-12,
                hiddenDropout: Float = 0.1, attentionDropout: Float = 0.1, tiedDecoder: Bool = true) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        self.hiddenDropout = hiddenDropout
        self.attentionDropout = attentionDropout
        self.tiedDecoder = tiedDecoder
    }

    public static func load(_ path: String) throws(SpladeError) -> BertConfig {
        let data = try InputFile.contents(path, what: "the model configuration")
        let json: JSONValue
        do { json = try JSON.parse(data) } catch { throw SpladeError(.badInput, error.description, location: path) }
        func integer(_ key: String, default fallback: Int? = nil) throws(SpladeError) -> Int {
            if let value = json[key]?.doubleValue.flatMap({ Int(exactly: $0) }), value > 0 { return value }
            if json[key] == nil, let fallback { return fallback }
            throw SpladeError(.badInput, "\"\(key)\" is missing or not a positive integer", location: path)
        }
        if let type = json["model_type"]?.stringValue, type != "bert" {
            throw SpladeError(.badInput, "model_type \"\(type)\" is not supported (only BERT)", location: path)
        }
        let activation = json["hidden_act"]?.stringValue ?? "gelu"
        guard activation == "gelu" else {
            throw SpladeError(.badInput, "hidden_act \"\(activation)\" is not supported (BERT's erf GELU, \"gelu\", is)",
                              location: path)
        }
        if let position = json["position_embedding_type"]?.stringValue, position != "absolute" {
            throw SpladeError(.badInput, "position_embedding_type \"\(position)\" is not supported", location: path)
        }
        let config = BertConfig(
            vocabularySize: try integer("vocab_size"), hiddenSize: try integer("hidden_size"),
            layers: try integer("num_hidden_layers"), heads: try integer("num_attention_heads"),
            intermediateSize: try integer("intermediate_size"),
            maxPositions: try integer("max_position_embeddings", default: 512),
            typeVocabularySize: try integer("type_vocab_size", default: 2),
            layerNormEpsilon: Float(json["layer_norm_eps"]?.doubleValue ?? 1e-12),
            hiddenDropout: Float(json["hidden_dropout_prob"]?.doubleValue ?? 0.1),
            attentionDropout: Float(json["attention_probs_dropout_prob"]?.doubleValue ?? 0.1),
            tiedDecoder: { if case .bool(false)? = json["tie_word_embeddings"] { return false } else { return true } }())
        guard config.hiddenSize % config.heads == 0 else {
            throw SpladeError(.badInput, "hidden_size \(config.hiddenSize) is not a multiple of num_attention_heads \(config.heads)",
                              location: path)
        }
        return config
    }
}
