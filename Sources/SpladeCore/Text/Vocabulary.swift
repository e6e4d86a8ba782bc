import Foundation

/// A WordPiece vocabulary: token strings by id, and byte-keyed lookups for the hot WordPiece loop.
public final class Vocabulary: Sendable {
    /// Token strings indexed by id.
    public let tokens: [String]
    /// Every token, for a word's first piece (and for special tokens).
    let wholeTokens: ByteStringTable
    /// Tokens that start with `##`, keyed without the prefix, for the pieces after the first.
    let continuations: ByteStringTable
    /// The longest token in Unicode scalars (continuations counted without `##`): WordPiece never
    /// needs to try a longer candidate.
    let longestPieceScalars: Int

    public var count: Int { tokens.count }

    /// Builds a vocabulary from (token, id) pairs; when a token repeats, the later id wins (as a
    /// Python dict built from vocab.txt does).
    init(tokensById: [String]) {
        tokens = tokensById
        var whole = ByteStringTable(capacity: tokensById.count)
        var cont = ByteStringTable(capacity: tokensById.count)
        var longest = 1
        for (id, token) in tokensById.enumerated() {
            let utf8 = Array(token.utf8)
            whole.insert(utf8[...], id: Int32(id))
            if utf8.starts(with: [0x23, 0x23]) {
                cont.insert(utf8[2...], id: Int32(id))
                longest = max(longest, token.unicodeScalars.count - 2)
            } else {
                longest = max(longest, token.unicodeScalars.count)
            }
        }
        wholeTokens = whole
        continuations = cont
        longestPieceScalars = longest
    }

    /// The id of a token, if it is in the vocabulary.
    public func id(of token: String) -> Int32? {
        let utf8 = Array(token.utf8)
        return utf8.withUnsafeBufferPointer { wholeTokens.lookup($0) }
    }

    /// Reads `vocab.txt`: one token per line, the id is the line's index. Lines end the way
    /// Python's text mode reads them (`\n`, `\r\n` or `\r`).
    public static func load(vocabTxt path: String) throws(SpladeError) -> Vocabulary {
        let bytes = try InputFile.contents(path, what: "the vocabulary")
        guard UTF8Validation.isValid(bytes) else {
            throw SpladeError(.badInput, "the vocabulary is not valid UTF-8", location: path)
        }
        var tokens: [String] = []
        var lineStart = 0
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == 0x0A || b == 0x0D {
                tokens.append(String(decoding: bytes[lineStart..<i], as: UTF8.self))
                if b == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A { i += 1 }
                lineStart = i + 1
            }
            i += 1
        }
        if lineStart < bytes.count { tokens.append(String(decoding: bytes[lineStart...], as: UTF8.self)) }
        guard !tokens.isEmpty else { throw SpladeError(.badInput, "the vocabulary is empty", location: path) }
        return Vocabulary(tokensById: tokens)
    }

    /// Reads the `model.vocab` map of a `tokenizer.json` (a WordPiece model).
    static func load(tokenizerJSON json: JSONValue, path: String) throws(SpladeError) -> Vocabulary {
        guard case .object(let entries)? = json["model"]?["vocab"] else {
            throw SpladeError(.badInput, "no model.vocab object in tokenizer.json", location: path)
        }
        var byId: [Int: String] = [:]
        for (token, value) in entries {
            guard let id = value.doubleValue.flatMap({ Int(exactly: $0) }), id >= 0 else {
                throw SpladeError(.badInput, "vocabulary id of \"\(token)\" is not a non-negative integer", location: path)
            }
            if let other = byId.updateValue(token, forKey: id) {
                throw SpladeError(.badInput, "\"\(other)\" and \"\(token)\" have the same vocabulary id \(id)", location: path)
            }
        }
        let count = (byId.keys.max() ?? -1) + 1
        guard count == byId.count else {
            throw SpladeError(.badInput, "vocabulary ids are not contiguous (\(byId.count) tokens, largest id \(count - 1))",
                              location: path)
        }
        return Vocabulary(tokensById: (0..<count).map { byId[$0]! })
    }
}

/// An open-addressing hash table from UTF-8 byte strings to ids, with all keys in one buffer, so a
/// lookup of a slice of a word allocates nothing.
struct ByteStringTable: Sendable {
    private var keyBytes: [UInt8] = []
    /// Per slot: key offset, key length, id; length −1 marks an empty slot.
    private var slots: [(offset: Int32, length: Int32, id: Int32)]
    private let mask: Int

    init(capacity: Int) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = Array(repeating: (0, -1, 0), count: size)
        mask = size - 1
    }

    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        // FNV-1a, 64-bit.
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return Int(truncatingIfNeeded: h ^ (h >> 29))
    }

    mutating func insert(_ key: ArraySlice<UInt8>, id: Int32) {
        let h = key.withUnsafeBufferPointer { Self.hash($0) }
        var slot = h & mask
        while slots[slot].length >= 0 {
            let s = slots[slot]
            if keyBytes[Int(s.offset)..<Int(s.offset + s.length)].elementsEqual(key) {
                slots[slot].id = id
                return
            }
            slot = (slot + 1) & mask
        }
        slots[slot] = (Int32(keyBytes.count), Int32(key.count), id)
        keyBytes.append(contentsOf: key)
    }

    @inline(__always)
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var slot = Self.hash(key) & mask
        return keyBytes.withUnsafeBufferPointer { stored in
            while true {
                let s = slots[slot]
                if s.length < 0 { return nil }
                if Int(s.length) == key.count
                    && (key.count == 0 || memcmp(stored.baseAddress! + Int(s.offset), key.baseAddress!, key.count) == 0) {
                    return s.id
                }
                slot = (slot + 1) & mask
            }
        }
    }
}
