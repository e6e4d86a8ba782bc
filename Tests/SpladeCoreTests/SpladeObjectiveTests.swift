import Testing
@testable import SpladeCore

@Suite struct SpladeObjectiveTests {
    /// Scores over a 30k vocabulary are the dot product rounded once to float: a float sum in
    /// sequence drifts by many ulps there (about √V·ε relative).
    @Test func scoresAreTheDotProductRoundedOnce() {
        var random = TrainGradientCheckTests.Generator(state: 11)
        let v = 30_000
        let query = (0..<v).map { _ in abs(random.next()) }
        let documents = (0..<3).map { _ in (0..<v).map { _ in abs(random.next()) * 0.01 } }
        let objective = SpladeObjective(losses: [(.crossEntropy, 1)], documentRegularizer: .flops, queryRegularizer: .l1,
                                        noiseTokenIds: [])
        let terms = objective.evaluate(queries: [query], documents: documents, labels: [[1, 0, 0]],
                                       lambdaDoc: 0, lambdaQuery: 0, lambdaNoise: 0)
        for (k, document) in documents.enumerated() {
            let exact = zip(query, document).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            #expect(terms.scores[0][k] == Float(exact), "score \(k): \(terms.scores[0][k]) vs \(Float(exact))")
        }
    }
}
