#if CUDA
import CSpladeCUDA
import Foundation
import Testing
@testable import SpladeCore

/// libsplade_cuda's kernels against the CPU implementation (the oracle), by normalised error
/// ‖gpu − cpu‖₂ / max(‖cpu‖₂, 1e-12), with a tolerance per op. On a GPU they check the CUDA kernels;
/// under `make test-cuda-host` they check the host emulation of the C API, which the GPU code paths'
/// tests (CUDAPathTests) then rely on. Skipped, with that reason, where libsplade_cuda finds no device.
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
        // With a bfloat16 copy of the result (encoding in bf16): the float32 rows as before, the copy their rounding.
        let gx2 = try DeviceBuffer(x), copy = try DeviceBuffer<UInt16>(count: rows * cols)
        try Self.check(splade_cuda_layernorm_forward_bf16(gx2.pointer, Int32(rows), Int32(cols), gr.pointer, gw.pointer,
                                                          gb.pointer, 1e-12, copy.pointer))
        let rowsAfter = try gx2.download()
        #expect(Self.error(rowsAfter, cpu) < 1e-6)
        #expect(try copy.download() == rowsAfter.map(Self.bfloat16))
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
        // bfloat16 (the intermediate product's output in bf16): the CPU's GELU of the widened values, rounded — into
        // another buffer, x left as it is (training), or in place (encoding). A value may round the other way (one
        // bfloat16 ulp, 2^-8 relative), and near 0 the CPU's erf is only within 6e-7·|x| ≤ 4e-6 of erff. The backward
        // from the bfloat16 input: the CPU's on the widened values.
        let halves = x.map(Self.bfloat16), wide = halves.map(Self.widen)
        var wideGELU = wide, wideDX = [Float](repeating: 0, count: x.count)
        wideGELU.withUnsafeMutableBufferPointer { GELU.forward($0.baseAddress!, count: $0.count, threads: 1) }
        GELU.backward(dy, x: wide, count: x.count, dx: &wideDX)
        let input = try DeviceBuffer(halves), activated = try DeviceBuffer<UInt16>(count: x.count)
        try Self.check(splade_cuda_gelu_bf16(input.pointer, x.count, activated.pointer))
        #expect(try input.download() == halves)
        #expect(Self.withinOneBF16Ulp(try activated.download(), wideGELU, absolute: 4e-6))
        try Self.check(splade_cuda_gelu_bf16(input.pointer, x.count, input.pointer))
        #expect(try input.download() == activated.download())
        let gdx16 = try DeviceBuffer(dy), original = try DeviceBuffer(halves)
        try Self.check(splade_cuda_gelu_backward_bf16(gdx16.pointer, original.pointer, x.count, gdx16.pointer))
        #expect(Self.error(try gdx16.download(), wideDX) < 1e-6)
    }

    /// Each bfloat16 value equal to `want` rounded to bfloat16, or within one bfloat16 ulp (2^-8 relative) plus
    /// `absolute` of it: float results that differ in their last bits may round apart.
    static func withinOneBF16Ulp(_ got: [UInt16], _ want: [Float], absolute: Float = 0) -> Bool {
        zip(got, want).allSatisfy { g, w in
            let expected = Self.bfloat16(w)
            return g == expected || abs(Self.widen(g) - w) <= abs(w) * 0x1p-8 + absolute
        }
    }

    /// A packed batch's attention blocks as DeviceBatch lays them out: `heads` L×L matrices a block,
    /// DeviceBatch.headStride(L) apart, here with 5 floats between blocks and an empty block.
    struct AttentionBlocks {
        let lengths: [Int32] = [7, 1, 33, 0, 19, 64], heads = 3, gap = 5
        let offsets: [Int64]
        let floats: Int
        var rows: Int { lengths.reduce(0) { $0 + heads * Int($1) } }

        init() {
            var offsets: [Int64] = [], floats = 0
            for length in lengths {
                offsets.append(Int64(floats))
                floats += heads * DeviceBatch.headStride(Int(length)) + gap
            }
            (self.offsets, self.floats) = (offsets, floats)
        }

        /// Every row: its block, its number there (h·L + r), its length and where it starts.
        var allRows: [(block: Int, local: Int, length: Int, start: Int)] {
            lengths.enumerated().flatMap { s, length in
                let l = Int(length)
                return (0..<(heads * l)).map { r in (s, r, l, Int(offsets[s]) + r / l * DeviceBatch.headStride(l) + r % l * l) }
            }
        }

        /// The elements no row covers: the gaps between blocks and the padding between heads.
        var untouched: [Int] {
            var covered = [Bool](repeating: false, count: floats)
            for row in allRows { for j in 0..<row.length { covered[row.start + j] = true } }
            return covered.indices.filter { !covered[$0] }
        }
    }

    /// The block softmax of a packed batch's attention scores, forward against Softmax.forwardRows and backward
    /// against Attention.backward's formula, every row of every block in one call; what lies between the matrices
    /// stays as it was.
    @Test func blockSoftmaxForwardAndBackward() throws {
        let blocks = AttentionBlocks(), lengths = blocks.lengths, heads = blocks.heads, rows = blocks.rows
        let x = Self.random(blocks.floats, seed: 11, scale: 8), dp = Self.random(blocks.floats, seed: 12)
        var p = x, ds = dp
        for row in blocks.allRows {
            let at = row.start, l = row.length
            p.withUnsafeMutableBufferPointer { Softmax.forwardRows($0.baseAddress! + at, rows: 1, cols: l) }
            var dot: Float = 0  // As Attention.backward: dS = P ⊙ (dP − rowsum(dP ⊙ P)).
            for j in 0..<l { dot += ds[at + j] * p[at + j] }
            for j in 0..<l { ds[at + j] = p[at + j] * (ds[at + j] - dot) }
        }
        let gx = try DeviceBuffer(x), gdp = try DeviceBuffer(dp)
        let gOffsets = try DeviceBuffer(blocks.offsets), gLengths = try DeviceBuffer(lengths)
        try Self.check(splade_cuda_softmax_blocks(gx.pointer, gOffsets.pointer, gLengths.pointer, Int32(lengths.count),
                                                  Int32(heads), Int32(rows)))
        let gotP = try gx.download()
        #expect(Self.error(gotP, p) < 1e-6)
        try Self.check(splade_cuda_softmax_backward_blocks(gx.pointer, gdp.pointer, gOffsets.pointer, gLengths.pointer,
                                                           Int32(lengths.count), Int32(heads), Int32(rows)))
        let gotDS = try gdp.download()
        #expect(Self.error(gotDS, ds) < 1e-5)
        let untouched = blocks.untouched
        #expect(untouched.count > lengths.count * blocks.gap, "padding between heads")
        #expect(untouched.allSatisfy { gotP[$0] == x[$0] && gotDS[$0] == dp[$0] })
        // In bfloat16, in place (encoding in bf16): the softmax of the widened scores, rounded.
        let halfScores = x.map(Self.bfloat16)
        var wideP = halfScores.map(Self.widen)
        for row in blocks.allRows {
            wideP.withUnsafeMutableBufferPointer { Softmax.forwardRows($0.baseAddress! + row.start, rows: 1, cols: row.length) }
        }
        let half = try DeviceBuffer(halfScores)
        try Self.check(splade_cuda_softmax_blocks_bf16(half.pointer, gOffsets.pointer, gLengths.pointer, Int32(lengths.count),
                                                       Int32(heads), Int32(rows)))
        let gotHalf = try half.download()
        for row in blocks.allRows {
            let range = row.start..<(row.start + row.length)
            #expect(Self.withinOneBF16Ulp(Array(gotHalf[range]), Array(wideP[range])), "block \(row.block) row \(row.local)")
        }
        #expect(untouched.allSatisfy { gotHalf[$0] == halfScores[$0] })
    }

    /// DeviceBatch's attention layout: every head's matrix starts a multiple of 8 elements into the buffer (16 bytes in
    /// bfloat16, as cuBLAS's grouped products need of their pointers, or they fall back to one product per sequence,
    /// with the same results), at most 7 elements after the previous one ends; the dropout draws count the matrices.
    @Test func deviceBatchAlignsEveryHead() throws {
        let config = BertConfig(vocabularySize: 50, hiddenSize: 16, layers: 1, heads: 4, intermediateSize: 32)
        let lengths = Array(1...20) + [33, 64, 127, 512]
        let batch = try DeviceBatch(lengths.map { [Int32](repeating: 5, count: $0) }, config: config,
                                    uploads: DeviceScratch())
        for (s, l) in lengths.enumerated() {
            let stride = DeviceBatch.headStride(l)
            #expect(stride % 8 == 0 && stride >= l * l && stride < l * l + 8, "L=\(l): \(stride)")
            #expect(batch.probabilityOffsets[s] % 8 == 0)
            #expect(batch.probabilityOffsets[s + 1] - batch.probabilityOffsets[s] == config.heads * stride)
        }
        #expect(batch.probabilityDrawCount == lengths.reduce(0) { $0 + config.heads * $1 * $1 })
    }

    /// Attention dropout over the padded blocks: each probability gets the mask value BertTrainingPass draws for it
    /// in the CPU's layout (the matrices packed without gaps), bit for bit, after `counter` earlier draws.
    @Test func blockDropoutMatchesTheCPULayout() throws {
        let blocks = AttentionBlocks(), (seed, counter, probability): (UInt64, UInt64, Float) = (99, 5_000, 0.25)
        var random = SeededRandom(seed: seed)
        for _ in 0..<counter { _ = random.next() }
        let keep = 1 / (1 - probability)
        var draws: [Int64] = [0]
        for length in blocks.lengths { draws.append(draws.last! + Int64(blocks.heads) * Int64(length) * Int64(length)) }
        let x = Self.random(blocks.floats, seed: 13, scale: 3)
        var expected = x
        for row in blocks.allRows {  // the CPU's order: block by block, row by row
            for j in 0..<row.length { expected[row.start + j] *= random.nextUnitFloat() < probability ? 0 : keep }
        }
        let gx = try DeviceBuffer(x), gOffsets = try DeviceBuffer(blocks.offsets)
        let gDraws = try DeviceBuffer(Array(draws.dropLast())), gLengths = try DeviceBuffer(blocks.lengths)
        try Self.check(splade_cuda_dropout_blocks(gx.pointer, gOffsets.pointer, gDraws.pointer, gLengths.pointer,
                                                  Int32(blocks.lengths.count), Int32(blocks.heads), Int32(blocks.rows),
                                                  seed, counter, probability))
        #expect(try gx.download().map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// One grouped call of strided batches against BLAS.gemm per product: groups of different sizes, leading
    /// dimensions wider than the rows and strides between the matrices of a group (as attention's heads), an empty
    /// group, and every transpose combination, accumulating into C (beta = 0.5).
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func groupedSgemmMatchesBLAS(transposeA: Bool, transposeB: Bool) throws {
        let products = GroupedProducts(shapes: [(5, 7, 3, 2), (1, 9, 11, 3), (0, 4, 4, 2), (13, 2, 6, 1), (8, 8, 1, 4)],
                                       transposeA: transposeA, transposeB: transposeB, headsSideBySide: false)
        let (alpha, beta): (Float, Float) = (0.75, 0.5)
        let a = Self.random(products.sizes.a, seed: 31), b = Self.random(products.sizes.b, seed: 32)
        let c0 = Self.random(products.sizes.c, seed: 33)
        let expected = products.expected(a: a, b: b, c: c0, alpha: alpha, beta: beta)
        let da = try DeviceBuffer(a), db = try DeviceBuffer(b), dc = try DeviceBuffer(c0)
        try Self.multiply(products, as: splade_cuda_gemm_group.self, a: da, b: db, c: dc, alpha: alpha, beta: beta)
        let got = try dc.download()
        #expect(Self.error(got, expected) < 1e-6)
        #expect(products.onlyProductsWritten(got, c0))
    }

    /// The bfloat16 nearest `x`, ties to even, from the halves of its bits (the test's own rounding); NaN stays NaN.
    static func bfloat16(_ x: Float) -> UInt16 {
        let upper = UInt16(x.bitPattern >> 16), lower = x.bitPattern & 0xFFFF
        if x.isNaN { return upper | 0x0040 }
        return lower > 0x8000 || (lower == 0x8000 && upper & 1 == 1) ? upper + 1 : upper
    }

    static func widen(_ x: UInt16) -> Float { Float(bitPattern: UInt32(x) << 16) }

    /// Ties either way, carries into the exponent and to infinity, subnormals, ±0, ±∞ and NaNs, then random floats
    /// and random bit patterns (every exponent): the GPU's bits equal the rounding above, and NaNs stay NaN.
    @Test func toBF16RoundsToNearestEven() throws {
        let special: [UInt32] = [0x0000_0000, 0x8000_0000, 0x3F80_0000, 0x3F80_7FFF, 0x3F80_8001, 0x3F80_8000, 0xBF80_8000,
                                 0x3F81_8000, 0xBF81_8000, 0x3FFF_FFFF, 0x7F7F_7FFF, 0x7F7F_8000, 0x7F7F_FFFF, 0xFF7F_FFFF,
                                 0x0000_0001, 0x0000_8000, 0x0001_8000, 0x0000_8001, 0x007F_FFFF, 0x807F_FFFF, 0x7F80_0000,
                                 0xFF80_0000, 0x7FC0_0000, 0xFFFF_FFFF, 0x7F80_0001, 0xFF80_0001, 0x7F81_0000]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bits = (0..<10_007).map { _ -> UInt32 in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt32(truncatingIfNeeded: state >> 32)
        }
        let x = special.map { Float(bitPattern: $0) } + Self.random(10_007, seed: 40, scale: 3)
            + bits.map { Float(bitPattern: $0) }
        let expected = x.map(Self.bfloat16)
        #expect(expected[5] == 0x3F80 && expected[7] == 0x3F82 && expected[12] == 0x7F80 && expected[18] == 0x0080)
        let gx = try DeviceBuffer(x), gy = try DeviceBuffer<UInt16>(count: x.count + 1)
        try gy.upload([0xABCD], at: x.count)
        try Self.check(splade_cuda_to_bf16(gx.pointer, x.count, gy.pointer))
        let got = try gy.download()
        #expect(got[x.count] == 0xABCD)  // nothing written past count
        let wrong = (0..<x.count).filter { i in
            x[i].isNaN ? !Self.widen(got[i]).isNaN : got[i] != expected[i]
        }
        #expect(wrong.isEmpty, "first differing: \(wrong.prefix(5).map { String(x[$0].bitPattern, radix: 16) })")
        // And back, exactly (NaN payloads too): a bfloat16 is a float's upper half.
        let wide = try DeviceBuffer<Float>(count: x.count)
        try Self.check(splade_cuda_from_bf16(gy.pointer, x.count, wide.pointer))
        #expect(try wide.download().map(\.bitPattern) == got.prefix(x.count).map { UInt32($0) << 16 })
    }

    /// A and B rounded to bfloat16 (leading dimensions wider than the rows): the GPU's float32 sums of the exact
    /// products against BLAS.gemm on the widened values.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func gemmBF16MatchesBLAS(transposeA: Bool, transposeB: Bool) throws {
        let (m, n, k) = (37, 53, 29)
        let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 1
        let aCount = (transposeA ? k : m) * lda, bCount = (transposeB ? n : k) * ldb
        let a = Self.random(aCount, seed: 41).map(Self.bfloat16), b = Self.random(bCount, seed: 42).map(Self.bfloat16)
        let c0 = Self.random(m * ldc, seed: 43)
        let wideA = a.map(Self.widen), wideB = b.map(Self.widen)
        var expected = c0
        wideA.withUnsafeBufferPointer { a in wideB.withUnsafeBufferPointer { b in expected.withUnsafeMutableBufferPointer { c in
            BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: a.baseAddress!, lda: lda,
                      b: b.baseAddress!, ldb: ldb, beta: 1, c: c.baseAddress!, ldc: ldc)
        } } }
        let da = try DeviceBuffer(a), db = try DeviceBuffer(b), dc = try DeviceBuffer(c0)
        try Self.check(splade_cuda_gemm_bf16(transposeA ? 1 : 0, transposeB ? 1 : 0, Int32(m), Int32(n), Int32(k), 0.5,
                                             da.pointer, Int32(lda), db.pointer, Int32(ldb), 1, dc.pointer, Int32(ldc)))
        let got = try dc.download()
        #expect(Self.error(got, expected) < 1e-6)
        #expect((0..<m).allSatisfy { r in got[r * ldc + n] == c0[r * ldc + n] })  // C's padding column
    }

    /// As groupedSgemmMatchesBLAS with A and B in bfloat16: attention-like groups (lengths 1, 7 and 19, 3 heads of
    /// width 8 in rows of qkv [L × 3h]), one empty group, against BLAS.gemm on the widened values; C in float32
    /// (training), then in bfloat16 too (encoding in bf16: C read widened, the float32 result rounded once).
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func groupedGemmBF16MatchesBLAS(transposeA: Bool, transposeB: Bool) throws {
        let products = GroupedProducts(shapes: [(7, 7, 8, 3), (1, 8, 1, 3), (0, 4, 4, 2), (19, 8, 19, 3), (5, 3, 0, 2)],
                                       transposeA: transposeA, transposeB: transposeB, headsSideBySide: true)
        let (alpha, beta): (Float, Float) = (0.25, 0.5)
        let a = Self.random(products.sizes.a, seed: 44).map(Self.bfloat16), b = Self.random(products.sizes.b, seed: 45).map(Self.bfloat16)
        let c0 = Self.random(products.sizes.c, seed: 46)
        let expected = products.expected(a: a.map(Self.widen), b: b.map(Self.widen), c: c0, alpha: alpha, beta: beta)
        let da = try DeviceBuffer(a), db = try DeviceBuffer(b), dc = try DeviceBuffer(c0)
        try Self.multiply(products, as: splade_cuda_gemm_group_bf16.self, a: da, b: db, c: dc, alpha: alpha, beta: beta)
        let got = try dc.download()
        #expect(Self.error(got, expected) < 1e-6)
        #expect(products.onlyProductsWritten(got, c0))

        let halfC0 = c0.map(Self.bfloat16), wideC0 = halfC0.map(Self.widen), dh = try DeviceBuffer(halfC0)
        try Self.multiply(products, as: splade_cuda_gemm_group_bf16_out.self, a: da, b: db, c: dh, alpha: alpha, beta: beta)
        let gotHalf = try dh.download()
        #expect(Self.withinOneBF16Ulp(gotHalf, products.expected(a: a.map(Self.widen), b: b.map(Self.widen), c: wideC0,
                                                                 alpha: alpha, beta: beta)))
        #expect(products.onlyProductsWritten(gotHalf.map(Self.widen), wideC0))
    }

    /// `products` over device arrays in one grouped call of the C function for `Group`'s element types.
    static func multiply<Group: GemmGroup>(_ products: GroupedProducts, as _: Group.Type, a: DeviceBuffer<Group.Input>,
                                           b: DeviceBuffer<Group.Input>, c: DeviceBuffer<Group.Output>, alpha: Float,
                                           beta: Float) throws {
        let groups = products.groups.map { g in
            Group(m: g.m, n: g.n, k: g.k, batch: g.batch, a: a.pointer + g.a, lda: g.lda, stride_a: g.strideA, b: b.pointer + g.b,
                  ldb: g.ldb, stride_b: g.strideB, c: c.pointer + g.c, ldc: g.ldc, stride_c: g.strideC)
        }
        try check(groups.withUnsafeBufferPointer {
            Group.multiply(products.transposeA ? 1 : 0, products.transposeB ? 1 : 0, alpha, beta, $0.baseAddress, Int32($0.count))
        })
    }

    /// Max pooling of a packed batch of 7 sequences, a chunk of rows at a time, the chunks spanning up to 4 sequences
    /// and cutting sequences in two, against a CPU loop over the packed rows (as BertTrainingPass.pool: per sequence,
    /// strict >, so the first maximal row wins, also across a chunk boundary); with argmax and without (inference);
    /// then the backward over the batch's entries.
    @Test func spladePoolingForwardAndBackward() throws {
        let lengths = [5, 17, 3, 22, 9, 1, 14], (v, h) = (301, 24)
        var starts: [Int32] = [0]
        for length in lengths { starts.append(starts.last! + Int32(length)) }
        let rows = Int(starts.last!), segments = lengths.count
        let chunks = [(0, 20), (20, 20), (40, 20), (60, rows - 60)]  // (first row, rows): 2, 3, 4 and 1 sequences
        var logits = Self.random(rows * v, seed: 13, scale: 2)
        for j in stride(from: 1, to: v, by: 11) {  // all negative: −∞ is beaten
            for r in 0..<rows { logits[r * v + j] = -abs(logits[r * v + j]) - 0.5 }
        }
        for j in stride(from: 0, to: v, by: 7) { logits[26 * v + j] = logits[31 * v + j] }  // ties in sequence 3 (26 < 31)
        for j in stride(from: 2, to: v, by: 5) { logits[39 * v + j] = 3; logits[40 * v + j] = 3 }  // across chunks 1|2: 39 wins
        // CPU: the packed rows in order, each into its sequence's maxima.
        func scan(_ logits: [Float]) -> (maximum: [Float], argmax: [Int32]) {
            var maximum = [Float](repeating: -.infinity, count: segments * v), argmax = [Int32](repeating: -1, count: segments * v)
            for k in 0..<segments {
                for r in Int(starts[k])..<Int(starts[k + 1]) {
                    for j in 0..<v where logits[r * v + j] > maximum[k * v + j] {
                        maximum[k * v + j] = logits[r * v + j]
                        argmax[k * v + j] = Int32(r)
                    }
                }
            }
            return (maximum, argmax)
        }
        let (maximum, argmax) = scan(logits)
        #expect((0..<v).filter { $0 % 5 == 2 }.allSatisfy { argmax[3 * v + $0] == 39 })
        let weights = maximum.map { SpladePooling.weight(maxLogit: $0) }
        // GPU, with argmax (training) and without (inference).
        let gl = try DeviceBuffer(logits), gStarts = try DeviceBuffer(starts)
        let running = try DeviceBuffer<Float>(count: segments * v), gArgmax = try DeviceBuffer<Int32>(count: segments * v)
        let inference = try DeviceBuffer<Float>(count: segments * v)
        try Self.check(splade_cuda_splade_max_reset(running.pointer, gArgmax.pointer, segments * v))
        try Self.check(splade_cuda_splade_max_reset(inference.pointer, nil, segments * v))
        for (first, count) in chunks {
            try Self.check(splade_cuda_splade_max_segments(gl.pointer + first * v, Int32(count), Int32(v), Int32(first),
                                                           gStarts.pointer, Int32(segments), running.pointer, gArgmax.pointer))
            try Self.check(splade_cuda_splade_max_segments(gl.pointer + first * v, Int32(count), Int32(v), Int32(first),
                                                           gStarts.pointer, Int32(segments), inference.pointer, nil))
        }
        let gw = try DeviceBuffer<Float>(count: segments * v)
        try Self.check(splade_cuda_splade_weights(running.pointer, segments * v, gw.pointer))
        #expect(try gArgmax.download() == argmax)
        #expect(try running.download() == maximum)
        #expect(try inference.download() == maximum)
        #expect(Self.error(try gw.download(), weights) < 1e-6)
        // bfloat16 logits (encoding in bf16): the same scan over the widened values, exactly.
        let halfLogits = logits.map(Self.bfloat16)
        let (wideMaximum, wideArgmax) = scan(halfLogits.map(Self.widen))
        let gHalf = try DeviceBuffer(halfLogits), halfArgmax = try DeviceBuffer<Int32>(count: segments * v)
        let halfRunning = try DeviceBuffer<Float>(count: segments * v), halfInference = try DeviceBuffer<Float>(count: segments * v)
        try Self.check(splade_cuda_splade_max_reset(halfRunning.pointer, halfArgmax.pointer, segments * v))
        try Self.check(splade_cuda_splade_max_reset(halfInference.pointer, nil, segments * v))
        for (first, count) in chunks {
            try Self.check(splade_cuda_splade_max_segments_bf16(gHalf.pointer + first * v, Int32(count), Int32(v), Int32(first),
                                                                gStarts.pointer, Int32(segments), halfRunning.pointer,
                                                                halfArgmax.pointer))
            try Self.check(splade_cuda_splade_max_segments_bf16(gHalf.pointer + first * v, Int32(count), Int32(v), Int32(first),
                                                                gStarts.pointer, Int32(segments), halfInference.pointer, nil))
        }
        #expect(try halfRunning.download() == wideMaximum && halfInference.download() == wideMaximum)
        #expect(try halfArgmax.download() == wideArgmax)

        // The backward over entries of every sequence (sequence·V + column, out of order): columns shared across
        // sequences, argmax rows shared across columns, entries with a maximum ≤ 0 (no gradient) and a zero gradient.
        let entries = (0..<(segments * v)).filter { $0 % 3 != 1 }.reversed().map { Int64($0) }
        var dWeights = Self.random(entries.count, seed: 14)
        dWeights[5] = 0
        #expect(entries.contains { maximum[Int($0)] <= 0 } && entries.contains { maximum[Int($0)] > 0 })
        let decoder = Self.random(v * h, seed: 15), hidden = Self.random(rows * h, seed: 16)
        var dHidden = [Float](repeating: 0, count: hidden.count), dDecoder = [Float](repeating: 0, count: v * h)
        var dBias = [Float](repeating: 0, count: v)
        for (e, dw) in zip(entries.map { Int($0) }, dWeights) where maximum[e] > 0 {
            let gradient = dw / (1 + maximum[e]), row = Int(argmax[e]), j = e % v
            dBias[j] += gradient
            for c in 0..<h {
                dHidden[row * h + c] += gradient * decoder[j * h + c]
                dDecoder[j * h + c] += gradient * hidden[row * h + c]
            }
        }
        let ge = try DeviceBuffer(entries), gdw = try DeviceBuffer(dWeights), gdec = try DeviceBuffer(decoder)
        let gh = try DeviceBuffer(hidden), gdh = try DeviceBuffer<Float>(count: hidden.count)
        let gdd = try DeviceBuffer<Float>(count: v * h), gdb = try DeviceBuffer<Float>(count: v)
        for buffer in [gdh, gdd, gdb] { try buffer.zero() }
        try Self.check(splade_cuda_splade_pool_backward(ge.pointer, gdw.pointer, Int32(entries.count), Int32(v), Int32(h),
                                                        running.pointer, gArgmax.pointer, gdec.pointer, gh.pointer, gdh.pointer,
                                                        gdd.pointer, gdb.pointer))
        // Atomics add in any order on a GPU.
        #expect(Self.error(try gdh.download(), dHidden) < 1e-6)
        #expect(Self.error(try gdd.download(), dDecoder) < 1e-6)
        #expect(Self.error(try gdb.download(), dBias) < 1e-6)
    }

    /// The positive weights of 5 rows (one all zero, one with ±0, NaN, ±∞ and a subnormal), counted and packed in
    /// column order at the caller's offsets: what SparseVector holds on the CPU.
    @Test func positiveEntriesArePackedInColumnOrder() throws {
        let (rows, cols) = (5, 1_000)
        var x = Self.random(rows * cols, seed: 21).map { $0 > 0.9 ? $0 : 0 }
        for j in 0..<cols { x[2 * cols + j] = 0 }
        for (j, special) in [Float.nan, -0.0, .infinity, -.infinity, .leastNormalMagnitude / 4, -1].enumerated() { x[3 * cols + 7 * j] = special }
        let positive = (0..<rows).map { r in (0..<cols).filter { x[r * cols + $0] > 0 } }
        let gx = try DeviceBuffer(x), counts = try DeviceBuffer<Int32>(count: rows)
        try Self.check(splade_cuda_count_positive(gx.pointer, Int32(rows), Int32(cols), counts.pointer))
        #expect(try counts.download() == positive.map { Int32($0.count) })
        var offsets: [Int64] = [0]
        for columns in positive.dropLast() { offsets.append(offsets.last! + Int64(columns.count)) }
        let total = positive.reduce(0) { $0 + $1.count }
        let gOffsets = try DeviceBuffer(offsets), indices = try DeviceBuffer<Int32>(count: total)
        let values = try DeviceBuffer<Float>(count: total)
        try Self.check(splade_cuda_compact_positive(gx.pointer, Int32(rows), Int32(cols), gOffsets.pointer, indices.pointer,
                                                    values.pointer))
        let columns = positive.flatMap { $0 }
        #expect(try indices.download() == columns.map { Int32($0) })
        #expect(try values.download() == zip(positive.indices, positive).flatMap { r, cs in cs.map { x[r * cols + $0] } })
        #expect(positive[2].isEmpty && positive[3].contains(14) && positive[3].contains(28))
    }

    /// A Linear layer in one call (cuBLASLt's bias epilogue on a GPU that has it) against Linear.forward, in float32
    /// and with bfloat16 inputs (the CPU multiplying the same rounded values); Y's garbage does not count.
    @Test func linearMatchesLinearForward() throws {
        let (rows, inputs, outputs) = (37, 45, 101)
        let x = Self.random(rows * inputs, seed: 31), w = Self.random(outputs * inputs, seed: 32), bias = Self.random(outputs, seed: 33)
        for bfloat16 in [false, true] {
            let (cx, cw) = bfloat16 ? (x.map { Self.widen(Self.bfloat16($0)) }, w.map { Self.widen(Self.bfloat16($0)) }) : (x, w)
            var expected = [Float](repeating: 0, count: rows * outputs)
            Linear.forward(cx, rows: rows, inputs: inputs, weight: cw, bias: bias, outputs: outputs, into: &expected, threads: 1)
            let gy = try DeviceBuffer(Self.random(rows * outputs, seed: 34, scale: 100)), gb = try DeviceBuffer(bias)
            if bfloat16 {
                let gx = try DeviceBuffer(x.map(Self.bfloat16)), gw = try DeviceBuffer(w.map(Self.bfloat16))
                try Self.check(splade_cuda_linear_bf16(gx.pointer, Int32(rows), Int32(inputs), gw.pointer, gb.pointer,
                                                       Int32(outputs), gy.pointer))
            } else {
                let gx = try DeviceBuffer(x), gw = try DeviceBuffer(w)
                try Self.check(splade_cuda_linear(gx.pointer, Int32(rows), Int32(inputs), gw.pointer, gb.pointer, Int32(outputs),
                                                  gy.pointer))
            }
            #expect(Self.error(try gy.download(), expected) < 1e-6, "bf16: \(bfloat16)")
        }
        // bfloat16 output (encoding in bf16): the bias's bfloat16 copy added to the float32 sums, rounded once.
        let hx = x.map(Self.bfloat16), hw = w.map(Self.bfloat16), hb = bias.map(Self.bfloat16)
        var expected = [Float](repeating: 0, count: rows * outputs)
        Linear.forward(hx.map(Self.widen), rows: rows, inputs: inputs, weight: hw.map(Self.widen), bias: hb.map(Self.widen),
                       outputs: outputs, into: &expected, threads: 1)
        let gx = try DeviceBuffer(hx), gw = try DeviceBuffer(hw), gb = try DeviceBuffer(hb)
        let gy = try DeviceBuffer(Self.random(rows * outputs, seed: 35, scale: 100).map(Self.bfloat16))
        try Self.check(splade_cuda_linear_bf16_out(gx.pointer, Int32(rows), Int32(inputs), gw.pointer, gb.pointer, Int32(outputs),
                                                   gy.pointer))
        #expect(Self.withinOneBF16Ulp(try gy.download(), expected))
    }

    @Test func addMatchesLoop() throws {
        let n = 10_007
        let y = Self.random(n, seed: 19), x = Self.random(n, seed: 20)
        var expected = y
        for i in 0..<n { expected[i] += x[i] }
        let gy = try DeviceBuffer(y), gx = try DeviceBuffer(x)
        try Self.check(splade_cuda_add(gy.pointer, gx.pointer, n))
        #expect(try gy.download() == expected)
    }

    /// Two dropouts in a row, as training draws them: the GPU's x equals x · BertTrainingPass.dropoutMask's mask, bit
    /// for bit, from a generator that has already made `counter` draws (the seed near 2⁶⁴, so the state wraps); the
    /// second call continues the stream where the first stopped.
    @Test(arguments: [Float(0.1), 0.5])
    func dropoutMatchesSeededRandom(probability: Float) throws {
        let (seed, counter, counts): (UInt64, UInt64, [Int]) = (0xFFFF_FFFF_FFFF_FF00, 1_234, [4_099, 10_007])
        var random = SeededRandom(seed: seed)
        for _ in 0..<counter { _ = random.next() }
        let keep = 1 / (1 - probability)
        var drawn = counter
        for (index, count) in counts.enumerated() {
            let mask = (0..<count).map { _ in random.nextUnitFloat() < probability ? 0 : keep }
            let x = Self.random(count, seed: 30 + UInt64(index), scale: 3)
            let expected = (0..<count).map { x[$0] * mask[$0] }
            let gx = try DeviceBuffer(x)
            try Self.check(splade_cuda_dropout(gx.pointer, count, seed, drawn, probability))
            let got = try gx.download()
            #expect(got.map(\.bitPattern) == expected.map(\.bitPattern))
            let dropped = Double(mask.filter { $0 == 0 }.count) / Double(count)
            #expect(abs(dropped - Double(probability)) < 0.03)
            drawn += UInt64(count)
        }
    }

    /// Two packed sequences whose ids repeat within and across them and whose positions repeat across them, added
    /// into non-zero gradients; token-type row 1 must stay as it was.
    @Test func embedBackward() throws {
        let (h, vocabulary, maxPositions) = (40, 23, 50)
        var ids = [Int32](), positions = [Int32]()
        for length in [37, 29] {
            for i in 0..<length {
                ids.append(Int32((i * 7 + length) % 11))
                positions.append(Int32(i))
            }
        }
        let t = ids.count
        let dx = Self.random(t * h, seed: 21)
        let word = Self.random(vocabulary * h, seed: 22), position = Self.random(maxPositions * h, seed: 23)
        let tokenType = Self.random(2 * h, seed: 24)
        var dWord = word, dPosition = position, dTokenType = tokenType
        for i in 0..<t {
            for j in 0..<h {
                let d = dx[i * h + j]
                dWord[Int(ids[i]) * h + j] += d
                dPosition[Int(positions[i]) * h + j] += d
                dTokenType[j] += d
            }
        }
        let gIds = try DeviceBuffer(ids), gPositions = try DeviceBuffer(positions), gdx = try DeviceBuffer(dx)
        let gw = try DeviceBuffer(word), gp = try DeviceBuffer(position), gt = try DeviceBuffer(tokenType)
        try Self.check(splade_cuda_embed_backward(gIds.pointer, gPositions.pointer, Int32(t), Int32(h), gdx.pointer, gw.pointer,
                                                  gp.pointer, gt.pointer))
        #expect(Self.error(try gw.download(), dWord) < 1e-6)
        #expect(Self.error(try gp.download(), dPosition) < 1e-6)
        let types = try gt.download()
        #expect(Self.error(Array(types[..<h]), Array(dTokenType[..<h])) < 1e-6)
        #expect(Array(types[h...]) == Array(tokenType[h...]))
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

/// The groups of a grouped-product test: shapes (m, n, k, heads), each group's leading dimensions, strides and
/// offsets in A, B and C, and the arrays' sizes. Matrices are padded (leading dimensions wider than their rows,
/// gaps between C's matrices); with `headsSideBySide` a group's A and B matrices sit side by side in wide rows,
/// as attention's heads in the rows of qkv.
struct GroupedProducts {
    struct Group { var m: Int32 = 0, n: Int32 = 0, k: Int32 = 0, batch: Int32 = 0, lda: Int32 = 0, ldb: Int32 = 0, ldc: Int32 = 0
                   var strideA: Int64 = 0, strideB: Int64 = 0, strideC: Int64 = 0, a = 0, b = 0, c = 0 }
    let transposeA: Bool, transposeB: Bool
    private(set) var groups: [Group] = []
    private(set) var sizes = (a: 0, b: 0, c: 0)

    init(shapes: [(m: Int, n: Int, k: Int, batch: Int)], transposeA: Bool, transposeB: Bool, headsSideBySide: Bool) {
        self.transposeA = transposeA
        self.transposeB = transposeB
        for shape in shapes {
            let (aRows, aCols) = transposeA ? (shape.k, shape.m) : (shape.m, shape.k)
            let (bRows, bCols) = transposeB ? (shape.n, shape.k) : (shape.k, shape.n)
            var g = Group(m: Int32(shape.m), n: Int32(shape.n), k: Int32(shape.k), batch: Int32(shape.batch))
            let ldc = max(shape.n, 1) + 3, strideC = shape.m * ldc + 1
            let (lda, ldb, strideA, strideB): (Int, Int, Int, Int)
            if headsSideBySide {
                (lda, ldb) = (max(aCols, 1) * shape.batch + 1, max(bCols, 1) * shape.batch + 2)
                (strideA, strideB) = (aCols, bCols)
            } else {
                (lda, ldb) = (max(aCols, 1) + 2, max(bCols, 1) + 1)
                (strideA, strideB) = (aRows * lda + 4, bRows * ldb)
            }
            (g.lda, g.ldb, g.ldc) = (Int32(lda), Int32(ldb), Int32(ldc))
            (g.strideA, g.strideB, g.strideC) = (Int64(strideA), Int64(strideB), Int64(strideC))
            (g.a, g.b, g.c) = (sizes.a, sizes.b, sizes.c)
            sizes.a += headsSideBySide ? max(aRows, 1) * lda : shape.batch * strideA
            sizes.b += headsSideBySide ? max(bRows, 1) * ldb : shape.batch * strideB
            sizes.c += shape.batch * strideC
            groups.append(g)
        }
    }

    /// C after every product, by BLAS.gemm one product at a time.
    func expected(a: [Float], b: [Float], c: [Float], alpha: Float, beta: Float) -> [Float] {
        var result = c
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in result.withUnsafeMutableBufferPointer { c in
            for g in groups where g.m > 0 && g.n > 0 {
                for i in 0..<Int(g.batch) {
                    BLAS.gemm(transposeA: transposeA, transposeB: transposeB, m: Int(g.m), n: Int(g.n), k: Int(g.k), alpha: alpha,
                              a: a.baseAddress! + g.a + i * Int(g.strideA), lda: Int(g.lda),
                              b: b.baseAddress! + g.b + i * Int(g.strideB), ldb: Int(g.ldb), beta: beta,
                              c: c.baseAddress! + g.c + i * Int(g.strideC), ldc: Int(g.ldc))
                }
            }
        } } }
        return result
    }

    /// Whether C's padding (the columns past n, the floats between matrices, empty groups) kept `c0`'s values.
    func onlyProductsWritten(_ got: [Float], _ c0: [Float]) -> Bool {
        var written = [Bool](repeating: false, count: sizes.c)
        for g in groups where g.m > 0 && g.n > 0 {
            for i in 0..<Int(g.batch) {
                for r in 0..<Int(g.m) {
                    for j in 0..<Int(g.n) { written[g.c + i * Int(g.strideC) + r * Int(g.ldc) + j] = true }
                }
            }
        }
        return written.indices.allSatisfy { written[$0] || got[$0] == c0[$0] }
    }
}
#endif
