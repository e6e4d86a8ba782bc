import Dispatch
import Foundation
import Synchronization
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

    /// Threads take chunks as they go, but a worker's state (a MeCab tagger) is still used by one thread at a time,
    /// and every input is transformed once, by some worker.
    @Test func orderedParallelMapGivesEachWorkerToOneThreadAtATime() {
        final class Worker: Sendable {
            let busy = Atomic<Int>(0)
            let overlaps = Atomic<Int>(0)
            let transformed = Atomic<Int>(0)
        }
        let workers = (0..<4).map { _ in Worker() }
        let inputs = Array(0..<2000)
        for _ in 0..<5 {  // a race shows only sometimes
            let outputs = orderedParallelMap(inputs, workers: workers) { worker, x in
                if worker.busy.add(1, ordering: .sequentiallyConsistent).newValue != 1 { worker.overlaps.add(1, ordering: .relaxed) }
                // Uneven costs, as a long paragraph among questions: while one thread waits here, the others go
                // through many chunks, and would meet this worker if workers went with chunks rather than threads.
                if x % 97 == 0 { usleep(2000) }
                worker.transformed.add(1, ordering: .relaxed)
                worker.busy.subtract(1, ordering: .sequentiallyConsistent)
                return x * 2
            }
            #expect(outputs == inputs.map { $0 * 2 })
        }
        #expect(workers.map { $0.overlaps.load(ordering: .relaxed) } == [0, 0, 0, 0])
        #expect(workers.map { $0.transformed.load(ordering: .relaxed) }.reduce(0, +) == 5 * inputs.count)
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
