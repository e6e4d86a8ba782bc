#if CUDA
import CSpladeCUDA

/// A CUDA GPU through libsplade_cuda (`make cuda`, package trait CUDA), or the host emulation of its
/// C API (`make cuda-host`), which reports one device.
public enum CUDADevice {
    /// GPUs this process sees: 0 without a driver or a GPU (never a crash).
    public static var count: Int { Int(splade_cuda_device_count()) }
    public static var isAvailable: Bool { count > 0 }

    /// Selects `device` and loads cuBLAS; the first call does the work. Throws `.unavailable` (exit 69)
    /// when there is no GPU, no usable driver or no cuBLAS.
    public static func initialize(device: Int = 0) throws(SpladeError) {
        try check(splade_cuda_init(Int32(device)), "initialising CUDA device \(device)")
    }

    public struct Info: Sendable {
        public var name: String, computeCapability: Int, memoryBytes: Int, runtimeVersion: Int, driverVersion: Int
    }

    public static func info(device: Int = 0) throws(SpladeError) -> Info {
        var name = [CChar](repeating: 0, count: 256)
        var capability: Int32 = 0
        var memory = 0
        try check(splade_cuda_device_info(Int32(device), &name, name.count, &capability, &memory), "device info")
        let bytes = name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return Info(name: String(decoding: bytes, as: UTF8.self), computeCapability: Int(capability), memoryBytes: memory,
                    runtimeVersion: Int(splade_cuda_runtime_version()), driverVersion: Int(splade_cuda_driver_version()))
    }

    /// TF32 tensor cores in cuBLAS (off by default: float32 products match the CPU's to ~1e-6).
    public static func setTF32(_ enabled: Bool) throws(SpladeError) {
        try check(splade_cuda_set_tf32(enabled ? 1 : 0), "setting TF32")
    }

    public static func synchronize() throws(SpladeError) { try check(splade_cuda_synchronize(), "synchronising") }

    /// Maps a libsplade_cuda status to a SpladeError: what the machine lacks or cannot give now is unavailable (69);
    /// a refused argument or a faulting kernel is a bug (70).
    static func check(_ status: Int32, _ what: @autoclosure () -> String) throws(SpladeError) {
        guard status != Int32(SPLADE_CUDA_OK) else { return }
        let message = "\(what()): " + String(cString: splade_cuda_last_error())
        switch status {
        case Int32(SPLADE_CUDA_ERROR_NO_DEVICE), Int32(SPLADE_CUDA_ERROR_CUBLAS):
            throw SpladeError(.unavailable, message, hint: "--device cuda needs an NVIDIA GPU, its driver and cuBLAS (libcublas.so.13 or .12)")
        case Int32(SPLADE_CUDA_ERROR_OUT_OF_MEMORY):
            throw SpladeError(.unavailable, message, hint: "the GPU's memory is full: lower the batch size or the maximum length, "
                              + "or free the GPU (nvidia-smi lists what holds its memory)")
        case Int32(SPLADE_CUDA_ERROR_ARGUMENT), Int32(SPLADE_CUDA_ERROR_KERNEL): throw SpladeError(.internalError, message)
        default: throw SpladeError(.unavailable, message)
        }
    }
}

/// `count` elements of device memory, freed with the buffer.
public final class DeviceBuffer<Element> {
    public private(set) var pointer: UnsafeMutablePointer<Element>
    public let count: Int

    public init(count: Int) throws(SpladeError) {
        var raw: UnsafeMutableRawPointer?
        try CUDADevice.check(splade_cuda_malloc(&raw, max(1, count) * MemoryLayout<Element>.stride),
                             "allocating \(count) elements on the GPU")
        pointer = raw!.bindMemory(to: Element.self, capacity: max(1, count))
        self.count = count
    }

    public convenience init(_ values: [Element]) throws(SpladeError) {
        try self.init(count: values.count)
        try upload(values)
    }

    deinit { _ = splade_cuda_free(pointer) }

    public func upload(_ values: [Element], at offset: Int = 0) throws(SpladeError) {
        precondition(offset + values.count <= count)
        try Self.upload(values, to: pointer + offset)
    }

    public func download(count n: Int? = nil, at offset: Int = 0) throws(SpladeError) -> [Element] {
        let n = n ?? count - offset
        precondition(offset + n <= count)
        return try Self.download(pointer + offset, count: n)
    }

    /// `values` copied to device memory at `destination`.
    public static func upload(_ values: [Element], to destination: UnsafeMutablePointer<Element>) throws(SpladeError) {
        let status = values.withUnsafeBytes { bytes in splade_cuda_copy_to_device(destination, bytes.baseAddress, bytes.count) }
        try CUDADevice.check(status, "copying to the GPU")
    }

    /// `count` elements of device memory at `source`, copied to the host.
    public static func download(_ source: UnsafePointer<Element>, count: Int) throws(SpladeError) -> [Element] {
        var status: Int32 = 0
        let result = [Element](unsafeUninitializedCapacity: count) { buffer, initialized in
            status = splade_cuda_copy_to_host(buffer.baseAddress, source, count * MemoryLayout<Element>.stride)
            initialized = count
        }
        try CUDADevice.check(status, "copying from the GPU")
        return result
    }

    public func zero() throws(SpladeError) {
        try CUDADevice.check(splade_cuda_zero(pointer, max(1, count) * MemoryLayout<Element>.stride), "zeroing")
    }
}
#endif
