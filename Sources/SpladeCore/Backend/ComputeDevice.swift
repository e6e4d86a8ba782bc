/// Where the model runs (`--device`): the CPU, a CUDA GPU, or a GPU when there is one.
///
/// GPUs need a build with the package trait CUDA (`make build-cuda`: `make cuda`, then `swift build --traits CUDA`);
/// without it `cuda` is an error (exit 69, unavailable) and `auto` is the CPU.
public enum ComputeDevice: Equatable, Sendable, CustomStringConvertible {
    case cpu
    /// GPU number `index` (CUDA's numbering; CUDA_VISIBLE_DEVICES applies).
    case cuda(index: Int)
    case auto

    /// "cpu", "cuda" (GPU 0), "cuda:N" or "auto".
    public init?(_ text: String) {
        switch text {
        case "cpu": self = .cpu
        case "auto": self = .auto
        case "cuda": self = .cuda(index: 0)
        default:
            guard text.hasPrefix("cuda:"), let index = Int(text.dropFirst(5)), index >= 0 else { return nil }
            self = .cuda(index: index)
        }
    }

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case .auto: "auto"
        case .cuda(let index): "cuda:\(index)"
        }
    }

    /// Whether this build links the CUDA kernels (the package trait CUDA).
    public static var cudaBuilt: Bool {
        #if CUDA
        true
        #else
        false
        #endif
    }

    /// `auto` made concrete: GPU 0 when the build has CUDA and the machine a usable GPU, else the CPU
    /// (`warn` hears why a GPU that is there cannot be used). `cuda` is checked and initialised here,
    /// so that a tool fails before reading any input.
    public func resolved(warn: (String) -> Void = { _ in }) throws(SpladeError) -> ComputeDevice {
        switch self {
        case .cpu: return .cpu
        case .auto:
            #if CUDA
            guard CUDADevice.isAvailable else { return .cpu }
            do {
                try CUDADevice.initialize(device: 0)
                return .cuda(index: 0)
            } catch {
                warn("\(error.message); using the CPU")
                return .cpu
            }
            #else
            return .cpu
            #endif
        case .cuda(let index):
            #if CUDA
            let count = CUDADevice.count
            guard index < count else {
                // With no GPU to count, initialising says why (no driver, a driver older than the runtime, …).
                if count == 0 { try CUDADevice.initialize(device: index) }
                throw SpladeError(.unavailable, "there is no CUDA GPU \(index) (this process sees \(count))",
                                  hint: "check nvidia-smi and CUDA_VISIBLE_DEVICES, or use --device cpu")
            }
            try CUDADevice.initialize(device: index)
            return self
            #else
            throw SpladeError(.unavailable, "this build of splade has no CUDA support",
                              hint: "build the tools with `make build-cuda` (they land in .build-cuda/release), or use --device cpu")
            #endif
        }
    }

    /// The SPLADE encoder of the model in `directory` on this device (`auto` resolved first); on a GPU,
    /// `precision` bf16 multiplies bfloat16 copies of the weights (the CPU computes in float32).
    public func makeEncoder(directory: String, threads: Int, precision: GPUPrecision = .fp32) throws(SpladeError) -> any SpladeEncoding {
        let device = try resolved()
        #if CUDA
        if case .cuda(let index) = device {
            return try CUDABertEncoder(directory: directory, device: index, bfloat16: precision == .bf16)
        }
        #endif
        precondition(device == .cpu)
        return try BertMaskedLM(directory: directory, threads: threads)
    }

    /// Makes `precision` this GPU's: tf32 lets cuBLAS use TF32 tensor cores for float32 products
    /// (process-wide); fp32 and bf16 keep exact float32 products (bf16 is chosen per encoder).
    public func use(_ precision: GPUPrecision) throws(SpladeError) {
        #if CUDA
        if case .cuda = self { try CUDADevice.setTF32(precision == .tf32) }
        #endif
    }

    /// A line for standard error naming the GPU in use (nil on the CPU).
    public func usageNote() -> String? {
        #if CUDA
        guard case .cuda(let index) = self, let info = try? CUDADevice.info(device: index) else { return nil }
        return "running on CUDA GPU \(index): \(info.name) (compute capability \(info.computeCapability / 10)."
            + "\(info.computeCapability % 10), \(info.memoryBytes >> 20) MiB)"
        #else
        return nil
        #endif
    }
}

/// How a GPU multiplies matrices (`--precision`).
public enum GPUPrecision: String, CaseIterable, Sendable {
    /// Float32 operands and sums.
    case fp32
    /// Float32 operands rounded to TF32 (10-bit mantissas) by the tensor cores, float32 sums: about 1e-3
    /// relative error per product (PyTorch's allow_tf32).
    case tf32
    /// Bfloat16 copies of the weights and products whose inputs are bfloat16, with float32 sums: about 1e-2
    /// relative error per product, as under torch.autocast. What only products read (QKV, attention, the
    /// feed-forward activations, the logits) stays bfloat16; the residual stream, LayerNorm and, in training,
    /// the master weights, gradients and optimizer state are float32.
    case bf16
}
