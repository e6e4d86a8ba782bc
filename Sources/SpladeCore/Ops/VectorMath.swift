/// exp and erf on 16 floats at a time, for the element-wise steps of the forward pass (softmax,
/// GELU), which would otherwise spend more time in scalar libm calls than the matrix products
/// around them.
enum VectorMath {
    typealias Vector = SIMD16<Float>

    /// e^x for x ≤ 88.7 (callers pass x ≤ 0), within 3 ulp of expf: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split
    /// in two parts so r is exact), e^r by its degree-6 Taylor polynomial, then 2^n from the exponent bits.
    @inline(__always)
    static func exp(_ x: Vector) -> Vector {
        let clamped = x.clamped(lowerBound: Vector(repeating: -87.3), upperBound: Vector(repeating: 88.7))
        // Round to nearest with the 1.5·2²³ trick: adding it leaves the integer in the low mantissa
        // bits, so n is found without a (slow, scalar) float-to-integer conversion.
        let magic = Vector(repeating: 12_582_912)
        let shifted = clamped * 1.44269504088896341 + magic
        let n = shifted - magic
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        var p = Vector(repeating: 1.0 / 720)
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n: the integer n from the low mantissa bits of `shifted`, moved into the exponent field.
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: Vector.self)
        // Below the clamp, e^x underflows to 0 as expf does.
        return (p * scale).replacing(with: 0, where: x .< -87.3)
    }

    /// erf(x) by Abramowitz & Stegun 7.1.26 (absolute error < 1.5e-7 in exact arithmetic, < 6e-7 in
    /// float), the formula PyTorch's
    /// vectorised CPU erf uses: erf(|x|) = 1 − (a₁t + a₂t² + a₃t³ + a₄t⁴ + a₅t⁵)·e^(−x²), t = 1/(1 + p|x|).
    @inline(__always)
    static func erf(_ x: Vector) -> Vector {
        let a = x.replacing(with: -x, where: x .< 0)
        let t = 1 / (1 + 0.3275911 * a)
        var poly = Vector(repeating: 1.061405429)
        poly = poly * t - 1.453152027
        poly = poly * t + 1.421413741
        poly = poly * t - 0.284496736
        poly = poly * t + 0.254829592
        let y = Vector(repeating: 1) - poly * t * Self.exp(-(a * a))
        return y.replacing(with: -y, where: x .< 0)
    }

    /// Applies `transform` to `count` floats in place, 16 at a time, the tail padded with zeros.
    @inline(__always)
    static func apply(_ x: UnsafeMutablePointer<Float>, count: Int, _ transform: (Vector) -> Vector) {
        var i = 0
        while i + 16 <= count {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: Vector.self)
            UnsafeMutableRawPointer(x + i).storeBytes(of: transform(v), as: Vector.self)
            i += 16
        }
        if i < count {
            var tail = Vector()
            for k in 0..<(count - i) { tail[k] = x[i + k] }
            let result = transform(tail)
            for k in 0..<(count - i) { x[i + k] = result[k] }
        }
    }
}
