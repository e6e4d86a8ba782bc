#if CUDA
import CSpladeCUDA

/// A batch of sequences on the GPU: their token ids and positions, packed without padding, where each
/// sequence starts, and where its attention probabilities go: an L×L matrix a head, `headStride(L)` elements
/// apart (L² rounded up to a multiple of 8, so that cuBLAS's grouped products take every head's matrix).
/// The arrays on the GPU are one upload into a buffer that the next batch reuses (`uploads`): no allocation a batch
/// once it has grown, and one copy (and one more of the vectors' offsets, in `sparseVectors`). So the device pointers
/// below are valid until the next batch is made with the same `uploads` (training keeps a micro-batch from its
/// forward pass to its backward pass, and makes the next one after).
struct DeviceBatch {
    let packing: CUDAOps.Packing
    let config: BertConfig
    /// Token ids, positions, and where each sequence starts (sequences + 1 entries) on the GPU.
    let ids: UnsafeMutablePointer<Int32>, positions: UnsafeMutablePointer<Int32>, starts: UnsafeMutablePointer<Int32>
    /// Sequence s's attention probabilities start at probabilityOffsets[s]; the last entry is their total.
    let probabilityOffsets: [Int]
    /// The same offsets and the sequences' lengths on the GPU, for the block softmax, and where each sequence's
    /// probabilities start without the gaps between heads, where the CPU draws their dropout.
    let blockOffsets: UnsafeMutablePointer<Int64>, lengths: UnsafeMutablePointer<Int32>,
        dropoutDraws: UnsafeMutablePointer<Int64>
    /// The GPU buffers the batch's arrays are copied into, reused from batch to batch.
    private let uploads: DeviceScratch<UInt8>
    /// Elements of the probabilities' buffers (gaps included).
    var probabilityCount: Int { probabilityOffsets.last! }
    /// The attention probabilities themselves, Σ heads·L²: the draws of their dropout mask.
    let probabilityDrawCount: Int
    /// Rows of attention scores: heads × Σ L.
    var softmaxRows: Int { config.heads * packing.tokens }
    /// Encoding's attention in bf16 over sequences padded to this many tokens (the longest rounded up to a multiple of 8):
    /// products of one shape, one batched call of cuBLAS's tuned kernels, rather than a group a sequence (which cuBLAS
    /// 13.1 ran on an H200 as a small-tile kernel launch a group). Where the padding's extra attention work,
    /// (sequences · P² − Σ L²) · 4H, stays within a quarter of the layer's products, T · 24H² (so ≤ 1.5 · H · T), as in
    /// batches of sorted lengths. Nil for one sequence (one group already) or lengths too unequal.
    let paddedLength: Int?
    /// Entries of the padded layout's scores, sequences × heads × P².
    var paddedScoreCount: Int { paddedLength.map { packing.lengths.count * config.heads * $0 * $0 } ?? 0 }
    /// Rows of QKV that attention reads: the packed rows, and with the padded layout those past the last sequence up to
    /// its padded length (not written by this batch: zeros, or finite values of an earlier one; masked).
    var attentionRows: Int { paddedLength.map { packing.tokens + $0 - packing.lengths.last! } ?? packing.tokens }
    /// Rows of logits computed at once by `pool`: a 256 MiB scratch (2048 rows at a 32k vocabulary,
    /// 268 at 250k), large products that read the decoder once per chunk.
    var logitRowsPerChunk: Int { max(64, min(2048, (1 << 26) / config.vocabularySize)) }

