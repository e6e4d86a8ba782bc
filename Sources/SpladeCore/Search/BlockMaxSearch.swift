/// Top-k retrieval over one segment by block-max pruning, as BMP does:
///
/// 1. Upper bounds: for each query term t with integer weight q_t, every block b in t's block-max
///    list gets UB[b] += q_t · max_t(b). No document of b can score more than UB[b].
/// 2. Blocks are visited in decreasing UB order (a max-heap, so only visited blocks pay for order).
///    A visited block is scored exactly from its forward index (the block's terms, intersected with
///    the query's, both ascending) into one accumulator per document of the block.
/// 3. Stop when the top-k is full and α · UB < θ, θ the k-th best score. With α = 1 no unvisited
///    document can enter the top-k, not even by the tie-break (ties go to the lower document
///    number, and UB < θ is strict): the result is exactly the brute-force top-k. α < 1 stops
///    earlier and trades recall for speed.
///
/// Scores are integers (`QuantizedQuery` × 8-bit impacts), so the result does not depend on the
/// order of the additions.
public struct BlockMaxSearch {
    /// Per-thread buffers, reused across queries.
    public final class Scratch {
        var upperBounds: [UInt32] = []
        var candidates: [UInt64] = []
        var accumulator = [UInt32](repeating: 0, count: SegmentLayout.maxBlockSize)
        var top = TopKHeap(k: 0)
        public init() {}
    }

    /// A document of a segment (its place among the segments searched) and its integer score.
    public struct Hit: Sendable, Equatable {
        public var score: UInt32
        public var document: Int
        public var segment = 0
    }

    /// The best `k` live documents with a positive score, best first (ties: lower document number).
    public static func search(_ segment: Segment, deletions: Deletions?, query: QuantizedQuery, k: Int, alpha: Double,
                              scratch: Scratch) -> [Hit] {
        search([segment], deletions: [deletions], query: query, k: k, alpha: alpha, scratch: scratch)
    }

    /// The segments of one index (one impact scale) searched as one: documents are numbered on from one segment to
    /// the next, so ties go to the earlier segment, and all their blocks are visited in one order of decreasing
    /// upper bound, so a segment's search stops as soon as the others' hits are better — searching each segment for
    /// its own top k visited some 2-3 times as many blocks.
    public static func search(_ segments: [Segment], deletions: [Deletions?], query: QuantizedQuery, k: Int, alpha: Double,
                              scratch: Scratch) -> [Hit] {
        precondition(segments.count == deletions.count)
        // Where each segment's blocks and documents start in the numbering of all of them.
        let blockStart = segments.reduce(into: [0]) { starts, segment in starts.append(starts.last! + segment.header.blocks) }
        let documentStart = segments.reduce(into: [0]) { starts, segment in starts.append(starts.last! + segment.header.documents) }
        let blockCount = blockStart.last!
        guard k > 0, !query.isEmpty, blockCount > 0 else { return [] }

        // 1. Upper bounds per block.
        if scratch.upperBounds.count < blockCount { scratch.upperBounds = [UInt32](repeating: 0, count: blockCount) }
        scratch.upperBounds.withUnsafeMutableBufferPointer { ub in
            for i in 0..<blockCount { ub[i] = 0 }
            for (g, segment) in segments.enumerated() {
                let h = segment.header, base = blockStart[g]
                for (term, weight) in zip(query.terms, query.weights) where Int(term) < h.vocabularySize {
                    for e in Int(segment.termListStart[Int(term)])..<Int(segment.termListStart[Int(term) + 1]) {
                        let block = Int(segment.listBlocks[e])
                        if block < h.blocks { ub[base + block] &+= weight &* UInt32(segment.listMaxes[e]) }
                    }
                }
            }
        }

        // 2. Candidate blocks as a max-heap of (UB, lower block first).
        var keys = scratch.candidates
        scratch.candidates = []
        keys.removeAll(keepingCapacity: true)
        for block in 0..<blockCount where scratch.upperBounds[block] > 0 {
            keys.append(UInt64(scratch.upperBounds[block]) << 32 | UInt64(UInt32.max - UInt32(block)))
        }
        var blocks = MaxHeap(heapifying: keys)
        defer { scratch.candidates = blocks.storage }

        // 3. Visit blocks until none can improve the top-k.
        scratch.top.reset(k: k)
        while let candidate = blocks.pop() {
            let upperBound = UInt32(candidate >> 32)
            if scratch.top.isFull && Double(upperBound) * alpha < Double(scratch.top.threshold) { break }
            let block = Int(UInt32.max - UInt32(truncatingIfNeeded: candidate))
            let g = part(of: block, starts: blockStart)
            scoreBlock(block - blockStart[g], of: segments[g], deletions: deletions[g], query: query, firstDocument: documentStart[g],
                       scratch: scratch)
        }
        return scratch.top.sortedDescending().map { key in
            let document = TopKHeap.document(of: key), g = part(of: document, starts: documentStart)
            return Hit(score: TopKHeap.score(of: key), document: document - documentStart[g], segment: g)
        }
    }

    /// The part `g` with starts[g] ≤ number < starts[g + 1] (parts may be empty): the first start above the number,
    /// by bisection, minus one.
    private static func part(of number: Int, starts: [Int]) -> Int {
        var low = 1, high = starts.count - 1
        while low < high {
            let middle = (low + high) / 2
            if starts[middle] > number { high = middle } else { low = middle + 1 }
        }
        return low - 1
    }

    /// Exact scores of one block's documents, offered to the top-k.
    /// Documents are offered numbered from `firstDocument`, the segment's first in the numbering of all searched.
    private static func scoreBlock(_ block: Int, of segment: Segment, deletions: Deletions?, query: QuantizedQuery,
                                   firstDocument: Int, scratch: Scratch) {
        let h = segment.header
        let firstPlace = block * h.blockSize
        let documentsInBlock = min(h.blockSize, h.documents - firstPlace)
        let entryEnd = Int(segment.blockEntryStart[block + 1])
        let postingBase = Int(segment.blockPostingStart[block])
        let postingEnd = Int(segment.blockPostingStart[block + 1])
        scratch.accumulator.withUnsafeMutableBufferPointer { accumulator in
            var e = Int(segment.blockEntryStart[block])
            for (term, weight) in zip(query.terms, query.weights) {
                // The block's terms and the query's are both ascending: search forward from the last match.
                var low = e, high = entryEnd
                while low < high {
                    let middle = (low + high) / 2
                    if segment.entryTerms[middle] < term { low = middle + 1 } else { high = middle }
                }
                e = low
                guard e < entryEnd else { break }
                guard segment.entryTerms[e] == term else { continue }
                let start = postingBase + Int(segment.entryPostingStart[e])
                let end = e + 1 < entryEnd ? postingBase + Int(segment.entryPostingStart[e + 1]) : postingEnd
                guard start <= end, end <= postingEnd else { continue }
                for p in start..<end {
                    let document = Int(segment.postings[2 * p])
                    // Always true in a sound segment; keeps a corrupt one from touching other slots.
                    if document < documentsInBlock { accumulator[document] &+= weight &* UInt32(segment.postings[2 * p + 1]) }
                }
            }
            for d in 0..<documentsInBlock {
                let score = accumulator[d]
                guard score > 0 else { continue }
                accumulator[d] = 0
                let document = Int(segment.blockDocuments[firstPlace + d])
                if let deletions, deletions.contains(document) { continue }
                scratch.top.offer(score: score, document: firstDocument + document)
            }
        }
    }
}
