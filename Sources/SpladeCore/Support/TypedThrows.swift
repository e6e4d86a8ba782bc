extension String {
    /// `withUTF8` for a body that throws `SpladeError` (the standard one rethrows untyped errors).
    mutating func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws(SpladeError) -> R) throws(SpladeError) -> R {
        var result: Result<R, SpladeError>?
        withUTF8 { bytes in result = Result { () throws(SpladeError) in try body(bytes) } }
        return try result!.get()
    }
}

extension Array where Element == UInt8 {
    /// `withUnsafeMutableBytes` for a body that throws `SpladeError`.
    mutating func withMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws(SpladeError) -> R) throws(SpladeError) -> R {
        var result: Result<R, SpladeError>?
        withUnsafeMutableBytes { bytes in result = Result { () throws(SpladeError) in try body(bytes) } }
        return try result!.get()
    }
}
