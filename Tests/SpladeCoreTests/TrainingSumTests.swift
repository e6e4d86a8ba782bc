import Testing
@testable import SpladeCore

/// Sums over a vocabulary or over every token of a batch are rounded once to float: a float sum in
/// sequence drifts by many ulps at these lengths (about √n·ε relative).
@Suite struct TrainingSumTests {
    static func randomRows(_ rows: Int, _ columns: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var random = TrainGradientCheckTests.Generator(state: seed)
        return (0..<(rows * columns)).map { _ in abs(random.next()) * scale }
    }

    @Test func scoresAreTheDotProductRoundedOnce() {
        let v = 30_000
        let query = Self.randomRows(1, v, seed: 11)
        let documents = (0..<3).map { Self.randomRows(1, v, seed: 12 + UInt64($0), scale: 0.01) }
        let objective = SpladeObjective(losses: [(.crossEntropy, 1)], documentRegularizer: .flops, queryRegularizer: .l1,
                                        noiseTokenIds: [])
        let terms = objective.evaluate(queries: [query], documents: documents, labels: [[1, 0, 0]],
                                       lambdaDoc: 0, lambdaQuery: 0, lambdaNoise: 0)
        for (k, document) in documents.enumerated() {
            let exact = zip(query, document).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(terms.scores[0][k] == Float(exact), "score \(k)")
        }
    }

    @Test func linearBiasGradientIsTheColumnSumRoundedOnce() {
        let rows = 20_000, inputs = 2, outputs = 3
        let dy = Self.randomRows(rows, outputs, seed: 21), x = Self.randomRows(rows, inputs, seed: 22)
        let weight = Self.randomRows(outputs, inputs, seed: 23)
        var dWeight = [Float](repeating: 0, count: outputs * inputs), dBias = [Float](repeating: 0, count: outputs)
        Linear.backward(dy, rows: rows, inputs: inputs, outputs: outputs, x: x, weight: weight, dx: nil,
                        dWeight: &dWeight, dBias: &dBias)
        for j in 0..<outputs {
            let exact = (0..<rows).reduce(0.0) { $0 + Double(dy[$1 * outputs + j]) }
            #expect(dBias[j] == Float(exact), "dBias[\(j)]")
        }
    }

    @Test func layerNormParameterGradientsAreColumnSumsRoundedOnce() {
        let rows = 20_000, cols = 4
        let dy = Self.randomRows(rows, cols, seed: 31), normalized = Self.randomRows(rows, cols, seed: 32)
        let inverseStd = [Float](repeating: 1, count: rows), weight = [Float](repeating: 1, count: cols)
        var dx = [Float](repeating: 0, count: rows * cols)
        var dWeight = [Float](repeating: 0, count: cols), dBias = [Float](repeating: 0, count: cols)
        LayerNorm.backward(dy, rows: rows, cols: cols, normalized: normalized, inverseStd: inverseStd, weight: weight,
                           dx: &dx, dWeight: &dWeight, dBias: &dBias)
        for j in 0..<cols {
            let column = (0..<rows).map { $0 * cols + j }
            let exactWeight = column.reduce(0.0) { $0 + Double(dy[$1]) * Double(normalized[$1]) }
            let exactBias = column.reduce(0.0) { $0 + Double(dy[$1]) }
            #expect(dWeight[j] == Float(exactWeight), "dWeight[\(j)]")
            #expect(dBias[j] == Float(exactBias), "dBias[\(j)]")
        }
    }
}
