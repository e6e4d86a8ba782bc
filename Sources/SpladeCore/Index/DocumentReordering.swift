import CSpladeMath
import Dispatch
import Foundation

/// Document reordering by recursive graph bisection (Dhulipala et al., KDD 2016), the reordering
/// BMP relies on: documents that share terms end up in the same blocks, so each block's maxima
/// describe its documents closely and block upper bounds become tight enough to skip most blocks.
///
/// The documents (as term sets; weights are ignored) are split in two halves A and B. Each
/// iteration computes, for every document, how much moving it to the other half would lower the
/// cost of storing both halves' posting lists, estimated with the log-gap model: a term with degree
/// d in a half of n documents costs d · log2(n / (d + 1)) bits. Pairs (best of A, best of B) are
/// swapped while their summed gain is positive. After the iterations each half is bisected again,
/// down to the block size. The two halves of a split share the threads; a split with more than one
/// sums its documents' gains in parallel chunks (the same sums, so every thread count gives the same order).
public enum DocumentReordering {
    /// The new order: `order[position]` is the document (its number in `documents`) placed at
    /// `position`. Halves are cut on multiples of `blockSize`, so every block is one leaf.
    public static func bisectionOrder(_ documents: DocumentBatch, vocabularySize: Int, blockSize: Int,
                                      iterations: Int = 20, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                                      progress: (@Sendable (_ documentsPlaced: Int) -> Void)? = nil) -> [Int] {
        let order = UnsafeMutableBufferPointer<Int32>.allocate(capacity: documents.count)
        defer { order.deallocate() }
        for d in 0..<documents.count { order[d] = Int32(d) }
        documents.terms.withUnsafeBufferPointer { terms in
            documents.postingStart.withUnsafeBufferPointer { postingStart in
                // The context lives only inside this call, where the pointers are valid.
                let context = Context(terms: terms, postingStart: postingStart, order: order, vocabularySize: vocabularySize,
                                      blockSize: blockSize, iterations: iterations, progress: progress)
                context.bisect(0..<documents.count, threads: max(threads, 1))
            }
        }
        return order.map { Int($0) }
    }

    /// Splits of fewer documents sum their gains on one thread (a chunk's work would not pay for its start).
    static let documentsForParallelGains = 16_384

    /// What every bisection shares; each concurrent bisection has its own `Scratch` (which the chunks of its split
    /// only read, and its two sorts touch one list each).
    private final class Context: @unchecked Sendable {
        let terms: UnsafeBufferPointer<UInt32>
        let postingStart: UnsafeBufferPointer<UInt64>
        let order: UnsafeMutableBufferPointer<Int32>
        let vocabularySize: Int
        let blockSize: Int
        let iterations: Int
        let progress: (@Sendable (Int) -> Void)?
        private let placed = Counter()

        init(terms: UnsafeBufferPointer<UInt32>, postingStart: UnsafeBufferPointer<UInt64>, order: UnsafeMutableBufferPointer<Int32>,
             vocabularySize: Int, blockSize: Int, iterations: Int, progress: (@Sendable (Int) -> Void)?) {
            self.terms = terms
            self.postingStart = postingStart
            self.order = order
            self.vocabularySize = vocabularySize
            self.blockSize = blockSize
            self.iterations = iterations
            self.progress = progress
        }

        /// Bisects `range` of `order` recursively with `threads` threads: a split's two halves
        /// divide them between their own bisections (in parallel when there are two or more).
        func bisect(_ range: Range<Int>, threads: Int, scratch: Scratch? = nil) {
            let blocks = (range.count + blockSize - 1) / blockSize
            guard blocks > 1 else {
                if let progress { progress(placed.add(range.count)) }
                return
            }
            let scratch = scratch ?? Scratch(vocabularySize: vocabularySize)
            let middle = range.lowerBound + (blocks / 2) * blockSize
            improve(range.lowerBound..<middle, middle..<range.upperBound, threads: threads, scratch: scratch)
            if threads > 1 {
                DispatchQueue.concurrentPerform(iterations: 2) { half in
                    bisect(half == 0 ? range.lowerBound..<middle : middle..<range.upperBound,
                           threads: half == 0 ? (threads + 1) / 2 : threads / 2)
                }
            } else {
                bisect(range.lowerBound..<middle, threads: 1, scratch: scratch)
                bisect(middle..<range.upperBound, threads: 1, scratch: scratch)
            }
        }

