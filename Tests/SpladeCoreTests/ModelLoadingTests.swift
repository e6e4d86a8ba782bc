import Foundation
import Testing
@testable import SpladeCore

/// The safetensors reader must refuse any file whose header does not fit the file, and weight
/// loading must be strict: a missing, unexpected or misshapen tensor is an error naming it.
@Suite struct SafetensorsTests {
    func write(_ bytes: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "splade-st-\(UUID()).safetensors"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func file(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8)
        return (0..<8).map { UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64($0))) } + json + data
    }

    @Test func roundTripsAndConvertsHalfPrecision() throws {
        let original = ["a": NamedTensor(shape: [2, 2], values: [1, -2, 0.5, 3e-3]), "b": NamedTensor(shape: [0], values: [])]
        let path = try write(Safetensors.encode(original))
        let back = try Safetensors.read(path)
        #expect(back["a"]?.values == original["a"]?.values && back["a"]?.shape == [2, 2] && back["b"]?.shape == [0])
        // 1.5 in F16 is 0x3E00; in BF16 0x3FC0.
        let half = try write(file(header: #"{"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[2,4]}}"#,
                                  data: [0x00, 0x3E, 0xC0, 0x3F]))
        let converted = try Safetensors.read(half)
        #expect(converted["h"]?.values == [1.5] && converted["b"]?.values == [1.5])
    }

    @Test(arguments: [
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, 4, "data offsets outside"),
        (#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, 8, "8 data bytes for shape [3]"),
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, 8, "data offsets outside"),
        (#"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}}"#, 8, "exceeds the file"),
        (#"{"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}}"#, 2, "unsupported dtype I8"),
        (#"{"a":{"dtype":"F32","shape":[2]}}"#, 8, "missing shape or data_offsets"),
        (#"{"a":"#, 0, "header"),
        // Two tensors over the same bytes (safetensors and transformers refuse this too).
        (#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8,
         "tensors a and b overlap"),
    ])
    func rejectsHostileHeaders(header: String, dataBytes: Int, message: String) throws {
        let path = try write(file(header: header, data: [UInt8](repeating: 0, count: dataBytes)))
        #expect {
            try Safetensors.read(path)
        } throws: { error in
            (error as? SpladeError).map { $0.kind == .badInput && $0.description.contains(message) } ?? false
        }
    }

    /// A diverged run's NaN or infinite weights would make every vector NaN, silently empty once pooled.
    @Test(arguments: [Float.nan, .infinity, -.infinity])
    func rejectsNonFiniteWeights(value: Float) throws {
        for position in [0, 8, 10] {  // in the eight-lane part and in the tail
            var values = [Float](repeating: 0.5, count: 11)
            values[position] = value
            let path = try write(Safetensors.encode(["w": NamedTensor(shape: [11], values: values)]))
            let error = #expect(throws: SpladeError.self) { try Safetensors.read(path) }
            #expect(error?.message == "tensor w holds NaN or infinite values", "\(String(describing: error))")
        }
        #expect([Float](repeating: .greatestFiniteMagnitude, count: 17).withUnsafeBufferPointer(VectorMath.allFinite))
    }

    @Test func rejectsAHeaderLengthBeyondTheFile() throws {
        let path = try write([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0] + Array("{}".utf8))
        #expect(throws: SpladeError.self) { try Safetensors.read(path) }
        let short = try write([1, 2, 3])
        #expect(throws: SpladeError.self) { try Safetensors.read(short) }
    }
}

/// config.json values of the wrong type or out of range are errors naming the key, not silently the defaults.
@Suite(.enabled(if: Fixtures.available, "needs ../shared/fixtures"))
struct ModelConfigurationTests {
    @Test(arguments: [
        ("layer_norm_eps", "\"x\"" as String), ("layer_norm_eps", "null"), ("layer_norm_eps", "0"), ("hidden_dropout_prob", "1.5"),
        ("attention_probs_dropout_prob", "-0.1"), ("hidden_act", "5"), ("hidden_act", "null"), ("tie_word_embeddings", "\"yes\""),
        ("model_type", "null"), ("position_embedding_type", "7"), ("position_embedding_type", "\"relative_key\""),
    ])
    func wrongTypesAndRangesAreNamed(key: String, value: String) throws {
        let text = try String(contentsOfFile: Fixtures.path("ja-tiny/model/config.json"), encoding: .utf8)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        // The edited key first: a JSON object's last value for a key wins, so drop the original.
        let members = object.filter { $0.key != key }.sorted { $0.key < $1.key }.map { member in
            let encoded = try! JSONSerialization.data(withJSONObject: member.value, options: .fragmentsAllowed)
            return "\"\(member.key)\": " + String(decoding: encoded, as: UTF8.self)
        }
        let path = NSTemporaryDirectory() + "splade-config-\(UUID()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try ("{" + (["\"\(key)\": \(value)"] + members).joined(separator: ", ") + "}").write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: SpladeError.self) { _ = try BertConfig.load(path) }
        #expect(error?.kind == .badInput && error?.message.contains(key) == true, "\(String(describing: error))")
        #expect(try BertConfig.load(Fixtures.path("ja-tiny/model/config.json")).hiddenSize > 0)
    }

    /// A null position_embedding_type loads as the absolute embeddings, as transformers 5 loads it.
    @Test func aNullPositionEmbeddingTypeIsAbsolute() throws {
        let text = try String(contentsOfFile: Fixtures.path("ja-tiny/model/config.json"), encoding: .utf8)
        let path = NSTemporaryDirectory() + "splade-config-\(UUID()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let brace = try #require(text.firstIndex(of: "{"))
        try text.replacingCharacters(in: brace...brace, with: "{\"position_embedding_type\": null, ")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(try BertConfig.load(path).hiddenSize == 64)
    }

    /// A syntax error in a configuration of many lines is named by its line, the column counted in that line.
    @Test func aSyntaxErrorIsNamedByItsLine() throws {
        let path = NSTemporaryDirectory() + "splade-config-\(UUID()).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "{\n  \"hidden_size\": 64,\n  \"num_attention_heads\": 4\n  \"vocab_size\": 6000\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
        let error = #expect(throws: SpladeError.self) { _ = try BertConfig.load(path) }
        #expect(error?.location == "\(path):4" && error?.message.hasPrefix("invalid JSON at column 3: ") == true, "\(String(describing: error))")
        // Cut short: the end of the file, not a line after the last.
        try "{\n  \"hidden_size\": 64\n".write(toFile: path, atomically: true, encoding: .utf8)
        let end = #expect(throws: SpladeError.self) { _ = try BertConfig.load(path) }
        #expect(end?.location == path && end?.message.hasPrefix("invalid JSON at the end of the file: ") == true, "\(String(describing: end))")
    }
}

@Suite(.enabled(if: Fixtures.available, "needs ../shared/fixtures"))
struct StrictWeightLoadingTests {
    /// A copy of the ja-tiny model directory whose tensors `edit` changes.
    func modelWith(_ edit: (inout [String: NamedTensor]) -> Void) throws -> String {
        let source = Fixtures.path("ja-tiny/model")
        let directory = NSTemporaryDirectory() + "splade-model-\(UUID())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: source + "/config.json", toPath: directory + "/config.json")
        var tensors = try Safetensors.read(source + "/model.safetensors")
        edit(&tensors)
        try Data(Safetensors.encode(tensors)).write(to: URL(fileURLWithPath: directory + "/model.safetensors"))
        return directory
    }

    func loadError(_ directory: String) -> String? {
        do {
            _ = try BertMaskedLM(directory: directory, threads: 1)
            return nil
        } catch {
            return error.kind == .badInput ? error.message : "wrong kind: \(error)"
        }
    }

    /// Finite weights whose activations overflow float32: an error, where the NaN would have left empty vectors.
    @Test func activationsThatOverflowAreAnError() throws {
        let directory = try modelWith { tensors in
            tensors["bert.embeddings.LayerNorm.bias"]!.values = tensors["bert.embeddings.LayerNorm.bias"]!.values.map { _ in 1e20 }
        }
        let model = try BertMaskedLM(directory: directory, threads: 1)
        let error = #expect(throws: SpladeError.self) { try model.splade([[2, 100, 3]]) }
        #expect(error?.kind == .badInput && error?.message.contains("NaN or infinite") == true, "\(String(describing: error))")
    }

    @Test func missingUnexpectedAndMisshapenTensorsAreNamed() throws {
        #expect(loadError(try modelWith { $0["bert.encoder.layer.1.output.dense.bias"] = nil })
                == "missing tensor bert.encoder.layer.1.output.dense.bias")
        #expect(loadError(try modelWith { $0["bert.extra.weight"] = NamedTensor(shape: [1], values: [0]) })?
                .contains("unexpected tensor bert.extra.weight") == true)
        #expect(loadError(try modelWith { $0["cls.predictions.bias"] = NamedTensor(shape: [5999], values: .init(repeating: 0, count: 5999)) })?
                .contains("tensor cls.predictions.bias has shape [5999], expected [6000]") == true)
    }

    @Test func legacyNamesPretrainingHeadsAndAStoredTiedDecoderAreAccepted() throws {
        let directory = try modelWith { tensors in
            let norm = tensors.removeValue(forKey: "bert.embeddings.LayerNorm.weight")!
            tensors["bert.embeddings.LayerNorm.gamma"] = norm
            tensors["cls.seq_relationship.weight"] = NamedTensor(shape: [2, 64], values: .init(repeating: 0, count: 128))
            tensors["cls.predictions.decoder.weight"] = tensors["bert.embeddings.word_embeddings.weight"]
        }
        let model = try BertMaskedLM(directory: directory, threads: 1)
        #expect(model.weights.untiedDecoder == nil)
    }
}
