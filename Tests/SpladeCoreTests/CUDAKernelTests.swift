#if CUDA
import CSpladeCUDA
import Foundation
import Testing
@testable import SpladeCore

/// libsplade_cuda's kernels against the CPU implementation (the oracle), by normalised error
/// ‖gpu − cpu‖₂ / max(‖cpu‖₂, 1e-12), with a tolerance per op. They run only where a GPU is
/// present and are skipped, with that reason, elsewhere. Not yet run on a GPU.
@Suite(.enabled(if: CUDADevice.isAvailable, "no CUDA GPU on this machine (the CUDA tests need one)"))
struct CUDAKernelTests {
    init() throws { try CUDADevice.initialize() }

    static func error(_ got: [Float], _ expected: [Float]) -> Double {
        precondition(got.count == expected.count)
        var difference = 0.0, norm = 0.0
        for (a, b) in zip(got, expected) {
            difference += Double(a - b) * Double(a - b)
            norm += Double(b) * Double(b)
        }
        return (difference / max(norm, 1e-24)).squareRoot()
    }

    static func random(_ count: Int, seed: UInt64, scale: Float = 1) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return (Float(state >> 40) / Float(1 << 24) * 2 - 1) * scale
        }
    }

    static func check(_ status: Int32) throws { try CUDADevice.check(status, "kernel") }

    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func sgemmMatchesBLAS(transposeA: Bool, transposeB: Bool) throws {
        let (m, n, k) = (37, 53, 29)
        let a = Self.random(m * k, seed: 1), b = Self.random(k * n, seed: 2), c0 = Self.random(m * n, seed: 3)
        let lda = transposeA ? m : k, ldb = transposeB ? k : n
        var expected = c0
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in expected.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a.baseAddress!, lda: lda,
                      b: b.baseAddress!, ldb: ldb, beta: 1, c: c.baseAddress!, ldc: n)
        } } }
        let da = try DeviceBuffer(a), db = try DeviceBuffer(b), dc = try DeviceBuffer(c0)
        try Self.check(splade_cuda_sgemm(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 0.5, da.pointer,
                                         Int32(lda), db.pointer, Int32(ldb), 1, dc.pointer, Int32(n)))
        #expect(Self.error(try dc.download(), expected) < 1e-6)
    }

    @Test func layerNormForwardAndBackward() throws {
        let (rows, cols) = (19, 96)
        let x = Self.random(rows * cols, seed: 4, scale: 3), residual = Self.random(rows * cols, seed: 5)
        let weight = Self.random(cols, seed: 6), bias = Self.random(cols, seed: 7), dy = Self.random(rows * cols, seed: 8)
        var cpu = x, normalized = [Float](repeating: 0, count: rows * cols), inverse = [Float](repeating: 0, count: rows)
        LayerNorm.forward(&cpu, rows: rows, cols: cols, residual: residual, weight: weight, bias: bias, epsilon: 1e-12,
                          threads: 1, normalized: &normalized, inverseStd: &inverse)
        var dx = [Float](repeating: 0, count: rows * cols), dw = [Float](repeating: 0, count: cols), db = dw
        LayerNorm.backward(dy, rows: rows, cols: cols, normalized: normalized, inverseStd: inverse, weight: weight, dx: &dx,
                           dWeight: &dw, dBias: &db)
        let gx = try DeviceBuffer(x), gr = try DeviceBuffer(residual), gw = try DeviceBuffer(weight), gb = try DeviceBuffer(bias)
        let gn = try DeviceBuffer<Float>(count: rows * cols), gi = try DeviceBuffer<Float>(count: rows)
        try Self.check(splade_cuda_layernorm_forward(gx.pointer, Int32(rows), Int32(cols), gr.pointer, gw.pointer, gb.pointer,
                                                     1e-12, gn.pointer, gi.pointer))
        #expect(Self.error(try gx.download(), cpu) < 1e-6)
        #expect(Self.error(try gn.download(), normalized) < 1e-6)
        #expect(Self.error(try gi.download(), inverse) < 1e-6)
        let gdy = try DeviceBuffer(dy), gdx = try DeviceBuffer<Float>(count: rows * cols)
        let gdw = try DeviceBuffer<Float>(count: cols), gdb = try DeviceBuffer<Float>(count: cols)
        try gdw.zero()
        try gdb.zero()
        try Self.check(splade_cuda_layernorm_backward(gdy.pointer, Int32(rows), Int32(cols), gn.pointer, gi.pointer, gw.pointer,
                                                      gdx.pointer, gdw.pointer, gdb.pointer))
        #expect(Self.error(try gdx.download(), dx) < 1e-5)
        #expect(Self.error(try gdw.download(), dw) < 1e-5)
        #expect(Self.error(try gdb.download(), db) < 1e-5)
    }

    @Test func geluForwardAndBackward() throws {
        let x = Self.random(10_007, seed: 9, scale: 6), dy = Self.random(10_007, seed: 10)
        var cpu = x
        cpu.withUnsafeMutableBufferPointer { GELU.forward($0.baseAddress!, count: $0.count, threads: 1) }
        var dx = [Float](repeating: 0, count: x.count)
        GELU.backward(dy, x: x, count: x.count, dx: &dx)
        let gx = try DeviceBuffer(x), gdy = try DeviceBuffer(dy), gdx = try DeviceBuffer<Float>(count: x.count)
        try Self.check(splade_cuda_gelu_backward(gdy.pointer, gx.pointer, x.count, gdx.pointer))
        try Self.check(splade_cuda_gelu_forward(gx.pointer, x.count))
        // The CPU forward uses a vectorised erf (|error| < 6e-7), the GPU erff.
        #expect(Self.error(try gx.download(), cpu) < 1e-6)
        #expect(Self.error(try gdx.download(), dx) < 1e-6)
    }

    @Test func softmaxForwardAndBackward() throws {
        let (rows, cols) = (23, 131)
        let x = Self.random(rows * cols, seed: 11, scale: 8), dp = Self.random(rows * cols, seed: 12)
        var p = x
        Softmax.forwardRows(&p, rows: rows, cols: cols)
        var ds = dp  // As Attention.backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)).
        for r in 0..<rows {
            var dot: Float = 0
            for j in 0..<cols { dot += ds[r * cols + j] * p[r * cols + j] }
            for j in 0..<cols { ds[r * cols + j] = p[r * cols + j] * (ds[r * cols + j] - dot) }
        }
        let gx = try DeviceBuffer(x), gdp = try DeviceBuffer(dp)
        try Self.check(splade_cuda_softmax_rows(gx.pointer, Int32(rows), Int32(cols)))
        #expect(Self.error(try gx.download(), p) < 1e-6)
        try Self.check(splade_cuda_softmax_backward(gx.pointer, gdp.pointer, Int32(rows), Int32(cols)))
        #expect(Self.error(try gdp.download(), ds) < 1e-5)
    }

    @Test func spladePoolingForwardAndBackward() throws {
        let (rows, v, h) = (41, 301, 24)
        var logits = Self.random(rows * v, seed: 13, scale: 2)
        for j in stride(from: 0, to: v, by: 7) { logits[3 * v + j] = logits[5 * v + j] }  // ties: the first row wins
        // CPU, as BertTrainingPass.pool and backward, rows offset by 100 as in a packed batch.
        var maximum = [Float](repeating: -.infinity, count: v), argmax = [Int32](repeating: -1, count: v)
        for r in 0..<rows { for j in 0..<v where logits[r * v + j] > maximum[j] { maximum[j] = logits[r * v + j]; argmax[j] = Int32(100 + r) } }
        let weights = maximum.map { SpladePooling.weight(maxLogit: $0) }
        let dWeights = Self.random(v, seed: 14), decoder = Self.random(v * h, seed: 15)
        let hidden = Self.random((100 + rows) * h, seed: 16)
        var dHidden = [Float](repeating: 0, count: hidden.count), dDecoder = [Float](repeating: 0, count: v * h)
        var dBias = [Float](repeating: 0, count: v)
        for j in 0..<v where maximum[j] > 0 && dWeights[j] != 0 {
            let gradient = dWeights[j] / (1 + maximum[j]), row = Int(argmax[j])
            dBias[j] += gradient
            for k in 0..<h {
                dHidden[row * h + k] += gradient * decoder[j * h + k]
                dDecoder[j * h + k] += gradient * hidden[row * h + k]
            }
        }
        // GPU, the logits in two chunks.
        let gl = try DeviceBuffer(logits), running = try DeviceBuffer<Float>(count: v), gArgmax = try DeviceBuffer<Int32>(count: v)
        try Self.check(splade_cuda_splade_max_reset(running.pointer, gArgmax.pointer, Int32(v)))
        try Self.check(splade_cuda_splade_max_accumulate(gl.pointer, 16, Int32(v), 100, running.pointer, gArgmax.pointer))
        try Self.check(splade_cuda_splade_max_accumulate(gl.pointer + 16 * v, Int32(rows - 16), Int32(v), 116, running.pointer,
                                                         gArgmax.pointer))
        let gw = try DeviceBuffer<Float>(count: v)
        try Self.check(splade_cuda_splade_weights(running.pointer, Int32(v), gw.pointer))
        #expect(try gArgmax.download() == argmax)
        #expect(try running.download() == maximum)
        #expect(Self.error(try gw.download(), weights) < 1e-6)
        let gdw = try DeviceBuffer(dWeights), gdec = try DeviceBuffer(decoder), gh = try DeviceBuffer(hidden)
        let gdh = try DeviceBuffer<Float>(count: hidden.count), gdd = try DeviceBuffer<Float>(count: v * h)
        let gdb = try DeviceBuffer<Float>(count: v)
        for buffer in [gdh, gdd, gdb] { try buffer.zero() }
        try Self.check(splade_cuda_splade_pool_backward(gdw.pointer, running.pointer, gArgmax.pointer, Int32(v), Int32(h),
                                                        gdec.pointer, gh.pointer, gdh.pointer, gdd.pointer, gdb.pointer))
        #expect(Self.error(try gdh.download(), dHidden) < 1e-6)
        #expect(Self.error(try gdd.download(), dDecoder) < 1e-6)
        #expect(Self.error(try gdb.download(), dBias) < 1e-6)
    }

    @Test func biasBackward() throws {
        let (rows, cols) = (300, 77)
        let dy = Self.random(rows * cols, seed: 17)
        var expected = [Float](repeating: 0, count: cols)
        for r in 0..<rows { for j in 0..<cols { expected[j] += dy[r * cols + j] } }
        let gdy = try DeviceBuffer(dy), gdb = try DeviceBuffer<Float>(count: cols)
        try gdb.zero()
        try Self.check(splade_cuda_bias_backward(gdy.pointer, Int32(rows), Int32(cols), gdb.pointer))
        #expect(Self.error(try gdb.download(), expected) < 1e-5)
    }

    /// Three AdamW steps, with and without decay, against Optimizer.swift's formula.
    @Test(arguments: [true, false])
    func adamWMatchesTorchSemantics(decays: Bool) throws {
        let n = 4099
        var p = Self.random(n, seed: 18), m = [Float](repeating: 0, count: n), v = m
        let (lr, b1, b2, eps, wd): (Float, Float, Float, Float, Float) = (1e-3, 0.9, 0.999, 1e-8, 0.01)
        let gp = try DeviceBuffer(p), gm = try DeviceBuffer(m), gv = try DeviceBuffer(v)
        for step in 1...3 {
            let g = Self.random(n, seed: 100 + UInt64(step))
            let correction1 = 1 - Foundation.pow(Double(b1), Double(step))
            let correction2Root = Foundation.sqrt(1 - Foundation.pow(Double(b2), Double(step)))
            let stepSize = Float(Double(lr) / correction1)
            for k in 0..<n {
                if decays && wd != 0 { p[k] *= 1 - lr * wd }
                m[k] = b1 * m[k] + (1 - b1) * g[k]
                v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
                let denominator = Float(Double(v[k]).squareRoot() / correction2Root) + eps
                p[k] -= stepSize * m[k] / denominator
            }
            let gg = try DeviceBuffer(g)
            try Self.check(splade_cuda_adamw_step(gp.pointer, gg.pointer, gm.pointer, gv.pointer, n, lr, b1, b2, eps, wd,
                                                  decays ? 1 : 0, stepSize, correction2Root))
        }
        #expect(Self.error(try gp.download(), p) < 1e-6)
        #expect(Self.error(try gm.download(), m) < 1e-6)
        #expect(Self.error(try gv.download(), v) < 1e-6)
    }
}

