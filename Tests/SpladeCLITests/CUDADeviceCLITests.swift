import Foundation
import SpladeCore
import Testing

/// --device on splade-encode, splade-search and splade-train. In a build without the trait CUDA,
/// `cuda` must exit 69 (unavailable) before reading input and `auto` must be the CPU; in a CUDA build
/// (a GPU, or `make test-cuda-host`'s emulation), `cuda` must give what the CPU gives.
@Suite(.enabled(if: Tools.fixturesAvailable, "needs ../shared/fixtures"), .serialized)
struct CUDADeviceCLITests {
    let model = Tools.fixtures + "/ja-tiny/model"
    var texts: String { Tools.fixtures + "/ja-tiny/encode.jsonl" }

    /// JSON Lines vectors as dictionaries, in order.
    func vectors(_ run: ToolRun) -> [[String: Double]] {
        run.stdoutLines.map { line in
            let object = try! JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return object["vector"] as! [String: Double]
        }
    }

    /// As many vectors as `want`, each within `tolerance` of its own (largest difference over max(1, largest weight)).
    func expectClose(_ got: [[String: Double]], _ want: [[String: Double]], tolerance: Double, _ label: String) {
        #expect(got.count == want.count, "\(label): \(got.count) vectors")
        for (i, (g, w)) in zip(got, want).enumerated() {
            let scale = max(1, w.values.max() ?? 0)
            let error = Set(g.keys).union(w.keys).map { abs((g[$0] ?? 0) - (w[$0] ?? 0)) }.max() ?? 0
            #expect(error / scale < tolerance, "text \(i), \(label): \(error)")
        }
    }

    func scratch() throws -> String {
        let dir = NSTemporaryDirectory() + "splade-device-\(UUID())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func unknownDevicesAreUsageErrors() throws {
        for device in ["gpu", "cuda:", "cuda:-1", "CPU"] {
            let run = try Tools.run("splade-encode", ["--model", model, "--device", device, "-i", texts])
            #expect(run.status == 64 && run.stdout.isEmpty, "--device \(device): \(run.status) \(run.stderr)")
        }
    }

