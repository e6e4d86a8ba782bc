import Foundation

/// The BERT normaliser of Hugging Face `tokenizers` (`BertNormalizer`), step by step in its order:
/// delete NUL, U+FFFD and control characters and turn whitespace into spaces; surround CJK
/// ideographs with spaces; strip accents (NFD, then drop nonspacing marks); lower-case each
/// character on its own (no context rules).
public struct BertNormalizer: Sendable {
    public var cleanText = true
    public var handleChineseChars = true
    /// nil: strip accents exactly when lower-casing, as the reference does.
    public var stripAccents: Bool? = nil
    public var lowercase = true

    public init(cleanText: Bool = true, handleChineseChars: Bool = true, stripAccents: Bool? = nil, lowercase: Bool = true) {
        self.cleanText = cleanText
        self.handleChineseChars = handleChineseChars
        self.stripAccents = stripAccents
        self.lowercase = lowercase
    }

    /// All four steps in one pass over the characters, each classified by the reference's own
    /// tables (`BertClasses`), not Swift's newer ones.
    func normalize(_ text: String) -> String {
        var text = text
        let strip = stripAccents ?? lowercase
        return BertClasses.flags.withUnsafeBufferPointer { flags in
            text.withUTF8 { bytes in
                var output = NormalizerOutput(flags: flags, lowercase: lowercase)
                output.bytes.reserveCapacity(bytes.count + 16)
                var i = 0
                while i < bytes.count {
                    let (v, length) = decodeScalar(bytes, at: i)
                    i += length
                    let f = flags[Int(v)]
                    if cleanText {
                        if f & BertClasses.control != 0 { continue }
                        if f & BertClasses.whitespace != 0 { output.appendStarter(0x20, 0); continue }
                    }
                    let spaced = handleChineseChars && f & BertClasses.cjk != 0
                    if spaced { output.appendStarter(0x20, 0) }
                    if !strip {
                        output.appendStarter(v, f)
                    } else if f & BertClasses.decomposing != 0 {
                        BertClasses.forEachScalarOfDecomposition(of: v) { output.appendDecomposed($0, flags[Int($0)]) }
                    } else {
                        output.appendDecomposed(v, f)
                    }
                    if spaced { output.appendStarter(0x20, 0) }
                }
                output.flushNonStarters()
                return String(decoding: output.bytes, as: UTF8.self)
            }
        }
    }
}

/// The normaliser's UTF-8 output. With accents stripped, the non-starters that survive wait in
/// `nonStarters` until the next starter, for NFD's canonical reordering.
private struct NormalizerOutput {
    let flags: UnsafeBufferPointer<UInt8>
    let lowercase: Bool
    var bytes: [UInt8] = []
    var nonStarters: [(value: UInt32, rank: UInt8)] = []

    init(flags: UnsafeBufferPointer<UInt8>, lowercase: Bool) {
        self.flags = flags
        self.lowercase = lowercase
    }

    /// Appends a fully decomposed scalar: drops nonspacing marks, holds back non-starters.
    @inline(__always)
    mutating func appendDecomposed(_ v: UInt32, _ f: UInt8) {
        if f & (BertClasses.nonspacingMark | BertClasses.nonStarter) == 0 {
            appendStarter(v, f)
        } else if f & BertClasses.nonspacingMark != 0 {
            if f & BertClasses.nonStarter == 0 { flushNonStarters() }
        } else {
            let rank = BertClasses.combiningRank(of: v)
            var i = nonStarters.count
            while i > 0 && nonStarters[i - 1].rank > rank { i -= 1 }
            nonStarters.insert((v, rank), at: i)
        }
    }

    @inline(__always)
    mutating func appendStarter(_ v: UInt32, _ f: UInt8) {
        if !nonStarters.isEmpty { flushNonStarters() }
        append(v, f)
    }

    mutating func flushNonStarters() {
        for (v, _) in nonStarters { append(v, flags[Int(v)]) }
        nonStarters.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    private mutating func append(_ v: UInt32, _ f: UInt8) {
        if lowercase && f & BertClasses.lowercase != 0 {
            BertClasses.appendLowercase(of: v, to: &bytes)
        } else {
            appendUTF8(v, to: &bytes)
        }
    }
}

/// The BERT pre-tokeniser: split on whitespace, and make every punctuation character a word of
/// its own.
enum BertPreTokenizer {
    static func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        BertClasses.flags.withUnsafeBufferPointer { flags in forEachWord(text, flags, body) }
    }

    private static func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ flags: UnsafeBufferPointer<UInt8>,
                                    _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var wordStart = 0
        var i = 0
        while i < text.count {
            let (value, length) = decodeScalar(text, at: i)
            let f = flags[Int(value)]
            if f & BertClasses.whitespace != 0 {
                if wordStart < i { body(UnsafeBufferPointer(rebasing: text[wordStart..<i])) }
                wordStart = i + length
            } else if f & BertClasses.punctuation != 0 {
                if wordStart < i { body(UnsafeBufferPointer(rebasing: text[wordStart..<i])) }
                body(UnsafeBufferPointer(rebasing: text[i..<(i + length)]))
                wordStart = i + length
            }
            i += length
        }
        if wordStart < text.count { body(UnsafeBufferPointer(rebasing: text[wordStart..<text.count])) }
    }
}
