import CSpladeMath

/// The element-wise exp and GELU of the forward pass, vectorised in C (CSpladeMath): in libm's
/// scalar calls they would cost more than the matrix products around them.
enum VectorMath {
    /// x[i] ← e^(x[i] − shift), within 3 ulp of expf (softmax rows: x − max ≤ 0).
    @inline(__always)
    static func expShifted(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) {
        splade_exp_shifted(x, count, shift)
    }

    /// x[i] ← gelu(x[i]) = x · ½ · (1 + erf(x/√2)), erf by Abramowitz & Stegun 7.1.26 (the formula
    /// of PyTorch's vectorised CPU erf; |error| < 6e-7 in float).
    @inline(__always)
    static func gelu(_ x: UnsafeMutablePointer<Float>, count: Int) {
        splade_gelu(x, count)
    }

    /// Whether no value is NaN or infinite (x · 0 is 0 for every finite x, NaN otherwise), eight lanes at a time.
    static func allFinite(_ values: UnsafeBufferPointer<Float>) -> Bool {
        guard let base = values.baseAddress else { return true }
        var lanes = SIMD8<Float>(repeating: 0)
        let whole = values.count / 8 * 8
        for i in stride(from: 0, to: whole, by: 8) {
            lanes += UnsafeRawPointer(base + i).loadUnaligned(as: SIMD8<Float>.self) * 0
        }
        var sum = lanes.sum()
        for i in whole..<values.count { sum += values[i] * 0 }
        return sum == 0
    }
}
