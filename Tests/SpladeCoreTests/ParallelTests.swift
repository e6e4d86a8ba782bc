import Dispatch
import Testing
@testable import SpladeCore

/// The threading helpers: order kept, every element once, results and errors handed over.
@Suite struct ParallelTests {
    @Test func orderedParallelMapKeepsTheOrder() {
        let inputs = Array(0..<1000)
        let workers = Array(0..<7)
        #expect(orderedParallelMap(inputs, workers: workers) { _, x in x * x } == inputs.map { $0 * $0 })
        #expect(orderedParallelMap([Int](), workers: workers) { _, x in x }.isEmpty)
    }

    @Test func parallelChunksCoverTheRangeOnce() {
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 1001)
        defer { counts.deallocate() }
        counts.initialize(repeating: 0)
        nonisolated(unsafe) let shared = counts
        parallelChunks(1001, threads: 4, minimumChunk: 10) { range in for i in range { shared[i] += 1 } }
        #expect(counts.allSatisfy { $0 == 1 })
    }

    /// The value (or the error) of the background work, as often as asked, after it finished.
    @Test func backgroundTaskHandsOverItsResult() throws {
        let started = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let task = BackgroundTask { () throws(SpladeError) in
            started.signal()
            release.wait()
            return 42
        }
        started.wait()  // it runs while this thread goes on
        release.signal()
        #expect(try task.value() == 42)
        #expect(try task.value() == 42)
        let failing = BackgroundTask { () throws(SpladeError) -> Int in throw SpladeError(.badInput, "broken", location: "x:3") }
        #expect(throws: SpladeError.self) { try failing.value() }
    }
}