/// The ja-tiny fixtures through the CUDA encoder: the same vectors as PyTorch and as the CPU path.
@Suite(.enabled(if: CUDADevice.isAvailable && Fixtures.available && TestResources.dictionary != nil,
                "needs a CUDA GPU, ../shared/fixtures and the dictionary"))
struct CUDAEncoderTests {
    @Test(arguments: [512, 32])
    func spladeVectorsMatchPyTorch(maxLength: Int) throws {
        let cpu = EncoderParityTests()
        let (tokenizer, model) = try cpu.jaTiny()
        let encoder = try CUDABertEncoder(directory: Fixtures.path("ja-tiny/model"))
        let session = try tokenizer.makeSession()
        let expected = try Safetensors.read(Fixtures.path("ja-tiny/encode-expected.safetensors"))["splade_max\(maxLength)"]!
        let sequences = try cpu.texts().map { text throws(SpladeError) in try session.encode(text, maxLength: maxLength) }
        let v = model.config.vocabularySize
        let gpu = try encoder.splade(sequences)
        let reference = try model.splade(sequences)
        for i in sequences.indices {
            let row = expected.values[(i * v)..<((i + 1) * v)]
            #expect(EncoderParityTests.maxError(EncoderParityTests.dense(gpu[i], size: v), row) < EncoderParityTests.tolerance,
                    "text \(i)")
            #expect(gpu[i].indices == reference[i].indices, "text \(i): the same active terms as the CPU")
        }
    }
}
#endif
