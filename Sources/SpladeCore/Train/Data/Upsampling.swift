/// Up-sampling of small datasets by an integer factor, as the published data did (JQaRA ×8,
/// MIRACL ×5, …): `factor` copies of the rows, each copy in its own seeded shuffle, so that a
/// trainer reading the file in order meets every row once per copy and not in runs of repeats.
/// The order depends only on the seed and the row count, on every platform.
public struct Upsampling: Sendable {
    public let factor: Int
    public let seed: UInt64

    public init(factor: Int, seed: UInt64 = 42) {
        precondition(factor >= 1, "the factor is at least 1")
        self.factor = factor
        self.seed = seed
    }

    /// The indices of `count` rows in output order: `factor × count` of them.
    public func order(count: Int) -> [Int] {
        var generator = SeededRandom(seed: seed)
        var result: [Int] = []
        result.reserveCapacity(factor * count)
        for _ in 0..<factor {
            var copy = Array(0..<count)
            Self.shuffle(&copy, using: &generator)
            result += copy
        }
        return result
    }

    /// Fisher–Yates with an explicit bounded draw: the standard library's `shuffle(using:)` does not
    /// promise the same order across releases.
    static func shuffle(_ elements: inout [Int], using generator: inout SeededRandom) {
        guard elements.count > 1 else { return }
        for i in stride(from: elements.count - 1, to: 0, by: -1) {
            // Multiply-shift maps 64 random bits onto 0...i; the bias (i / 2⁶⁴) is negligible.
            let j = Int(UInt64(i + 1).multipliedFullWidth(by: generator.next()).high)
            elements.swapAt(i, j)
        }
    }
}