    @Test func precisionIsForGPUs() throws {
        let cpu = try Tools.run("splade-encode", ["--model", model, "--precision", "tf32", "-i", texts])
        #expect(cpu.status == 64 && cpu.stderr.contains("--precision tf32 applies to GPUs only"), "\(cpu.stderr)")
        let auto = try Tools.run("splade-encode", ["--model", model, "--device", "auto", "--precision", "bf16", "--keys", "ids", "-i", texts])
        #expect(auto.status == 0, "\(auto.stderr)")
        if !ComputeDevice.cudaBuilt {
            #expect(auto.stderr.contains("the CPU computes in fp32"), "\(auto.stderr)")
        }
        let train = "cd '\(Tools.fixtures)/ja-tiny' && splade-train --config train/steps-config.yaml --output-dir /dev/null/run"
        let training = try Tools.shell(train + " --device cpu --precision bf16")
        #expect(training.status == 64 && training.stderr.contains("--precision bf16 applies to GPUs only"), "\(training.stderr)")
        // The configuration's bf16: true is the default --precision on a GPU; the CPU says it trains in fp32, naming where
        // it was set (and then fails on the output directory: nothing to train here).
        let configured = try Tools.shell(train + " --device cpu --bf16 true")
        #expect(configured.status != 0 && configured.stderr.contains("--bf16 true: bf16: true applies to GPUs only"),
                "\(configured.stderr)")
        let unknown = try Tools.run("splade-encode", ["--model", model, "--precision", "fp16", "-i", texts])
        #expect(unknown.status == 64)
    }

    @Test func encodeOnEachDevice() throws {
        let cpu = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "-i", texts])
        #expect(cpu.status == 0, "\(cpu.stderr)")
        let auto = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "--device", "auto", "-i", texts])
        let cuda = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "--device", "cuda", "-i", texts])
        if !ComputeDevice.cudaBuilt {
            #expect(auto.status == 0 && auto.stdout == cpu.stdout, "auto without CUDA is the CPU: \(auto.stderr)")
            #expect(cuda.status == 69 && cuda.stdout.isEmpty, "\(cuda.stderr)")
            #expect(cuda.stderr.contains("no CUDA support") && cuda.stderr.contains("make build-cuda"), "\(cuda.stderr)")
            let other = try Tools.run("splade-encode", ["--model", model, "--device", "cuda:3", "-i", texts])
            #expect(other.status == 69)
            return
        }
        #expect(cuda.status == 0 && cuda.stderr.contains("running on CUDA GPU 0"), "\(cuda.stderr)")
        let want = vectors(cpu)
        expectClose(vectors(cuda), want, tolerance: 1e-4, "fp32")
        // bfloat16 products: within bf16's rounding of the float32 vectors. --timings splits the GPU's time (the 55
        // texts are one window).
        let half = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "--device", "cuda", "--precision", "bf16",
                                                   "--timings", "-i", texts])
        #expect(half.status == 0, "\(half.stderr)")
        expectClose(vectors(half), want, tolerance: 5e-2, "bf16")
        #expect(half.stderr.contains(/model on the GPU [0-9.]+ s \(the host waiting for it [0-9.]+ s of them; the first window, 55 docs with the GPU's set-up, [0-9.]+ s\)/),
                "\(half.stderr)")
        // Windows of 16 lines (--batch-size 1), each read and tokenized while the GPU encodes the one before:
        // the same vectors in input order, and a bad line in the second window named by its number.
        var lines = try String(contentsOfFile: texts, encoding: .utf8).split(separator: "\n").map(String.init)
        lines.insert("{\"id\":\"bad\"}", at: 20)
        let input = lines.joined(separator: "\n") + "\n"
        let windowed = try Tools.run("splade-encode", ["--model", model, "--keys", "ids", "--device", "cuda", "--batch-size", "1",
                                                       "--skip-invalid"], stdin: input)
        #expect(windowed.status == 0 && windowed.stderr.contains("<stdin>:21: missing field \"text\""), "\(windowed.stderr)")
        let ids = { (run: ToolRun) in
            run.stdoutLines.map { "\((try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any])["id"]!)" }
        }
        #expect(ids(windowed) == ids(cpu))
        expectClose(vectors(windowed), want, tolerance: 1e-4, "windowed")
        let stopped = try Tools.run("splade-encode", ["--model", model, "--device", "cuda", "--batch-size", "1"], stdin: input)
        #expect(stopped.status == 65 && stopped.stderr.contains("<stdin>:21:"), "\(stopped.stderr)")
        let missing = try Tools.run("splade-encode", ["--model", model, "--device", "cuda:99", "-i", texts])
        #expect(missing.status == 69 && missing.stderr.contains("no CUDA GPU 99"), "\(missing.stderr)")
    }

    @Test func searchEncodesQueriesOnTheDevice() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let built = try Tools.shell("head -40 '\(texts)' | splade-encode --model '\(model)' | splade-index --model '\(model)' -o '\(directory)/idx' --quiet")
        #expect(built.status == 0, "\(built.stderr)")
        let queries = try Tools.shell("sed -n '3p;17p;31p' '\(texts)'").stdoutText
        let cpu = try Tools.run("splade-search", ["--index", directory + "/idx", "--model", model, "-k", "3"], stdin: queries)
        #expect(cpu.status == 0 && cpu.stdoutLines.count == 9, "\(cpu.stderr)")
        let cuda = try Tools.run("splade-search", ["--index", directory + "/idx", "--model", model, "-k", "3", "--device", "cuda"],
                                 stdin: queries)
        if ComputeDevice.cudaBuilt {
            let top = { (run: ToolRun) in run.stdoutLines.filter { $0.split(separator: " ")[3] == "1" }.map { $0.split(separator: " ")[2] } }
            #expect(cuda.status == 0 && top(cuda) == top(cpu), "\(cuda.stderr)")
        } else {
            #expect(cuda.status == 69 && cuda.stdout.isEmpty && cuda.stderr.contains("no CUDA support"), "\(cuda.stderr)")
        }
    }

    @Test func trainOnTheDevice() throws {
        let out = try scratch()
        defer { try? FileManager.default.removeItem(atPath: out) }
        let run = try Tools.shell("cd '\(Tools.fixtures)/ja-tiny' && splade-train --config train/steps-config.yaml --threads 2 --device cuda --output-dir '\(out)/run'")
        guard ComputeDevice.cudaBuilt else {
            #expect(run.status == 69 && run.stderr.contains("no CUDA support"), "\(run.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out + "/run"), "nothing is written before the device check")
            return
        }
        #expect(run.status == 0, "\(run.stderr)")
        try TrainCLITests.expectTheReferenceRun(in: out + "/run", fixture: Tools.fixtures + "/ja-tiny")
        // bf16: true in the configuration: bfloat16 products, the reference's losses to bfloat16's rounding.
        let half = try Tools.shell("cd '\(Tools.fixtures)/ja-tiny' && splade-train --config train/steps-config.yaml --threads 2 "
                                   + "--device cuda --bf16 true --output-dir '\(out)/bf16'")
        #expect(half.status == 0, "\(half.stderr)")
        let reference = URL(fileURLWithPath: Tools.fixtures + "/ja-tiny/train/steps-expected.json")
        let expected = try JSONSerialization.jsonObject(with: Data(contentsOf: reference)) as! [String: Any]
        let log = try String(contentsOfFile: out + "/bf16/training_log.jsonl", encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        let steps = expected["steps"] as! [[String: Any]]
        #expect(log.count == steps.count)
        // Steps 0 and 1 are at the initial weights (a warmup step at learning rate 0): bfloat16's rounding of the
        // forward pass, measured 1.3e-3. Step 2 follows the first AdamW update, which moves every parameter by about
        // ±lr whatever its gradient's size, so that rounding which flips the sign of near-zero gradient components
        // moves the next loss by percents: rounding only the QKV bias to bfloat16 took it from 5e-3 to 2e-2, and it
        // measures 3.2e-2. (The gradients themselves: CUDAPathTests.bfloat16TrainingStepIsCloseToTheCPU.)
        for (got, want) in zip(log, steps) {
            let g = got["loss"] as! Double, w = want["loss"] as! Double, step = want["step"] as! Int
            #expect(abs(g - w) <= (step < 2 ? 1e-2 : 5e-2) * abs(w) && g != w, "step \(step) loss: \(g) vs \(w)")
        }
    }
}
