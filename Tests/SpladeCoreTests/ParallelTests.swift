import Dispatch
import Testing
@testable import SpladeCore

/// The threading helpers: order kept, every element once, results and errors handed over.
@Suite struct ParallelTests {
    /// Every split of up to 40 items over up to 20 threads: sizes that do not divide evenly (6 items on 5 threads)
    /// once cut the last slices past the end.
    @Test func orderedParallelMapKeepsTheOrder() {
        for count in 0...40 {
            let inputs = Array(0..<count)
            for threads in 1...20 {
                let workers = Array(0..<threads)
                #expect(orderedParallelMap(inputs, workers: workers) { _, x in x * x } == inputs.map { $0 * $0 }, "\(count) on \(threads)")
            }
        }
        #expect(orderedParallelMap(Array(0..<1000), workers: Array(0..<7)) { _, x in x + 1 } == Array(1...1000))
    }

    @Test func parallelChunksCoverTheRangeOnce() {
        for (count, minimumChunk) in (0...40).flatMap({ count in [1, 3].map { (count, $0) } }) {
            for threads in 1...20 {
                let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(1, count))
                defer { counts.deallocate() }
                counts.initialize(repeating: 0)
                nonisolated(unsafe) let shared = counts
                parallelChunks(count, threads: threads, minimumChunk: minimumChunk) { range in
                    #expect(range.count >= min(minimumChunk, count))
                    for i in range { shared[i] += 1 }
                }
                #expect(counts.prefix(count).allSatisfy { $0 == 1 }, "\(count) on \(threads)")
            }
        }
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
