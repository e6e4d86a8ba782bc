import Foundation

/// BERT with its masked-LM head, forward only, on the CPU: the encoder of splade-encode.
///
/// A batch of token sequences is packed into one [T, H] matrix with no padding (T = total tokens),
/// so every linear layer is one large matrix product over real tokens only, and attention runs per
/// sequence. Scratch buffers live in the model and are reused from batch to batch: one
/// `BertMaskedLM` serves one thread of calls at a time (it uses all cores inside each call).
public final class BertMaskedLM: SpladeEncoding {
    public let config: BertConfig
    let weights: BertWeights
    public let threads: Int
    public var usesHostCores: Bool { true }
    /// Rows of logits computed at once by `logits(_:)`: bounds its memory to rows × vocabulary floats.
    let logitRowsPerChunk = 128
    /// The SPLADE head's blocks of logits (per thread): 2048 decoder rows (6 MB at H = 768) stay
    /// in cache while 512 token rows at a time pass through them.
    let headRowsPerBlock = 512, headColumnsPerBlock = 2048

    /// Time spent so far in the embeddings and encoder layers, and in the MLM head and pooling.
    public private(set) var encoderSeconds = 0.0, headSeconds = 0.0

    private let hidden = FloatBuffer(), residual = FloatBuffer(), qkv = FloatBuffer(), context = FloatBuffer()
    private let intermediate = FloatBuffer(), logits = FloatBuffer(), maxima = FloatBuffer()

    public init(config: BertConfig, weights: BertWeights, threads: Int) {
        self.config = config
        self.weights = weights
        self.threads = max(1, threads)
    }

    /// Loads `config.json` and the safetensors weights of a Hugging Face model directory.
    public convenience init(directory: String, threads: Int) throws(SpladeError) {
        let config = try BertConfig.load(directory + "/config.json")
        self.init(config: config, weights: try BertWeights.load(directory: directory, config: config), threads: threads)
    }

    /// SPLADE vectors of `sequences` (token ids with [CLS] and [SEP]), in order.
    ///
    /// The head is the batch's largest product ([T, H] · [H, V]: a fifth of BERT-base's work with a
    /// 32k vocabulary) and its decoder matrix is large (100 MB), so each thread takes a slice of the
    /// vocabulary and walks it in blocks small enough to stay in cache while every row of the batch
    /// passes through: the decoder streams from memory once per batch, and the logits exist only a
    /// block of rows × columns at a time, folded at once into each sequence's running maxima.
    /// Finite weights (loading checks them) can still overflow float32 in the encoder; the NaN that follows would vanish
    /// in the pooling's maxima, leaving empty vectors. Every encoder checks its hidden states for this.
    static let overflowingActivations = SpladeError(.badInput, "the model computes NaN or infinite values (its activations overflow float32)",
                                                    hint: "the checkpoint's weights are far out of range: a diverged training run?")

