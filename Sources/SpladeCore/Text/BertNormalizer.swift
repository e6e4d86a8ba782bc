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

    func normalize(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if cleanText {
                if s.value == 0 || s.value == 0xFFFD || UnicodeClasses.isBertControl(s) { continue }
                if UnicodeClasses.isBertWhitespace(s) { scalars.append(" "); continue }
            }
            if handleChineseChars && UnicodeClasses.isCJKIdeograph(s.value) {
                scalars.append(" ")
                scalars.append(s)
                scalars.append(" ")
            } else {
                scalars.append(s)
            }
        }
        var result = String(scalars)
        if stripAccents ?? lowercase {
            var stripped = String.UnicodeScalarView()
            for s in result.decomposedStringWithCanonicalMapping.unicodeScalars
            where s.properties.generalCategory != .nonspacingMark {
                stripped.append(s)
            }
            result = String(stripped)
        }
        if lowercase {
            var lowered = ""
            lowered.reserveCapacity(result.utf8.count)
            for s in result.unicodeScalars { lowered += s.properties.lowercaseMapping }
            result = lowered
        }
        return result
    }
}

/// The BERT pre-tokeniser: split on whitespace, and make every punctuation character a word of
/// its own.
enum BertPreTokenizer {
    static func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        var wordStart = 0
        var i = 0
        while i < text.count {
            let (value, length) = decodeScalar(text, at: i)
            let scalar = Unicode.Scalar(value)!
            if UnicodeClasses.isBertWhitespace(scalar) {
                if wordStart < i { body(UnsafeBufferPointer(rebasing: text[wordStart..<i])) }
                wordStart = i + length
            } else if UnicodeClasses.isBertPunctuation(scalar) {
                if wordStart < i { body(UnsafeBufferPointer(rebasing: text[wordStart..<i])) }
                body(UnsafeBufferPointer(rebasing: text[i..<(i + length)]))
                wordStart = i + length
            }
            i += length
        }
        if wordStart < text.count { body(UnsafeBufferPointer(rebasing: text[wordStart..<text.count])) }
    }
}
