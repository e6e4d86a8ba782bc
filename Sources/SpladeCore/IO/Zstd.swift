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
                if n == 0 { sourceEnded = true }
            }
            if inputStart == inputEnd && sourceEnded {
                guard atFrameBoundary else {
                    throw SpladeError(.badInput, "truncated zstd stream", location: name)
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
                throw SpladeError(.badInput, "corrupt zstd stream: \(String(cString: ZSTD_getErrorName(result)))",
                                  location: name)
            }
            atFrameBoundary = result == 0
            if produced > 0 { return produced }
        }
    }
}