    public func splade(_ sequences: [[Int32]]) throws(SpladeError) -> [SparseVector] {
        let started = DispatchTime.now().uptimeNanoseconds
        let offsets = try encode(sequences)
        let encoded = DispatchTime.now().uptimeNanoseconds
        defer {
            encoderSeconds += Double(encoded - started) / 1e9
            headSeconds += Double(DispatchTime.now().uptimeNanoseconds - encoded) / 1e9
        }
        let v = config.vocabularySize, h = config.hiddenSize, t = offsets.last!
        guard VectorMath.allFinite(UnsafeBufferPointer(start: hidden.pointer, count: t * h)) else {
            throw Self.overflowingActivations
        }
        let running = maxima.reserve(sequences.count * v)
        running.update(repeating: -.infinity, count: sequences.count * v)
        let states = hidden.pointer
        let (rowsPerBlock, columnsPerBlock) = (headRowsPerBlock, headColumnsPerBlock)
        weights.decoderWeight.withUnsafeBufferPointer { decoder in
            weights.decoderBias.withUnsafeBufferPointer { bias in
                BLAS.singleThreaded {
                    parallelChunks(v, threads: threads, minimumChunk: columnsPerBlock) { slice in
                        let block = UnsafeMutablePointer<Float>.allocate(capacity: rowsPerBlock * columnsPerBlock)
                        defer { block.deallocate() }
                        for first in stride(from: slice.lowerBound, to: slice.upperBound, by: columnsPerBlock) {
                            let width = min(columnsPerBlock, slice.upperBound - first)
                            var sequence = 0
                            for start in stride(from: 0, to: t, by: rowsPerBlock) {
                                let rows = min(rowsPerBlock, t - start)
                                for r in 0..<rows { (block + r * width).update(from: bias.baseAddress! + first, count: width) }
                                BLAS.gemm(transposeB: true, m: rows, n: width, k: h, a: states + start * h, lda: h,
                                          b: decoder.baseAddress! + first * h, ldb: h, beta: 1, c: block, ldc: width)
                                // Fold each sequence's rows of the block into its maxima.
                                var row = start
                                while row < start + rows {
                                    while offsets[sequence + 1] <= row { sequence += 1 }
                                    let end = min(offsets[sequence + 1], start + rows)
                                    SpladePooling.accumulateMax(block + (row - start) * width, rows: end - row, cols: width,
                                                                columns: 0..<width, into: running + sequence * v + first)
                                    row = end
                                }
                            }
                        }
                    }
                }
            }
        }
        var vectors: [SparseVector] = []
        for s in sequences.indices {
            let maxima = running + s * v
            var vector = SparseVector()
            for j in 0..<v where maxima[j] > 0 {
                // Finite hidden states can still overflow float32 in the head's product.
                guard maxima[j].isFinite else {
                    throw SpladeError(.badInput, "the model's logit for token id \(j) overflows float32 (infinite)",
                                      hint: "the checkpoint's weights are far out of range: a diverged training run?")
                }
                vector.indices.append(Int32(j))
                vector.values.append(SpladePooling.weight(maxLogit: maxima[j]))
            }
            vectors.append(vector)
        }
        return vectors
    }

    /// The MLM logits [L, V] of one sequence (for checking against a reference).
    public func logits(_ sequence: [Int32]) throws(SpladeError) -> [Float] {
        let offsets = try encode([sequence])
        let v = config.vocabularySize
        var result = [Float](repeating: 0, count: sequence.count * v)
        var row = 0
        forEachLogitChunk(rows: offsets[0]..<offsets[1]) { chunk, rows in
            result.withUnsafeMutableBufferPointer { out in
                (out.baseAddress! + row * v).update(from: chunk, count: rows * v)
            }
            row += rows
        }
        return result
    }

    /// Runs embeddings, the encoder layers and the MLM transform; leaves the transformed hidden
    /// states [T, H] in `hidden` and returns the first row of each sequence (plus T at the end).
    private func encode(_ sequences: [[Int32]]) throws(SpladeError) -> [Int] {
        let c = config
        var offsets = [0]
        for sequence in sequences {
            guard sequence.count <= c.maxPositions else {
                throw SpladeError(.usage, "a sequence of \(sequence.count) tokens exceeds the model's \(c.maxPositions) positions")
            }
            if let bad = sequence.first(where: { $0 < 0 || Int($0) >= c.vocabularySize }) {
                throw SpladeError(.badInput, "token id \(bad) is outside the model's vocabulary of \(c.vocabularySize)")
            }
            offsets.append(offsets.last! + sequence.count)
        }
        let t = offsets.last!, h = c.hiddenSize
        var x = hidden.reserve(t * h), r = residual.reserve(t * h)
        embed(sequences, offsets: offsets, into: x)
        for layer in weights.layers {
            // Self-attention block: x ← LN(x + Wo · attention(x) + bo).
            let projections = qkv.reserve(t * 3 * h), attended = context.reserve(t * h)
            linear(x, rows: t, inputs: h, layer.qkvWeight, layer.qkvBias, outputs: 3 * h, into: projections)
            attention(projections, offsets: offsets, into: attended)
            linear(attended, rows: t, inputs: h, layer.attentionOutputWeight, layer.attentionOutputBias, outputs: h, into: r)
            norm(r, rows: t, residual: x, layer.attentionNormWeight, layer.attentionNormBias)
            swap(&x, &r)
            // Feed-forward block: x ← LN(x + W2 · gelu(W1 x + b1) + b2).
            let inner = intermediate.reserve(t * c.intermediateSize)
            linear(x, rows: t, inputs: h, layer.intermediateWeight, layer.intermediateBias, outputs: c.intermediateSize, into: inner)
            GELU.forward(inner, count: t * c.intermediateSize, threads: threads)
            linear(inner, rows: t, inputs: c.intermediateSize, layer.outputWeight, layer.outputBias, outputs: h, into: r)
            norm(r, rows: t, residual: x, layer.outputNormWeight, layer.outputNormBias)
            swap(&x, &r)
        }
        // MLM transform: LN(gelu(W x + b)), left in `hidden`. Each layer swaps x and r twice, so x is `hidden`
        // again: the transform goes through r.
        linear(x, rows: t, inputs: h, weights.transformWeight, weights.transformBias, outputs: h, into: r)
        GELU.forward(r, count: t * h, threads: threads)
        norm(r, rows: t, residual: nil, weights.transformNormWeight, weights.transformNormBias)
        hidden.pointer.update(from: r, count: t * h)
        return offsets
    }