    /// The batch of `sequences`, its arrays copied into `uploads` (which the previous batch's may be in: the copy waits
    /// for the work queued before it).
    init(_ sequences: [[Int32]], config c: BertConfig, uploads: DeviceScratch<UInt8>) throws(SpladeError) {
        var offsets = [0], ids: [Int32] = [], positions: [Int32] = []
        for sequence in sequences {
            guard sequence.count <= c.maxPositions else {
                throw SpladeError(.usage, "a sequence of \(sequence.count) tokens exceeds the model's \(c.maxPositions) positions")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
                throw SpladeError(.badInput, "token id \(bad) is outside the model's vocabulary of \(c.vocabularySize)")
            }
            ids += sequence
            positions += (0..<sequence.count).map { Int32($0) }
            offsets.append(offsets.last! + sequence.count)
        }
        packing = CUDAOps.Packing(offsets: offsets)
        config = c
        var probabilityOffsets = [0], draws = [0]
        for length in packing.lengths {
            probabilityOffsets.append(probabilityOffsets.last! + c.heads * Self.headStride(length))
            draws.append(draws.last! + c.heads * length * length)
        }
        self.probabilityOffsets = probabilityOffsets
        probabilityDrawCount = draws.last!
        var upload = PackedUpload()
        let at = (blockOffsets: upload.append(probabilityOffsets.dropLast().map { Int64($0) }),
                  dropoutDraws: upload.append(draws.dropLast().map { Int64($0) }), ids: upload.append(ids),
                  positions: upload.append(positions), starts: upload.append(offsets.map { Int32($0) }),
                  lengths: upload.append(packing.lengths.map { Int32($0) }))
        let base = try upload.copy(into: uploads, "batch")
        blockOffsets = (base + at.blockOffsets).assumingMemoryBound(to: Int64.self)
        dropoutDraws = (base + at.dropoutDraws).assumingMemoryBound(to: Int64.self)
        self.ids = (base + at.ids).assumingMemoryBound(to: Int32.self)
        self.positions = (base + at.positions).assumingMemoryBound(to: Int32.self)
        starts = (base + at.starts).assumingMemoryBound(to: Int32.self)
        lengths = (base + at.lengths).assumingMemoryBound(to: Int32.self)
        self.uploads = uploads
        let longest = packing.lengths.max() ?? 0, padded = (longest + 7) / 8 * 8
        let extra = packing.lengths.count * padded * padded - packing.lengths.reduce(0) { $0 + $1 * $1 }
        paddedLength = packing.lengths.count > 1 && 2 * extra <= 3 * c.hiddenSize * packing.tokens ? padded : nil
    }

    /// Elements from one head's L×L probabilities to the next (splade_cuda_head_stride).
    static func headStride(_ length: Int) -> Int { Int(splade_cuda_head_stride(Int32(length))) }

    /// x = word + position + token type 0 embeddings, row by row.
    func embed(_ w: DeviceBertWeights, into x: UnsafeMutablePointer<Float>) throws(SpladeError) {
        try CUDAOps.check(splade_cuda_embed(ids, positions, Int32(packing.tokens), Int32(config.hiddenSize),
                                            w.word.pointer, w.position.pointer, w.tokenType.pointer, x), "embeddings")
    }

    /// The logits of all packed rows, `logitRowsPerChunk` at a time (a chunk may span sequences), folded
    /// into each sequence's running maxima ([sequences × V]) and, for training, the packed row that holds
    /// each maximum (`argmax`; nil for inference).
    func pool(transformed: UnsafePointer<Float>, weights w: DeviceBertWeights, logits: UnsafeMutablePointer<Float>,
              maxima: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?) throws(SpladeError) {
        let v = config.vocabularySize, h = config.hiddenSize, s = packing.lengths.count
        try forEachChunk(maxima: maxima, argmax: argmax) { start, rows throws(SpladeError) in
            try CUDAOps.linear(transformed + start * h, rows: rows, inputs: h, weight: w.decoder, bias: w.decoderBias,
                               outputs: v, into: logits)
            try CUDAOps.check(splade_cuda_splade_max_segments(logits, Int32(rows), Int32(v), Int32(start), starts,
                                                              Int32(s), maxima, argmax), "pooling")
        }
    }

    /// `pool` in bf16: the transformed rows in bfloat16, and the logits too, as under torch.autocast (half the bytes
    /// written and read again), rounded from float32 sums with the decoder bias's copy added.
    func pool(transformed: UnsafePointer<UInt16>, weights w: DeviceBertWeights, logits: UnsafeMutablePointer<UInt16>,
              maxima: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
              bf16: CUDAOps.BFloat16) throws(SpladeError) {
        let v = config.vocabularySize, h = config.hiddenSize, s = packing.lengths.count
        try forEachChunk(maxima: maxima, argmax: argmax) { start, rows throws(SpladeError) in
            try CUDAOps.linear(transformed + start * h, rows: rows, inputs: h, weight: w.decoder, bias: w.decoderBias,
                               outputs: v, into: logits, bf16: bf16)
            try CUDAOps.check(splade_cuda_splade_max_segments_bf16(logits, Int32(rows), Int32(v), Int32(start),
                                                                   starts, Int32(s), maxima, argmax), "pooling")
        }
    }

