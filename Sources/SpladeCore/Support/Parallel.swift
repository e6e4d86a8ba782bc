import Dispatch

/// Maps `inputs` to outputs on `workers.count` threads, keeping the input order. Worker `w` gets
/// the `w`-th contiguous slice and exclusive use of `workers[w]` (per-thread state such as a MeCab
/// tagger), so `transform` needs no locking.
public func orderedParallelMap<Worker, Input, Output>(
    _ inputs: [Input], workers: [Worker], _ transform: (Worker, Input) -> Output
) -> [Output] {
    let threadCount = min(workers.count, inputs.count)
    if threadCount <= 1 {
        return inputs.map { transform(workers[0], $0) }
    }
    return [Output](unsafeUninitializedCapacity: inputs.count) { buffer, initialized in
        // Each worker writes a disjoint range of `buffer` and uses only its own state: no sharing.
        nonisolated(unsafe) let base = buffer.baseAddress!
        nonisolated(unsafe) let (inputs, workers, transform) = (inputs, workers, transform)
        DispatchQueue.concurrentPerform(iterations: threadCount) { w in
            for i in slice(w, of: threadCount, count: inputs.count) { (base + i).initialize(to: transform(workers[w], inputs[i])) }
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
