import Foundation

/// Character classes the reference tokenizers use, each defined as its reference defines it.
enum UnicodeClasses {
    /// Python's `str.isspace()` (what `str.split()` splits on): bidirectional class WS, B or S, or
    /// general category Zs. BertJapaneseTokenizer splits MeCab words on these.
    static func isPythonWhitespace(_ v: UInt32) -> Bool {
        switch v {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }

    /// Python's `str.lower()`: each character's full lower-case mapping (İ → i + U+0307), and Σ as final ς where it ends
    /// a word: after a cased character and not before one, case-ignorable characters skipped both ways (Swift's
    /// `lowercased()` has no such context, and gives σ).
    static func pythonLowercased(_ text: String) -> String {
        let scalars = Array(text.unicodeScalars)
        var lowered = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            if scalar.value == 0x03A3 {
                lowered.append(isFinalSigma(at: i, in: scalars) ? "\u{03C2}" : "\u{03C3}")
            } else {
                lowered.append(contentsOf: scalar.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(lowered)
    }

    /// Unicode's Final_Sigma context, as CPython tests it: `\p{cased} \p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`.
    private static func isFinalSigma(at i: Int, in scalars: [Unicode.Scalar]) -> Bool {
        let before = scalars[..<i].last { !$0.properties.isCaseIgnorable }
        guard let before, before.properties.isCased else { return false }
        let after = scalars[(i + 1)...].first { !$0.properties.isCaseIgnorable }
        return !(after?.properties.isCased ?? false)
    }
}

/// The character classes of the fast BERT tokenizer (Hugging Face `tokenizers`), from the tables
/// probed out of it (BertUnicodeTables.swift). Swift's own Unicode properties will not do: the
/// reference's tables are several Unicode versions older, so it keeps unassigned characters,
/// does not know newer marks, punctuation and decompositions, and so on.
enum BertClasses {
    static let control: UInt8 = 1
    static let whitespace: UInt8 = 2
    static let punctuation: UInt8 = 4
    static let cjk: UInt8 = 8
    /// NFD changes it: see `forEachScalarOfDecomposition`.
    static let decomposing: UInt8 = 16
    /// Dropped by strip_accents.
    static let nonspacingMark: UInt8 = 32
    /// Nonzero canonical combining class (NFD reorders it).
    static let nonStarter: UInt8 = 64
    /// Lowercasing changes it: see `appendLowercase`.
    static let lowercase: UInt8 = 128

    /// The classes of every code point, one byte each (1.1 MB, built once: one load per character).
    static let flags: [UInt8] = {
        var flags = [UInt8](repeating: 0, count: 0x110000)
        func mark(_ ranges: [ClosedRange<UInt32>], _ flag: UInt8) {
            for range in ranges { for v in range { flags[Int(v)] |= flag } }
        }
        mark(BertUnicodeTables.control, control)
        mark(BertUnicodeTables.whitespace, whitespace)
        mark(BertUnicodeTables.punctuation, punctuation)
        mark(BertUnicodeTables.cjk, cjk)
        mark(BertUnicodeTables.decomposing, decomposing)
        mark(BertUnicodeTables.nonspacingMarks, nonspacingMark)
        mark(BertUnicodeTables.nonStarters, nonStarter)
        for run in BertUnicodeTables.lowercase {
            for v in stride(from: run.first, through: run.last, by: Int(run.stride)) { flags[Int(v)] |= lowercase }
        }
        for v in BertUnicodeTables.lowercaseExceptions.keys { flags[Int(v)] |= lowercase }
        return flags
    }()

    /// The reference's canonical decomposition of each character flagged `decomposing` but the Hangul
    /// syllables: Swift's (decompositions never change once assigned) unless the tables say otherwise.
    private static let decompositions: [UInt32: [UInt32]] = {
        var table: [UInt32: [UInt32]] = [:]
        for range in BertUnicodeTables.decomposing {
            for v in range where !(0xAC00...0xD7A3).contains(v) {
                table[v] = BertUnicodeTables.decompositionExceptions[v]
                    ?? String(Unicode.Scalar(v)!).decomposedStringWithCanonicalMapping.unicodeScalars.map(\.value)
            }
        }
        return table
    }()

    /// Calls `body` with each scalar of the canonical decomposition of `v` (flagged `decomposing`).
    @inline(__always)
    static func forEachScalarOfDecomposition(of v: UInt32, _ body: (UInt32) -> Void) {
        if (0xAC00...0xD7A3).contains(v) {
            let index = v - 0xAC00
            body(0x1100 + index / 588)
            body(0x1161 + index % 588 / 28)
            if index % 28 != 0 { body(0x11A7 + index % 28) }
        } else {
            for scalar in decompositions[v]! { body(scalar) }
        }
    }

    /// The rank of the combining class of a non-starter strip_accents keeps (canonical reordering sorts by it).
    static func combiningRank(of v: UInt32) -> UInt8 {
        BertUnicodeTables.keptNonStarterRanks.first { $0.first <= v && v <= $0.last }?.rank ?? 0
    }

    /// Appends the UTF-8 of the lowercase of `v` (flagged `lowercase`).
    @inline(__always)
    static func appendLowercase(of v: UInt32, to bytes: inout [UInt8]) {
        if v < 0x80 { bytes.append(UInt8(v) | 0x20); return }
        let runs = BertUnicodeTables.lowercase
        var low = 0, high = runs.count
        while low < high {
            let mid = (low + high) / 2
            if runs[mid].first <= v { low = mid + 1 } else { high = mid }
        }
        if low > 0, v <= runs[low - 1].last, (v - runs[low - 1].first) % runs[low - 1].stride == 0 {
            appendUTF8(UInt32(Int32(bitPattern: v) + runs[low - 1].delta), to: &bytes)
        } else {
            for scalar in BertUnicodeTables.lowercaseExceptions[v] ?? [v] { appendUTF8(scalar, to: &bytes) }
        }
    }
}

/// Appends the UTF-8 encoding of scalar `v`.
@inline(__always)
func appendUTF8(_ v: UInt32, to bytes: inout [UInt8]) {
    if v < 0x80 {
        bytes.append(UInt8(v))
    } else if v < 0x800 {
        bytes.append(UInt8(0xC0 | v >> 6)); bytes.append(UInt8(0x80 | v & 0x3F))
    } else if v < 0x10000 {
        bytes.append(UInt8(0xE0 | v >> 12)); bytes.append(UInt8(0x80 | v >> 6 & 0x3F))
        bytes.append(UInt8(0x80 | v & 0x3F))
    } else {
        bytes.append(UInt8(0xF0 | v >> 18)); bytes.append(UInt8(0x80 | v >> 12 & 0x3F))
        bytes.append(UInt8(0x80 | v >> 6 & 0x3F)); bytes.append(UInt8(0x80 | v & 0x3F))
    }
}

extension UInt8 {
    /// True for the first byte of a UTF-8 encoded scalar (not a continuation byte).
    @inline(__always) var isUTF8ScalarStart: Bool { self & 0xC0 != 0x80 }
}

/// Decodes the scalar starting at `i` of valid UTF-8 `bytes`; returns it and its encoded length.
@inline(__always)
func decodeScalar(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, length: Int) {
    let b0 = UInt32(bytes[i])
    if b0 < 0x80 { return (b0, 1) }
    if b0 < 0xE0 { return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), 2) }
    if b0 < 0xF0 {
        return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), 3)
    }
    return ((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
            | UInt32(bytes[i + 3] & 0x3F), 4)
}
