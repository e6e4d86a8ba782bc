#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Two-sided paired significance tests on per-query differences d_i = run_i − baseline_i.
public enum PairedTests {
    /// Student's paired t-test: t = mean(d) / (sd(d)/√n) with n − 1 degrees of freedom,
    /// p = P(|T| ≥ |t|) = I_{ν/(ν+t²)}(ν/2, 1/2). Nil with fewer than two pairs.
    public static func tTest(_ differences: [Double]) -> Double? {
        let n = differences.count
        guard n >= 2 else { return nil }
        let mean = differences.reduce(0, +) / Double(n)
        let variance = differences.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        guard variance > 0 else { return mean == 0 ? 1 : 0 }
        let t = mean / (variance / Double(n)).squareRoot()
        let dof = Double(n - 1)
        return regularizedIncompleteBeta(dof / (dof + t * t), a: dof / 2, b: 0.5)
    }

    /// Fisher's paired randomization test: under the null hypothesis each d_i is as likely to have
    /// the other sign, so the |Σ s_i·d_i| of random signs s_i is compared with the observed |Σ d_i|.
    /// p = (count + 1) / (trials + 1) (the observed assignment is one of the equally likely ones,
    /// so p is never 0). Deterministic for a seed.
    public static func randomizationTest(_ differences: [Double], trials: Int, seed: UInt64) -> Double {
        let observed = abs(differences.reduce(0, +))
        // Sums of the same terms in another order can differ in the last bits: do not let that
        // decide "at least as extreme".
        let tolerance = 1e-12 * max(1, differences.reduce(0) { $0 + abs($1) })
        var generator = SeededRandom(seed: seed)
        var extreme = 0
        for _ in 0..<trials {
            var sum = 0.0
            var bits: UInt64 = 0
            for (i, d) in differences.enumerated() {
                if i % 64 == 0 { bits = generator.next() }
                sum += bits & 1 == 0 ? d : -d
                bits >>= 1
            }
            if abs(sum) >= observed - tolerance { extreme += 1 }
        }
        return Double(extreme + 1) / Double(trials + 1)
    }

    /// I_x(a, b) by its continued fraction (modified Lentz), using the symmetry
    /// I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
    static func regularizedIncompleteBeta(_ x: Double, a: Double, b: Double) -> Double {
        if x <= 0 { return 0 }
        if x >= 1 { return 1 }
        let logFront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(1 - x)
        if x < (a + 1) / (a + b + 2) {
            return exp(logFront) * betaContinuedFraction(x, a: a, b: b) / a
        }
        return 1 - exp(logFront) * betaContinuedFraction(1 - x, a: b, b: a) / b
    }

    /// 1/(1+ d₁/(1+ d₂/(1+ …))) with d_{2m+1} = −(a+m)(a+b+m)x / ((a+2m)(a+2m+1)) and
    /// d_{2m} = m(b−m)x / ((a+2m−1)(a+2m)).
    private static func betaContinuedFraction(_ x: Double, a: Double, b: Double) -> Double {
        let tiny = 1e-300
        var c = 1.0
        var d = 1 - (a + b) * x / (a + 1)
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var result = d
        for m in 1...10_000 {
            let m = Double(m)
            for numerator in [m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                              -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))] {
                d = 1 + numerator * d
                if abs(d) < tiny { d = tiny }
                c = 1 + numerator / c
                if abs(c) < tiny { c = tiny }
                d = 1 / d
                result *= d * c
            }
            if abs(d * c - 1) < 1e-15 { break }
        }
        return result
    }
}
