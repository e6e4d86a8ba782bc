/// The three binary files of a compiled MeCab dictionary that word segmentation reads, mapped as
/// mecab-dict-index wrote them (little-endian, MeCab 0.996's layout, format version 102).

/// `sys.dic` or `unk.dic`: a double-array trie (Darts) from surface bytes to runs of tokens, the tokens
/// (left and right context ids, word cost, feature offset) and the feature strings.
struct MeCabLexicon {
    /// One entry of the word list: 16 bytes on disk (`posid` and `compound` are not used here).
    struct Token {
        var leftContext: UInt16
        var rightContext: UInt16
        var cost: Int16
        var feature: UInt32
    }

    /// A prefix of the key that is a word: its length in bytes and its run of tokens.
    struct Match {
        var length: Int
        var firstToken: Int
        var tokenCount: Int
    }

    static let magic: UInt32 = 0xef71_8f77
    static let version: UInt32 = 102
    private static let headerSize = 72
    private static let tokenSize = 16

    private let file: MappedFile
    let path: String
    let leftSize: Int
    let rightSize: Int
    /// Darts units: (base: Int32, check: UInt32), 8 bytes each.
    private let units: UnsafeRawPointer
    private let unitCount: Int
    private let tokens: UnsafeRawPointer
    let tokenCount: Int
    private let features: UnsafeRawBufferPointer

    init(path: String) throws(SpladeError) {
        file = try MappedFile(path: path)
        self.path = path
        let bytes = file.bytes
        func broken(_ why: String) -> SpladeError {
            SpladeError(.badInput, "not a compiled MeCab dictionary file (\(why))", location: path)
        }
        guard bytes.count >= Self.headerSize else { throw broken("\(bytes.count) bytes") }
        func word(_ index: Int) -> UInt32 { UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * index, as: UInt32.self)) }
        guard Int(word(0) ^ Self.magic) == bytes.count else { throw broken("its header does not give its size") }
        guard word(1) == Self.version else { throw broken("format version \(word(1)), not \(Self.version)") }
        leftSize = Int(word(4))
        rightSize = Int(word(5))
        let (trieSize, tokenBytes, featureSize) = (Int(word(6)), Int(word(7)), Int(word(8)))
        guard Self.headerSize + trieSize + tokenBytes + featureSize == bytes.count,
              trieSize >= 8, trieSize % 8 == 0, tokenBytes % Self.tokenSize == 0 else { throw broken("its section sizes do not add up") }
        units = bytes.baseAddress! + Self.headerSize
        unitCount = trieSize / 8
        tokens = units + trieSize
        tokenCount = tokenBytes / Self.tokenSize
        features = UnsafeRawBufferPointer(rebasing: bytes[(Self.headerSize + trieSize + tokenBytes)...])
    }

    func token(_ index: Int) -> Token {
        let entry = tokens + index * Self.tokenSize
        return Token(leftContext: UInt16(littleEndian: entry.load(as: UInt16.self)),
                     rightContext: UInt16(littleEndian: entry.load(fromByteOffset: 2, as: UInt16.self)),
                     cost: Int16(littleEndian: entry.load(fromByteOffset: 6, as: Int16.self)),
                     feature: UInt32(littleEndian: entry.load(fromByteOffset: 8, as: UInt32.self)))
    }

    /// The comma-separated analysis of a token (UniDic: part of speech first), or "" past the section.
    func feature(at offset: UInt32) -> String {
        let start = Int(offset)
        guard start < features.count else { return "" }
        let rest = UnsafeRawBufferPointer(rebasing: features[start...])
        let length = rest.firstIndex(of: 0) ?? rest.count
        return String(decoding: UnsafeRawBufferPointer(rebasing: rest[..<length]), as: UTF8.self)
    }

    /// Writes the prefixes of `key` that are words to `matches`, shortest first, at most `capacity` of them,
    /// and returns how many: Darts' common-prefix search. In the double array, unit `p` is the child of unit
    /// `b` by byte `c` when `p = b + c + 1` and `check[p] = b`; the child "by byte 0", `p = b`, holds a word's
    /// value, `-base - 1`, when the bytes so far are a word (the value: its first token times 256 plus the
    /// number of its tokens).
    @inline(__always)
    func prefixMatches(_ key: UnsafePointer<UInt8>, count: Int, into matches: UnsafeMutablePointer<Match>, capacity: Int) -> Int {
        var found = 0
        var node = Int(unitBase(0))
        for i in 0...count {
            guard node >= 0, node < unitCount else { break }
            let terminal = unitBase(node)
            if i > 0, terminal < 0, unitCheck(node) == UInt32(truncatingIfNeeded: node), found < capacity {
                let value = -Int(terminal) - 1
                matches[found] = Match(length: i, firstToken: value >> 8, tokenCount: value & 0xff)
                found += 1
            }
            guard i < count else { break }
            let child = node + Int(key[i]) + 1
            guard child < unitCount, unitCheck(child) == UInt32(truncatingIfNeeded: node) else { break }
            node = Int(unitBase(child))
        }
        return found
    }

    /// The tokens of exactly `key` (unk.dic: a character category's name), if it is a word.
    func exactMatch(_ key: String) -> Match? {
        let bytes = Array(key.utf8)
        let matches = UnsafeMutablePointer<Match>.allocate(capacity: bytes.count + 1)
        defer { matches.deallocate() }
        let found = bytes.withUnsafeBufferPointer { key in
            prefixMatches(key.baseAddress!, count: key.count, into: matches, capacity: key.count + 1)
        }
        return (0..<found).map { matches[$0] }.first { $0.length == bytes.count }
    }

    @inline(__always) private func unitBase(_ index: Int) -> Int32 {
        Int32(littleEndian: units.load(fromByteOffset: 8 * index, as: Int32.self))
    }

    @inline(__always) private func unitCheck(_ index: Int) -> UInt32 {
        UInt32(littleEndian: units.load(fromByteOffset: 8 * index + 4, as: UInt32.self))
    }
}

