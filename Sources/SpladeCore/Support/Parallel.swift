import Dispatch
import Synchronization

/// Maps `inputs` to outputs on `workers.count` threads, keeping the input order. Thread `w` has
/// exclusive use of `workers[w]` (per-thread state such as a MeCab tagger), so `transform` needs no
/// locking. Threads take the next small chunk of inputs as they finish one: inputs differ in cost
/// (a paragraph against a question), and fixed halves left one thread idle while the other finished.
public func orderedParallelMap<Worker, Input, Output>(
    _ inputs: [Input], workers: [Worker], _ transform: (Worker, Input) -> Output
) -> [Output] {
    let threadCount = min(workers.count, inputs.count)
    if threadCount <= 1 {
        return inputs.map { transform(workers[0], $0) }
    }
    // About 16 chunks per thread: enough to even out the costs, few enough that taking one is cheap.
    let chunkSize = max(1, inputs.count / (threadCount * 16))
    let nextChunk = Atomic<Int>(0)
    return [Output](unsafeUninitializedCapacity: inputs.count) { buffer, initialized in
        // Each chunk is taken by one thread, which writes its range of `buffer` with its own state: no sharing.
        nonisolated(unsafe) let base = buffer.baseAddress!
        nonisolated(unsafe) let (inputs, workers, transform) = (inputs, workers, transform)
        DispatchQueue.concurrentPerform(iterations: threadCount) { w in
            while true {
                let start = nextChunk.add(chunkSize, ordering: .relaxed).oldValue
                if start >= inputs.count { break }
                for i in start..<min(start + chunkSize, inputs.count) { (base + i).initialize(to: transform(workers[w], inputs[i])) }
            }
        }
        initialized = inputs.count
    }
}

/// Runs `body` over `0..<count` split into contiguous chunks on up to `threads` threads.
/// `body(range)` must touch only what belongs to its range.
public func parallelChunks(_ count: Int, threads: Int, minimumChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let parts = max(1, min(threads, count / max(1, minimumChunk)))
    if parts == 1 {
        if count > 0 { body(0..<count) }
        return
    }
    nonisolated(unsafe) let body = body
    DispatchQueue.concurrentPerform(iterations: parts) { p in body(slice(p, of: parts, count: count)) }
}

/// Part `part` of `0..<count` cut into `parts` contiguous ranges whose sizes differ by at most one (none empty
/// when parts ≤ count). Rounding each size up instead left the last parts past the end, an inverted range,
/// whenever the sizes did not divide evenly (6 items on 5 threads).
func slice(_ part: Int, of parts: Int, count: Int) -> Range<Int> {
    (part * count / parts)..<((part + 1) * count / parts)
}

/// `produce` run on a background thread; `value()` waits for its result. splade-encode reads and
/// tokenizes the next input with it while a GPU encodes the current one.
public final class BackgroundTask<Value>: @unchecked Sendable {
    private let finished = DispatchSemaphore(value: 0)
    /// Written by the background thread before it signals `finished`, read after waiting for it.
    private var result: Result<Value, SpladeError>?

    public init(_ produce: @escaping @Sendable () throws(SpladeError) -> Value) {
        DispatchQueue.global().async {
            self.result = Result { () throws(SpladeError) in try produce() }
            self.finished.signal()
        }
    }

    public func value() throws(SpladeError) -> Value {
        finished.wait()
        finished.signal()  // for any later call
        return try result!.get()
    }
}