    /// Logits of the given rows of `hidden`, a chunk at a time: decoder · h + bias.
    private func forEachLogitChunk(rows: Range<Int>, _ body: (UnsafePointer<Float>, Int) -> Void) {
        let v = config.vocabularySize, h = config.hiddenSize
        var start = rows.lowerBound
        while start < rows.upperBound {
            let count = min(logitRowsPerChunk, rows.upperBound - start)
            let out = logits.reserve(count * v)
            weights.decoderWeight.withUnsafeBufferPointer { w in
                weights.decoderBias.withUnsafeBufferPointer { b in
                    Linear.forward(hidden.pointer + start * h, rows: count, inputs: h, weight: w.baseAddress!,
                                   bias: b.baseAddress!, outputs: v, into: out, threads: threads)
                }
            }
            body(out, count)
            start += count
        }
    }

    /// x[i] = word[id] + position[i] + tokenType[0], then LayerNorm.
    private func embed(_ sequences: [[Int32]], offsets: [Int], into x: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        weights.wordEmbeddings.withUnsafeBufferPointer { word in
            weights.positionEmbeddings.withUnsafeBufferPointer { position in
                weights.tokenTypeEmbeddings.withUnsafeBufferPointer { type in
                    for (s, sequence) in sequences.enumerated() {
                        for (i, id) in sequence.enumerated() {
                            let row = x + (offsets[s] + i) * h
                            let w = word.baseAddress! + Int(id) * h, p = position.baseAddress! + i * h
                            for j in 0..<h { row[j] = w[j] + p[j] + type[j] }
                        }
                    }
                }
            }
        }
        norm(x, rows: offsets.last!, residual: nil, weights.embeddingNormWeight, weights.embeddingNormBias)
    }

    /// Every (sequence, head) pair is independent: spread them over the cores, each product single-threaded.
    private func attention(_ projections: UnsafeMutablePointer<Float>, offsets: [Int], into attended: UnsafeMutablePointer<Float>) {
        let c = config
        let pairs = (offsets.count - 1) * c.heads
        let longest = zip(offsets.dropFirst(), offsets).map { $0 - $1 }.max() ?? 0
        BLAS.singleThreaded {
            parallelChunks(pairs, threads: threads) { range in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: max(1, longest * longest))
                defer { scores.deallocate() }
                for pair in range {
                    let s = pair / c.heads, start = offsets[s]
                    Attention.forward(qkv: projections + start * 3 * c.hiddenSize, length: offsets[s + 1] - start,
                                      hidden: c.hiddenSize, heads: c.heads, head: pair % c.heads,
                                      context: attended + start * c.hiddenSize, scores: scores)
                }
            }
        }
    }

    private func linear(_ x: UnsafePointer<Float>, rows: Int, inputs: Int, _ weight: [Float], _ bias: [Float], outputs: Int,
                        into y: UnsafeMutablePointer<Float>) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                Linear.forward(x, rows: rows, inputs: inputs, weight: w.baseAddress!, bias: b.baseAddress!, outputs: outputs,
                               into: y, threads: threads)
            }
        }
    }

    private func norm(_ x: UnsafeMutablePointer<Float>, rows: Int, residual: UnsafePointer<Float>?, _ weight: [Float], _ bias: [Float]) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                LayerNorm.forward(x, rows: rows, cols: config.hiddenSize, residual: residual, weight: w.baseAddress!,
                                  bias: b.baseAddress!, epsilon: config.layerNormEpsilon, threads: threads)
            }
        }
    }
}
