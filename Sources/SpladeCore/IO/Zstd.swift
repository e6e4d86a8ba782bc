import CZstd

/// Streaming zstd decompression of any byte source (concatenated frames included).
public final class ZstdDecompressingSource: ByteSource {
    private let compressed: ByteSource
    private let name: String
    private let stream: OpaquePointer
    private var input: [UInt8]
    private var inputStart = 0
    private var inputEnd = 0
    private var sourceEnded = false
    /// Whether the last decompressed frame ended cleanly (zstd returned 0).
    private var atFrameBoundary = true
    /// Compressed bytes read so far, for locating a cut or corruption.
    private var compressedBytes = 0

    static let magic: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD]

    static func hasMagic(_ head: [UInt8]) -> Bool { head.count >= 4 && Array(head.prefix(4)) == magic }

    init(compressed: ByteSource, name: String) throws(SpladeError) {
        guard let stream = ZSTD_createDStream() else {
            throw SpladeError(.internalError, "cannot allocate a zstd decompressor", location: name)
        }
        ZSTD_initDStream(stream)
        self.compressed = compressed
        self.name = name
        self.stream = stream
        self.input = [UInt8](repeating: 0, count: ZSTD_DStreamInSize())
    }

    deinit { ZSTD_freeDStream(stream) }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(SpladeError) -> Int {
        while true {
            if inputStart == inputEnd && !sourceEnded {
                let n = try input.withMutableBytes { b throws(SpladeError) in try compressed.read(into: b) }
                inputStart = 0
                inputEnd = n
                compressedBytes += n
                if n == 0 { sourceEnded = true }
            }
            if inputStart == inputEnd && sourceEnded {
                guard atFrameBoundary else {
                    throw SpladeError(.badInput, "truncated zstd stream: it ends inside a frame, after \(compressedBytes) bytes",
                                      location: name)
                }
                return 0
            }
            let (produced, result) = input.withUnsafeMutableBytes { inBytes in
                var inBuffer = ZSTD_inBuffer(src: inBytes.baseAddress! + inputStart, size: inputEnd - inputStart, pos: 0)
                var outBuffer = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
                let result = ZSTD_decompressStream(stream, &outBuffer, &inBuffer)
                inputStart += inBuffer.pos
                return (outBuffer.pos, result)
            }
            if ZSTD_isError(result) != 0 {
                throw SpladeError(.badInput, "corrupt zstd stream (in its first \(compressedBytes - (inputEnd - inputStart)) bytes): "
                                  + String(cString: ZSTD_getErrorName(result)), location: name)
            }
            atFrameBoundary = result == 0
            if produced > 0 { return produced }
        }
    }
}

/// Streaming zstd compression into memory, a chunk at a time, for writing through any sink.
public final class ZstdCompressor {
    private let stream: OpaquePointer
    private var output: [UInt8]

    /// Frames carry zstd's content checksum (XXH64), which every reader verifies: without it a flipped bit
    /// in a compressed stream can decode to other, still well-formed weights.
    public init(level: Int32 = 3) {
        stream = ZSTD_createCStream()!
        ZSTD_CCtx_setParameter(stream, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(stream, ZSTD_c_checksumFlag, 1)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCStream(stream) }

    /// Compresses `bytes`; returns what zstd has ready to write (often nothing until its block fills).
    public func compress(_ bytes: [UInt8]) -> [UInt8] { run(bytes, directive: ZSTD_e_continue) }

    /// Ends the frame; returns the remaining compressed bytes.
    public func finish() -> [UInt8] { run([], directive: ZSTD_e_end) }

    private func run(_ bytes: [UInt8], directive: ZSTD_EndDirective) -> [UInt8] {
        var produced: [UInt8] = []
        bytes.withUnsafeBytes { input in
            var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
            while true {
                let (written, remaining) = output.withUnsafeMutableBytes { out in
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let remaining = ZSTD_compressStream2(stream, &outBuffer, &inBuffer, directive)
                    precondition(ZSTD_isError(remaining) == 0, "zstd compression failed: \(String(cString: ZSTD_getErrorName(remaining)))")
                    return (outBuffer.pos, remaining)
                }
                produced.append(contentsOf: output[0..<written])
                let done = directive == ZSTD_e_end ? remaining == 0 : inBuffer.pos == inBuffer.size
                if done { return }
            }
        }
        return produced
    }
}
