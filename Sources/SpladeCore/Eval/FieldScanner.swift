#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level helpers for the whitespace-separated TREC formats: no Foundation and no per-field
/// String except for the ids that are kept.
enum FieldScanner {
    /// A field separator: what C's isspace() is in trec_eval's parser (space, tab, vertical tab, form feed, carriage
    /// return; lines are already split at newlines).
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || (0x09...0x0D).contains(byte) }

    /// The ranges of the fields of `bytes`, separated by runs of blanks (as trec_eval reads).
    static func split(_ bytes: [UInt8], into fields: inout [Range<Int>]) {
        fields.removeAll(keepingCapacity: true)
        bytes.withUnsafeBufferPointer { bytes in
            var i = 0
            let n = bytes.count
            while i < n {
                while i < n && isBlank(bytes[i]) { i += 1 }
                guard i < n else { break }
                let start = i
                while i < n && !isBlank(bytes[i]) { i += 1 }
                fields.append(start..<i)
            }
        }
    }

    /// A comment, which trec_eval skips in runs and qrels: the line's first field starts with `#`.
    static func isComment(_ bytes: [UInt8], fields: [Range<Int>]) -> Bool {
        bytes[fields[0].lowerBound] == UInt8(ascii: "#")
    }

    /// A JSON object: `{`, then (after blanks) `"` or `}`. A TREC query id may start with `{` too (`{q1} Q0 …`).
    static func isJSONObject(_ bytes: [UInt8]) -> Bool {
        var i = 0
        func skipBlanks() { while i < bytes.count && isBlank(bytes[i]) { i += 1 } }
        skipBlanks()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return false }
        i += 1
        skipBlanks()
        return i < bytes.count && (bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "}"))
    }

    /// The field as a String, or nil when it is not valid UTF-8.
    static func string(_ field: ArraySlice<UInt8>) -> String? {
        field.withUnsafeBufferPointer { field in
            // Ids are nearly always ASCII, which is valid UTF-8 as it is: skip the general validator.
            if field.allSatisfy({ $0 < 0x80 }) { return String(decoding: field, as: UTF8.self) }
            return String(validating: field, as: UTF8.self)
        }
    }

    /// A decimal integer with an optional sign.
    static func integer(_ bytes: [UInt8], _ range: Range<Int>) -> Int? {
        var i = range.lowerBound
        var negative = false
        if i < range.upperBound && (bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+")) {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < range.upperBound else { return nil }
        var value = 0
        while i < range.upperBound {
            let digit = Int(bytes[i]) - 0x30
            guard digit >= 0 && digit <= 9 else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(digit)
            guard !overflow1 && !overflow2 else { return nil }
            value = sum
            i += 1
        }
        return negative ? -value : value
    }

    /// A finite floating-point number as C's strtod reads it (the way trec_eval reads scores).
    static func finiteDouble(_ bytes: [UInt8], _ range: Range<Int>) -> Double? {
        let count = range.count
        guard count > 0 && count < 512 else { return nil }
        return withUnsafeTemporaryAllocation(of: CChar.self, capacity: count + 1) { text -> Double? in
            for (offset, byte) in bytes[range].enumerated() { text[offset] = CChar(bitPattern: byte) }
            text[count] = 0
            var end: UnsafeMutablePointer<CChar>?
            let value = strtod(text.baseAddress!, &end)
            guard end == text.baseAddress! + count, value.isFinite else { return nil }
            return value
        }
    }
}
