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
        let json = try JSON.parseFile(data, path: path)
        func integer(_ key: String, default fallback: Int? = nil) throws(SpladeError) -> Int {
            if let value = json[key]?.doubleValue.flatMap({ Int(exactly: $0) }), value > 0 { return value }
            if json[key] == nil, let fallback { return fallback }
            throw SpladeError(.badInput, "\"\(key)\" is missing or not a positive integer", location: path)
        }
        // A value of the wrong type is an error, not the default: transformers would fail on it or read it otherwise.
        func text(_ key: String, default fallback: String, nullIsDefault: Bool = false) throws(SpladeError) -> String {
            guard let value = json[key] else { return fallback }
            if nullIsDefault, case .null = value { return fallback }
            guard let string = value.stringValue else {
                throw SpladeError(.badInput, "\"\(key)\" is \(value.jsonText), not a string", location: path)
            }
            return string
        }
        func real(_ key: String, default fallback: Double, aboveZero: Bool) throws(SpladeError) -> Float {
            guard let value = json[key] else { return Float(fallback) }
            guard let number = value.doubleValue, aboveZero ? number > 0 : number >= 0, number < 1 else {
                throw SpladeError(.badInput, "\"\(key)\" is \(value.jsonText), not a number \(aboveZero ? "above" : "from") 0 and below 1",
                                  location: path)
            }
            return Float(number)
        }
        let type = try text("model_type", default: "bert")
        guard type == "bert" else {
            throw SpladeError(.badInput, "model_type \"\(type)\" is not supported (only BERT)", location: path)
        }
        let activation = try text("hidden_act", default: "gelu")
        guard activation == "gelu" else {
            throw SpladeError(.badInput, "hidden_act \"\(activation)\" is not supported (BERT's erf GELU, \"gelu\", is)",
                              location: path)
        }
        // transformers 5 reads no other position embeddings, and a null as the absolute ones.
        let position = try text("position_embedding_type", default: "absolute", nullIsDefault: true)
        guard position == "absolute" else {
            throw SpladeError(.badInput, "position_embedding_type \"\(position)\" is not supported", location: path)
        }
        let tiedDecoder: Bool
        switch json["tie_word_embeddings"] {
        case nil: tiedDecoder = true
        case .bool(let tied)?: tiedDecoder = tied
        case let value?: throw SpladeError(.badInput, "\"tie_word_embeddings\" is \(value.jsonText), not true or false", location: path)
        }
        let config = BertConfig(
            vocabularySize: try integer("vocab_size"), hiddenSize: try integer("hidden_size"),
            layers: try integer("num_hidden_layers"), heads: try integer("num_attention_heads"),
            intermediateSize: try integer("intermediate_size"),
            maxPositions: try integer("max_position_embeddings", default: 512),
            typeVocabularySize: try integer("type_vocab_size", default: 2),
            layerNormEpsilon: try real("layer_norm_eps", default: 1e-12, aboveZero: true),
            hiddenDropout: try real("hidden_dropout_prob", default: 0.1, aboveZero: false),
            attentionDropout: try real("attention_probs_dropout_prob", default: 0.1, aboveZero: false),
            tiedDecoder: tiedDecoder)
        guard config.hiddenSize % config.heads == 0 else {
            throw SpladeError(.badInput, "hidden_size \(config.hiddenSize) is not a multiple of num_attention_heads \(config.heads)",
                              location: path)
        }
        return config
    }
}
