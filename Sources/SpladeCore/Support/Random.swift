/// SplitMix64 (Steele, Lea, Flood 2014), a small deterministic generator: the same seed gives the same numbers on every
/// machine, which training's sampling, shuffling and dropout masks rely on for exact resumes.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for one item of a stream (epoch e, row r, …): the seed mixed with the indices.
    public init(seed: UInt64, _ indices: UInt64...) {
        var mixed = seed
        for index in indices {
            var generator = SeededRandom(seed: mixed ^ (index &* 0x9E37_79B9_7F4A_7C15))
            mixed = generator.next()
        }
        state = mixed
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextUnitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}