/// `char.bin`: the character categories (DEFAULT, SPACE, KANJI, …) and, for each UCS-2 code point below
/// U+FFFF, its `CharInfo` bit field.
struct MeCabCharacterTable {
    /// MeCab's `CharInfo`: the categories a character belongs to (a bit each, 18 bits), the one its unknown
    /// words take (8 bits), how many characters long unknown words of it may be (4 bits), whether a run of
    /// such characters makes an unknown word (1 bit), whether unknown words are tried even where a
    /// dictionary word starts (1 bit).
    struct CharacterClass {
        let raw: UInt32
        var kinds: UInt32 { raw & 0x3ffff }
        var category: Int { Int((raw >> 18) & 0xff) }
        var unknownWordLength: Int { Int((raw >> 26) & 0xf) }
        var groupsRuns: Bool { raw & (1 << 30) != 0 }
        var alwaysTriesUnknownWords: Bool { raw & (1 << 31) != 0 }
        @inline(__always) func shares(_ other: CharacterClass) -> Bool { kinds & other.kinds != 0 }
    }

    private static let tableSize = 0xffff
    private let file: MappedFile
    let categoryNames: [String]
    private let table: UnsafeRawPointer

    init(path: String) throws(SpladeError) {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        let count = bytes.count >= 4 ? Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))) : 0
        guard count > 0, count < 256, bytes.count == 4 + 32 * count + 4 * Self.tableSize else {
            throw SpladeError(.badInput, "not a compiled MeCab character table (\(bytes.count) bytes)", location: path)
        }
        categoryNames = (0..<count).map { index in
            let name = UnsafeRawBufferPointer(rebasing: bytes[(4 + 32 * index)..<(4 + 32 * index + 32)])
            return String(decoding: UnsafeRawBufferPointer(rebasing: name[..<(name.firstIndex(of: 0) ?? 32)]), as: UTF8.self)
        }
        table = bytes.baseAddress! + 4 + 32 * count
        if let code = (0..<Self.tableSize).first(where: { characterClass($0).category >= count }) {
            throw SpladeError(.badInput, String(format: "U+%04X is in character category %d of %d", code,
                                                characterClass(code).category, count), location: path)
        }
    }

    /// U+FFFF lies one past the table: MeCab reads the zero fill after the mapped file there, a class in
    /// no category that groups nothing, and so does this.
    @inline(__always) func characterClass(_ codePoint: Int) -> CharacterClass {
        guard codePoint < Self.tableSize else { return CharacterClass(raw: 0) }
        return CharacterClass(raw: UInt32(littleEndian: table.load(fromByteOffset: 4 * codePoint, as: UInt32.self)))
    }
}

/// `matrix.bin`: the cost of each (right context id of the left word, left context id of the right word) pair.
struct MeCabConnectionCosts {
    private let file: MappedFile
    let leftSize: Int
    let rightSize: Int
    private let costs: UnsafePointer<Int16>

    init(path: String) throws(SpladeError) {
        file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 4 else { throw SpladeError(.badInput, "not a compiled MeCab connection matrix", location: path) }
        leftSize = Int(UInt16(littleEndian: bytes.loadUnaligned(as: UInt16.self)))
        rightSize = Int(UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
        guard bytes.count == 4 + 2 * leftSize * rightSize else {
            throw SpladeError(.badInput, "not a compiled MeCab connection matrix (\(bytes.count) bytes for \(leftSize) × \(rightSize))",
                              location: path)
        }
        costs = (bytes.baseAddress! + 4).assumingMemoryBound(to: Int16.self)
    }

    /// The costs of every left word before a right word of left context id `leftContext`, by the left word's
    /// right context id (MeCab: `matrix[left.rcAttr + lsize * right.lcAttr]`).
    @inline(__always) func row(leftContext: Int) -> UnsafePointer<Int16> { costs + leftSize * leftContext }
}