    /// Resets the maxima (and argmax rows), then calls `body(first row, rows)` for each chunk of packed rows.
    private func forEachChunk(maxima: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Int32>?,
                              _ body: (_ start: Int, _ rows: Int) throws(SpladeError) -> Void) throws(SpladeError) {
        let t = packing.tokens
        try CUDAOps.check(splade_cuda_splade_max_reset(maxima, argmax, packing.lengths.count * config.vocabularySize), "pooling")
        var start = 0
        while start < t {
            let rows = min(logitRowsPerChunk, t - start)
            try body(start, rows)
            start += rows
        }
    }

    /// w = log(1 + relu(max logit)) of every sequence as sparse vectors: the GPU packs each sequence's positive
    /// weights, so that only they cross to the host (some hundreds of entries instead of V floats a sequence).
    func sparseVectors(maxima: UnsafePointer<Float>, scratch: DeviceScratch<Float>,
                       indexScratch: DeviceScratch<Int32>) throws(SpladeError) -> [SparseVector] {
        let s = packing.lengths.count, v = config.vocabularySize
        let weights = try scratch("weights", s * v), counts = try indexScratch("counts", s)
        try CUDAOps.check(splade_cuda_splade_weights(maxima, s * v, weights), "pooling")
        try CUDAOps.check(splade_cuda_count_positive(weights, Int32(s), Int32(v), counts), "counting the weights")
        var offsets: [Int64] = [0]
        for count in try DeviceBuffer.download(counts, count: s) { offsets.append(offsets.last! + Int64(count)) }
        let total = Int(offsets.last!)
        var upload = PackedUpload()
        _ = upload.append(Array(offsets.dropLast()))
        let deviceOffsets = try upload.copy(into: uploads, "offsets").assumingMemoryBound(to: Int64.self)
        let indices = try indexScratch("indices", total), values = try scratch("values", total)
        try CUDAOps.check(splade_cuda_compact_positive(weights, Int32(s), Int32(v), deviceOffsets, indices, values),
                          "packing the weights")
        let hostIndices = try DeviceBuffer.download(indices, count: total)
        let hostValues = try DeviceBuffer.download(values, count: total)
        // As on the CPU: a logit that overflows float32 is the model's error, not a weight.
        guard hostValues.withUnsafeBufferPointer(VectorMath.allFinite) else {
            throw SpladeError(.badInput, "the model's logits overflow float32 (infinite)",
                              hint: "the checkpoint's weights are far out of range: a diverged training run?")
        }
        return (0..<s).map { k in
            let range = Int(offsets[k])..<Int(offsets[k + 1])
            return SparseVector(indices: Array(hostIndices[range]), values: Array(hostValues[range]))
        }
    }
}

/// Host arrays gathered for one copy to the GPU, each at an offset aligned to 8 bytes.
struct PackedUpload {
    private var bytes: [UInt8] = []

    /// Appends `values`; returns their offset.
    mutating func append<Element>(_ values: [Element]) -> Int {
        bytes += repeatElement(0, count: (8 - bytes.count % 8) % 8)
        let offset = bytes.count
        values.withUnsafeBytes { bytes += $0 }
        return offset
    }

    /// Copies the arrays into `scratch`'s buffer `name` (cudaMalloc's alignment, 256 bytes); their device addresses
    /// are the result plus their offsets.
    func copy(into scratch: DeviceScratch<UInt8>, _ name: String) throws(SpladeError) -> UnsafeMutableRawPointer {
        let base = try scratch(name, bytes.count)
        try DeviceBuffer.upload(bytes, to: base)
        return UnsafeMutableRawPointer(base)
    }
}
#endif
