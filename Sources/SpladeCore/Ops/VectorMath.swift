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
}
