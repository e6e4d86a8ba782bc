import Foundation
import Testing
@testable import SpladeCore

/// SPLADE vectors and logits against PyTorch/transformers (../shared/fixtures/ja-tiny and splade-tiny-en).
/// Tolerance 1e-4 on the max absolute difference, relative to the largest weight when that exceeds 1:
/// float32 sums in a different order (OpenBLAS vs MKL/oneDNN) differ by ~1e-6 relative per layer.
@Suite(.enabled(if: Fixtures.available && TestResources.dictionary != nil, "needs ../shared/fixtures and the dictionary"))
struct EncoderParityTests {
    static let tolerance: Float = 1e-4

    func jaTiny() throws -> (Tokenizer, BertMaskedLM) {
        let directory = Fixtures.path("ja-tiny/model")
        let tokenizer = try Tokenizer.load(modelDirectory: directory) { () throws(SpladeError) in
            try MeCabDictionary(directory: TestResources.dictionary!)
        }
        return (tokenizer, try BertMaskedLM(directory: directory, threads: 2))
    }

    func texts() throws -> [String] {
        try String(contentsOfFile: Fixtures.path("ja-tiny/encode.jsonl"), encoding: .utf8).split(separator: "\n").map {
            try JSON.parse(String($0))["text"]!.stringValue!
        }
    }

    static func dense(_ vector: SparseVector, size: Int) -> [Float] { vector.dense(size: size) }

    static func maxError(_ got: [Float], _ expected: ArraySlice<Float>) -> Float {
        let scale = max(1, expected.map(abs).max() ?? 0)
        return zip(got, expected).map { abs($0 - $1) }.max()! / scale
    }

    @Test(arguments: [512, 32])
    func spladeVectorsMatchPyTorch(maxLength: Int) throws {
        let (tokenizer, model) = try jaTiny()
        let session = try tokenizer.makeSession()
        let expected = try Safetensors.read(Fixtures.path("ja-tiny/encode-expected.safetensors"))["splade_max\(maxLength)"]!
        let sequences = try texts().map { text throws(SpladeError) in try session.encode(text, maxLength: maxLength) }
        #expect(sequences.count == 55)
        let v = model.config.vocabularySize
        // All at once (one packed batch) and one by one must both match.
        let batched = try model.splade(sequences)
        for (i, sequence) in sequences.enumerated() {
            let row = expected.values[(i * v)..<((i + 1) * v)]
            let single = try model.splade([sequence])[0]
            #expect(Self.maxError(Self.dense(batched[i], size: v), row) < Self.tolerance, "text \(i), batched")
            #expect(Self.maxError(Self.dense(single, size: v), row) < Self.tolerance, "text \(i), alone")
            #expect(batched[i].indices == single.indices)
        }
    }

    @Test func logitsMatchPyTorch() throws {
        let (tokenizer, model) = try jaTiny()
        let expected = try Safetensors.read(Fixtures.path("ja-tiny/encode-expected.safetensors"))["logits_e5"]!
        let ids = try tokenizer.makeSession().encode(try texts()[5])
        #expect(expected.shape == [ids.count, model.config.vocabularySize])
        #expect(Self.maxError(try model.logits(ids), expected.values[...]) < Self.tolerance)
    }
}

/// The real English SPLADE checkpoint (BERT-tiny, LayerNorm tensors named gamma/beta, decoder tied)
/// reproduces PyTorch's 60 reference vectors.
@Suite(.enabled(if: Fixtures.available && TestResources.spladeTinyAvailable, "needs ../shared/fixtures and models/splade-tiny (make deps)"))
struct SpladeTinyParityTests {
    @Test func referenceVectors() throws {
        let tokenizer = try Tokenizer.load(modelDirectory: TestResources.spladeTinyModel) { () throws(SpladeError) in
            throw SpladeError(.internalError, "an English model needs no dictionary")
        }
        let model = try BertMaskedLM(directory: TestResources.spladeTinyModel, threads: 2)
        let session = try tokenizer.makeSession()
        let texts = try String(contentsOfFile: Fixtures.path("splade-tiny-en/vectors.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSON.parse(String($0))["text"]!.stringValue! }
        let reference = try Safetensors.read(Fixtures.path("splade-tiny-en/vectors.safetensors"))
        let offsets = reference["offsets"]!.values.map { Int($0) }
        let indices = reference["indices"]!.values, values = reference["values"]!.values
        #expect(texts.count == 60 && offsets.count == 61)
        let vectors = try model.splade(texts.map { text throws(SpladeError) in try session.encode(text) })
        let v = model.config.vocabularySize
        for (i, vector) in vectors.enumerated() {
            var expected = [Float](repeating: 0, count: v)
            for k in offsets[i]..<offsets[i + 1] { expected[Int(indices[k])] = values[k] }
            let error = EncoderParityTests.maxError(EncoderParityTests.dense(vector, size: v), expected[...])
            #expect(error < EncoderParityTests.tolerance, "text \(i): \(error)")
            #expect(vector.count == offsets[i + 1] - offsets[i], "text \(i): non-zero count")
        }
    }
}

/// The vectorised exp and GELU against libm over the ranges the forward pass feeds them.
@Suite struct VectorMathTests {
    @Test func expIsWithinThreeUlpOfLibm() {
        var values: [Float] = (0..<4_000).map { Float($0) / 4_000 * 175 - 87 }
        let inputs = values
        values.withUnsafeMutableBufferPointer { VectorMath.expShifted($0.baseAddress!, count: $0.count, shift: 0) }
        var worst: Float = 0
        for (x, got) in zip(inputs, values) { worst = max(worst, abs(got - expf(x)) / expf(x)) }
        #expect(worst < 3.6e-7, "largest relative error \(worst)")
        var tiny: [Float] = [-200, -90, -87.4]
        tiny.withUnsafeMutableBufferPointer { VectorMath.expShifted($0.baseAddress!, count: 3, shift: 0) }
        #expect(tiny.allSatisfy { $0 >= 0 && $0 < 2e-38 })
    }

    /// A&S 7.1.26 is within 1.5e-7; float rounding of its terms adds a few 1e-7 more (PyTorch's is alike).
    @Test func geluIsWithinTheAbramowitzStegunBound() {
        var values: [Float] = (0..<4_001).map { Float($0) / 4_000 * 16 - 8 }
        let inputs = values
        values.withUnsafeMutableBufferPointer { VectorMath.gelu($0.baseAddress!, count: $0.count) }
        var worst: Float = 0
        for (x, got) in zip(inputs, values) {
            worst = max(worst, abs(got - 0.5 * x * (1 + erff(x * 0.70710678118654752))) / max(1, abs(x)))
        }
        #expect(worst < 6e-7, "largest error \(worst)")
    }
}
