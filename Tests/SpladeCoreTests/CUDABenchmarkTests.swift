#if CUDA
import Foundation
import Testing
@testable import SpladeCore

/// The CUDA side of bench/cuda/run (a benchmark, not a check): runs only when SPLADE_CUDA_BENCH_MODEL
/// names a model directory and a GPU is present. Encodes random token sequences at each length in
/// SPLADE_CUDA_BENCH_LENGTHS (default 128,256,512), batch SPLADE_CUDA_BENCH_BATCH (default 32), for
/// SPLADE_CUDA_BENCH_DOCS documents (default 1024), float32 and TF32, and appends one JSON line per
/// run to SPLADE_CUDA_BENCH_OUT (default stdout).
@Suite(.enabled(if: CUDADevice.isAvailable && ProcessInfo.processInfo.environment["SPLADE_CUDA_BENCH_MODEL"] != nil,
                "benchmark: set SPLADE_CUDA_BENCH_MODEL on a machine with a CUDA GPU (bench/cuda/run)"))
struct CUDABenchmarkTests {
    @Test func encodeThroughput() throws {
        let environment = ProcessInfo.processInfo.environment
        let directory = environment["SPLADE_CUDA_BENCH_MODEL"]!
        let lengths = (environment["SPLADE_CUDA_BENCH_LENGTHS"] ?? "128,256,512").split(separator: ",").compactMap { Int($0) }
        let batch = Int(environment["SPLADE_CUDA_BENCH_BATCH"] ?? "") ?? 32
        let docs = Int(environment["SPLADE_CUDA_BENCH_DOCS"] ?? "") ?? 1024
        let encoder = try CUDABertEncoder(directory: directory)
        let info = try CUDADevice.info()
        let v = encoder.config.vocabularySize
        var state: UInt64 = 42
        func token() -> Int32 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int32(1000 + Int(state >> 33) % (v - 1000))
        }
        var lines: [String] = []
        for tf32 in [false, true] {
            try CUDADevice.setTF32(tf32)
            for length in lengths {
                let sequences = (0..<docs).map { _ in [Int32(2)] + (0..<(length - 2)).map { _ in token() } + [3] }
                _ = try encoder.splade(Array(sequences.prefix(batch)))  // warm-up
                let started = DispatchTime.now().uptimeNanoseconds
                var active = 0
                for start in stride(from: 0, to: docs, by: batch) {
                    let vectors = try encoder.splade(Array(sequences[start..<min(docs, start + batch)]))
                    active += vectors.reduce(0) { $0 + $1.indices.count }
                }
                try CUDADevice.synchronize()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
                lines.append("""
                    {"side":"splade-cuda","precision":"\(tf32 ? "tf32" : "fp32")","length":\(length),"batch":\(batch),\
                    "docs":\(docs),"seconds":\(seconds),"docs_per_s":\(Double(docs) / seconds),\
                    "mean_active":\(Double(active) / Double(docs)),"device":"\(info.name)"}
                    """)
            }
        }
        try CUDADevice.setTF32(false)
        let text = lines.joined(separator: "\n") + "\n"
        if let path = environment["SPLADE_CUDA_BENCH_OUT"] {
            let handle = FileHandle(forWritingAtPath: path) ?? {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
                return FileHandle(forWritingAtPath: path)!
            }()
            handle.seekToEndOfFile()
            handle.write(text.data(using: .utf8)!)
            handle.closeFile()
        } else {
            print(text, terminator: "")
        }
    }
}
#endif
