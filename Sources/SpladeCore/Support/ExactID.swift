#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A query or document id compared byte for byte, as trec_eval compares ids (strcmp) and Python dicts compare
/// strings. Swift's `String` equality holds canonically equivalent texts equal ("é" as one code point or as
/// e + U+0301), which would join ids those tools keep apart.
public struct ExactID: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let text: String

    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }

    public var description: String { text }

    public static func == (a: ExactID, b: ExactID) -> Bool {
        let (x, y) = (a.text.utf8, b.text.utf8)
        guard x.count == y.count else { return false }
        return x.withContiguousStorageIfAvailable { p in
            y.withContiguousStorageIfAvailable { q in p.isEmpty || memcmp(p.baseAddress!, q.baseAddress!, p.count) == 0 }
        }.flatMap { $0 } ?? x.elementsEqual(y)
    }

    public func hash(into hasher: inout Hasher) {
        let bytes = text.utf8
        if bytes.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            Array(bytes).withUnsafeBytes { hasher.combine(bytes: $0) }  // a bridged string: no contiguous UTF-8
        }
    }
}