        /// Swaps documents between the halves `a` and `b` to lower the log-gap cost.
        private func improve(_ a: Range<Int>, _ b: Range<Int>, threads: Int, scratch s: Scratch) {
            let sizeA = Float(a.count), sizeB = Float(b.count)
            func cost(_ degree: Int32, _ size: Float) -> Float { Float(degree) * log2(size / Float(degree + 1)) }
            let parallel = threads > 1 && a.count + b.count >= DocumentReordering.documentsForParallelGains
            count(a, into: s.degreeA)
            count(b, into: s.degreeB)
            for _ in 0..<iterations {
                // Gain of moving one document holding term t to the other half, computed once per
                // term (the stamp marks terms already computed in this iteration).
                s.stamp &+= 1
                func gain(_ t: Int) -> (aToB: Float, bToA: Float) {
                    if s.seen[t] != s.stamp {
                        s.seen[t] = s.stamp
                        let dA = s.degreeA[t], dB = s.degreeB[t]
                        let now = cost(dA, sizeA) + cost(dB, sizeB)
                        s.gainAToB[t] = dA > 0 ? now - cost(dA - 1, sizeA) - cost(dB + 1, sizeB) : 0
                        s.gainBToA[t] = dB > 0 ? now - cost(dA + 1, sizeA) - cost(dB - 1, sizeB) : 0
                    }
                    return (s.gainAToB[t], s.gainBToA[t])
                }
                if parallel {
                    // Every term's gain first: the chunks then only read the tables.
                    for t in 0..<vocabularySize { _ = gain(t) }
                    gatherMoves(a, into: &s.movesA, threads: threads) { s.gainAToB[$0] }
                    gatherMoves(b, into: &s.movesB, threads: threads) { s.gainBToA[$0] }
                } else {
                    gatherMoves(a, into: &s.movesA, threads: 1) { gain($0).aToB }
                    gatherMoves(b, into: &s.movesB, threads: 1) { gain($0).bToA }
                }
                parallelChunks(2, threads: parallel ? 2 : 1) { halves in
                    for half in halves {
                        if half == 0 { s.movesA.sort(by: Move.better) } else { s.movesB.sort(by: Move.better) }
                    }
                }
                var swapped = 0
                for (x, y) in zip(s.movesA, s.movesB) where x.gain + y.gain > 0 {
                    // Degrees follow the swap (cheaper than recounting both halves).
                    for p in postings(of: order[Int(x.position)]) { s.degreeA[Int(terms[p])] -= 1; s.degreeB[Int(terms[p])] += 1 }
                    for p in postings(of: order[Int(y.position)]) { s.degreeB[Int(terms[p])] -= 1; s.degreeA[Int(terms[p])] += 1 }
                    order.swapAt(Int(x.position), Int(y.position))
                    swapped += 1
                }
                if swapped == 0 { break }
            }
            clear(a, s.degreeA)
            clear(b, s.degreeB)
        }

        /// `moves[i]`: the summed gain of moving the document at `positions` index i to the other
        /// half, in chunks of `positions` on `threads` threads.
        private func gatherMoves(_ positions: Range<Int>, into moves: inout [Move], threads: Int, gain: (Int) -> Float) {
            moves.removeAll(keepingCapacity: true)
            moves.append(contentsOf: repeatElement(Move(gain: 0, position: 0), count: positions.count))
            moves.withUnsafeMutableBufferPointer { moves in
                parallelChunks(positions.count, threads: threads) { chunk in
                    for i in chunk {
                        let position = positions.lowerBound + i
                        // Documents lie scattered in memory: fetch the start of a later one's terms (and, further
                        // ahead, where they start) while this one is summed.
                        if i + 16 < chunk.upperBound { splade_prefetch(postingStart.baseAddress! + Int(order[position + 16])) }
                        if i + 8 < chunk.upperBound { splade_prefetch(terms.baseAddress! + Int(postingStart[Int(order[position + 8])])) }
                        var total: Float = 0
                        for p in postings(of: order[position]) { total += gain(Int(terms[p])) }
                        moves[i] = Move(gain: total, position: Int32(position))
                    }
                }
            }
        }

        private func postings(of document: Int32) -> Range<Int> {
            Int(postingStart[Int(document)])..<Int(postingStart[Int(document) + 1])
        }

        private func count(_ range: Range<Int>, into degree: UnsafeMutableBufferPointer<Int32>) {
            for position in range {
                for p in postings(of: order[position]) { degree[Int(terms[p])] += 1 }
            }
        }

        /// Zeroes the degrees of the terms of `range` only (the only non-zero ones): cheaper than
        /// the whole vocabulary for the many small ranges deep in the recursion.
        private func clear(_ range: Range<Int>, _ degree: UnsafeMutableBufferPointer<Int32>) {
            for position in range {
                for p in postings(of: order[position]) { degree[Int(terms[p])] = 0 }
            }
        }
    }

    private struct Move {
        var gain: Float
        var position: Int32
        /// Larger gain first; equal gains by position, so the order is deterministic.
        static func better(_ x: Move, _ y: Move) -> Bool { x.gain != y.gain ? x.gain > y.gain : x.position < y.position }
    }

    /// A bisection's arrays over the vocabulary.
    private final class Scratch {
        let degreeA: UnsafeMutableBufferPointer<Int32>
        let degreeB: UnsafeMutableBufferPointer<Int32>
        let gainAToB: UnsafeMutableBufferPointer<Float>
        let gainBToA: UnsafeMutableBufferPointer<Float>
        let seen: UnsafeMutableBufferPointer<UInt32>
        var stamp: UInt32 = 0
        var movesA: [Move] = []
        var movesB: [Move] = []

        init(vocabularySize: Int) {
            func zeroed<T: Numeric>(_: T.Type) -> UnsafeMutableBufferPointer<T> {
                let buffer = UnsafeMutableBufferPointer<T>.allocate(capacity: vocabularySize)
                buffer.initialize(repeating: 0)
                return buffer
            }
            degreeA = zeroed(Int32.self)
            degreeB = zeroed(Int32.self)
            gainAToB = zeroed(Float.self)
            gainBToA = zeroed(Float.self)
            seen = zeroed(UInt32.self)
        }

        deinit {
            for buffer in [degreeA, degreeB] { buffer.deallocate() }
            for buffer in [gainAToB, gainBToA] { buffer.deallocate() }
            seen.deallocate()
        }
    }

    private final class Counter: @unchecked Sendable {
        private var value = 0
        private let lock = NSLock()
        func add(_ n: Int) -> Int { lock.withLock { value += n; return value } }
    }
}
