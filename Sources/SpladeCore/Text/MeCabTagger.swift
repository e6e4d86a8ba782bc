import CSpladeMath

/// MeCab's best segmentation of a text, computed from the compiled dictionary itself: the words libmecab
/// 0.996 gives (fugashi's, so transformers'). MeCabParityTests compares words and features with libmecab's
/// on JSQuAD texts and random mixtures of character classes; bench/tokenize/run compares the token ids of
/// every JSQuAD and JaQuAD text with transformers'. Not thread-safe (it reuses its lattice): each worker
/// owns one.
///
/// The lattice: at each byte offset where some word ends, the words that may start there (after any
/// spaces) are the dictionary's words that prefix the rest of the text, plus unknown words made from the
/// character class of the first character. Each new word takes the predecessor that minimises
/// path cost + connection cost(predecessor's right context id, its left context id) + its word cost; the
/// first such predecessor in MeCab's list order wins ties. The end-of-text node does the same; the best
/// path back from it is the segmentation.
final class MeCabTagger {
    private let model: MeCabModel
    private var lattice = MeCabLattice()

    init(dictionary: MeCabDictionary) throws(SpladeError) {
        model = try MeCabModel(directory: dictionary.directory)
    }

    deinit { lattice.deallocate() }

    /// Calls `body` with the surface of each word of `text` (valid UTF-8), in order. Whitespace between
    /// words is dropped.
    func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(SpladeError) {
        try forEachNode(text) { surface, _ in body(surface) }
    }

    /// Calls `body` with the surface and the feature string of each word of `text` (valid UTF-8), in order.
    /// The feature string is the dictionary's comma-separated analysis; UniDic's first field is the part
    /// of speech (名詞, 補助記号, …).
    func forEachWordWithFeature(_ text: UnsafeBufferPointer<UInt8>,
                                _ body: (UnsafeBufferPointer<UInt8>, String) -> Void) throws(SpladeError) {
        try forEachNode(text) { surface, node in
            body(surface, (node.isUnknown ? model.unknown : model.system).feature(at: node.feature))
        }
    }

    private func forEachNode(_ text: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>, MeCabLattice.Node) -> Void) throws(SpladeError) {
        // transformers hands MeCab a C string (through fugashi), so its text ends at the first NUL.
        let length = text.firstIndex(of: 0) ?? text.count
        guard length > 0 else { return }
        guard length < Int32.max else { throw SpladeError(.badInput, "MeCab cannot analyse this text: over 2 GiB") }
        // The lattice is worked on as a local value: no exclusivity checks on a class property in the loops.
        var lattice = self.lattice
        defer { self.lattice = lattice }
        try lattice.build(UnsafeBufferPointer(rebasing: text[..<length]), model)
        for node in lattice.bestPath() {
            body(UnsafeBufferPointer(rebasing: text[Int(node.start)..<Int(node.end)]), node)
        }
    }
}

/// The dictionary files and what the lattice derives from them once.
private struct MeCabModel {
    let system: MeCabLexicon
    let unknown: MeCabLexicon
    let characters: MeCabCharacterTable
    let connections: MeCabConnectionCosts
    /// unk.dic's tokens for each character category, by category number.
    let unknownTokens: [Range<Int>]
    let space: MeCabCharacterTable.CharacterClass

    init(directory: String) throws(SpladeError) {
        system = try MeCabLexicon(path: directory + "/sys.dic")
        unknown = try MeCabLexicon(path: directory + "/unk.dic")
        characters = try MeCabCharacterTable(path: directory + "/char.bin")
        connections = try MeCabConnectionCosts(path: directory + "/matrix.bin")
        for lexicon in [system, unknown]
        where lexicon.leftSize != connections.leftSize || lexicon.rightSize != connections.rightSize {
            throw SpladeError(.badInput, "its context ids (\(lexicon.leftSize) × \(lexicon.rightSize)) do not fit matrix.bin "
                                + "(\(connections.leftSize) × \(connections.rightSize))", location: lexicon.path)
        }
        var unknownTokens: [Range<Int>] = []
        for name in characters.categoryNames {
            guard let match = unknown.exactMatch(name), match.firstToken + match.tokenCount <= unknown.tokenCount else {
                throw SpladeError(.badInput, "no unknown-word entry for the character category \(name)", location: unknown.path)
            }
            unknownTokens.append(match.firstToken..<(match.firstToken + match.tokenCount))
        }
        self.unknownTokens = unknownTokens
        space = characters.characterClass(0x20)
    }
}

/// The lattice of one text, in buffers reused from text to text.
private struct MeCabLattice {
    typealias CharacterClass = MeCabCharacterTable.CharacterClass

    /// Unknown words of a run of one class are at most this many characters past the first (MeCab's
    /// DEFAULT_MAX_GROUPING_SIZE: UniDic's dicrc sets no max-grouping-size).
    private static let maxGroupedCharacters = 24
    /// MeCab looks at most this many bytes ahead of a word's start.
    private static let lookahead = 65535
    /// A path whose cost reaches this cannot be extended (MeCab's overflow check: "too long sentence").
    private static let unreachable = Int64(Int32.max)
    /// MeCab keeps at most this many dictionary prefixes of a text position.
    private static let maxPrefixMatches = 512

    /// A word of the lattice (or BOS or EOS): where its surface is, its costs, its best predecessor.
    struct Node {
        var start: Int32
        var end: Int32
        var leftContext: UInt16
        var rightContext: UInt16
        var wordCost: Int32
        var feature: UInt32
        var isUnknown: Bool
        var pathCost: Int64 = 0
        var previous: Int32 = -1
        /// The next node in the list of those ending where this one ends (newest first).
        var nextEnding: Int32 = -1

        init(start: Int, end: Int, token: MeCabLexicon.Token, isUnknown: Bool) {
            self.start = Int32(start)
            self.end = Int32(end)
            leftContext = token.leftContext
            rightContext = token.rightContext
            wordCost = Int32(token.cost)
            feature = token.feature
            self.isUnknown = isUnknown
        }

        /// BOS or EOS: context id 0 on both sides, no cost.
        init(boundaryAt position: Int) {
            self.init(start: position, end: position, token: .init(leftContext: 0, rightContext: 0, cost: 0, feature: 0), isUnknown: false)
        }
    }

    /// A node ending at the current position, as every new word there compares it.
    private struct Predecessor {
        var rightContext: Int32
        var node: Int32
        var pathCost: Int64
    }

    private var nodes = Buffer<Node>()
    /// The newest node ending at each byte offset, or -1.
    private var lastEnding = Buffer<Int32>()
    private var predecessors = Buffer<Predecessor>()
    private var matches = Buffer<MeCabLexicon.Match>()
    private var text = UnsafeBufferPointer<UInt8>(start: nil, count: 0)

    func deallocate() {
        nodes.deallocate()
        lastEnding.deallocate()
        predecessors.deallocate()
        matches.deallocate()
    }

    /// The words of the best path, BOS and EOS left out.
    func bestPath() -> [Node] {
        var path: [Node] = []
        var index = nodes[nodes.count - 1].previous
        while index > 0 {
            path.append(nodes[Int(index)])
            index = nodes[Int(index)].previous
        }
        return path.reversed()
    }

    /// Builds the lattice of `text` (no NUL inside) up to its EOS node, the last node.
    mutating func build(_ text: UnsafeBufferPointer<UInt8>, _ model: MeCabModel) throws(SpladeError) {
        self.text = text
        let length = text.count
        nodes.removeAll()
        lastEnding.removeAll()
        lastEnding.append(-1, count: length + 1)
        nodes.append(Node(boundaryAt: 0))
        lastEnding[0] = 0
        for position in 0..<length where lastEnding[position] >= 0 {
            let firstNew = nodes.count
            try addWords(startingAt: position, model)
            gatherPredecessors(endingAt: position)
            prefetchConnectionCosts(of: firstNew..<nodes.count, model.connections)
            // MeCab links each new word in front of the last, so it connects them newest first.
            for index in stride(from: nodes.count - 1, through: firstNew, by: -1) {
                try connect(index, at: position, model.connections)
            }
        }
        // EOS: after the words that end last (trailing spaces belong to no word).
        var position = length
        while lastEnding[position] < 0 { position -= 1 }
        gatherPredecessors(endingAt: position)
        nodes.append(Node(boundaryAt: length))
        try connect(nodes.count - 1, at: position, model.connections)
    }

    private mutating func gatherPredecessors(endingAt position: Int) {
        predecessors.removeAll()
        var index = lastEnding[position]
        while index >= 0 {
            let node = nodes[Int(index)]
            predecessors.append(Predecessor(rightContext: Int32(node.rightContext), node: index, pathCost: node.pathCost))
            index = node.nextEnding
        }
    }

    /// Asks for the matrix entries that connecting `newNodes` will read, all at once: they are scattered over
    /// a 70 MB table, and loads issued together wait for memory together rather than one after another.
    @inline(__always)
    private func prefetchConnectionCosts(of newNodes: Range<Int>, _ connections: MeCabConnectionCosts) {
        for index in newNodes {
            let costs = connections.row(leftContext: Int(nodes[index].leftContext))
            for i in 0..<predecessors.count { splade_prefetch(costs + Int(predecessors[i].rightContext)) }
        }
    }

    /// Gives node `index`, which starts after `position` (and any spaces), its best predecessor and files it
    /// under its end.
    @inline(__always)
    private mutating func connect(_ index: Int, at position: Int, _ connections: MeCabConnectionCosts) throws(SpladeError) {
        let node = nodes[index]
        let costs = connections.row(leftContext: Int(node.leftContext))
        var best = Self.unreachable
        var bestNode: Int32 = -1
        for i in 0..<predecessors.count {
            let predecessor = predecessors[i]
            let cost = predecessor.pathCost + Int64(Int32(costs[Int(predecessor.rightContext)]) + node.wordCost)
            if cost < best {
                best = cost
                bestNode = predecessor.node
            }
        }
        guard bestNode >= 0 else {
            throw SpladeError(.badInput, "MeCab cannot analyse this text: too long sentence (its path costs pass 2^31 - 1)")
        }
        nodes[index].pathCost = best
        nodes[index].previous = bestNode
        // MeCab files a word under position + its length with the spaces before it, a 16-bit count: after
        // 65,535 bytes of spaces (the lookahead) the count wraps, and the word is filed nearer, even under this
        // very position, where the next new words take it as a predecessor.
        let end = position + Int(UInt16(truncatingIfNeeded: Int(node.end) - position))
        // A word that runs past the text (only after trailing spaces) ends nothing anyone reads.
        if end < lastEnding.count {
            nodes[index].nextEnding = lastEnding[end]
            lastEnding[end] = Int32(index)
            if end == position {
                predecessors.insert(Predecessor(rightContext: Int32(node.rightContext), node: Int32(index), pathCost: best), at: 0)
            }
        }
    }

    /// MeCab's `Tokenizer::lookup`: appends the words that start at `position` (after spaces), in MeCab's order.
    private mutating func addWords(startingAt position: Int, _ model: MeCabModel) throws(SpladeError) {
        let limit = min(text.count, position + Self.lookahead)
        let (start, first, firstLength, _) = skip(from: position, limit: limit, whileSharing: model.space, model.characters)
        let firstNew = nodes.count
        // A key of no bytes is read by Darts up to the C string's NUL: here, the end of the text.
        let keyLength = limit > start ? limit - start : text.count - start
        matches.reserve(Self.maxPrefixMatches)
        let found = model.system.prefixMatches(text.baseAddress! + start, count: keyLength, into: matches.base,
                                               capacity: Self.maxPrefixMatches)
        for i in 0..<found {
            let match = matches[i]
            for token in match.firstToken..<(match.firstToken + match.tokenCount) {
                guard token < model.system.tokenCount else {
                    throw SpladeError(.badInput, "a word's token \(token) is past the token list", location: model.system.path)
                }
                try addNode(model.system.token(token), start: start, end: start + match.length, isUnknown: false, model)
            }
        }
        if nodes.count > firstNew && !first.alwaysTriesUnknownWords { return }

        // Unknown words from the first character's class: one character …
        var end = start + firstLength
        if end > limit {
            try addUnknownWords(first, start: start, end: end, model)
            return
        }
        // … the whole run of characters sharing its class, when short enough …
        var runEnd: Int?
        if first.groupsRuns {
            let (after, _, _, count) = skip(from: end, limit: limit, whileSharing: first, model.characters,
                                            atMost: Self.maxGroupedCharacters + 1)
            if count <= Self.maxGroupedCharacters {
                try addUnknownWords(first, start: start, end: after, model)
                runEnd = after
            }
        }
        // … and each length up to the class's while the characters share it (MeCab stops at the run's end,
        // which it has added already).
        if first.unknownWordLength > 0 {
            for _ in 1...first.unknownWordLength {
                if end > limit || end == runEnd { break }
                try addUnknownWords(first, start: start, end: end, model)
                let (next, nextLength) = decode(at: end, limit: limit, model.characters)
                if !first.shares(next) { break }
                end += nextLength
            }
        }
        if nodes.count == firstNew { try addUnknownWords(first, start: start, end: end, model) }
    }

    private mutating func addUnknownWords(_ characterClass: CharacterClass, start: Int, end: Int, _ model: MeCabModel) throws(SpladeError) {
        for token in model.unknownTokens[characterClass.category] {
            try addNode(model.unknown.token(token), start: start, end: end, isUnknown: true, model)
        }
    }

    @inline(__always)
    private mutating func addNode(_ token: MeCabLexicon.Token, start: Int, end: Int, isUnknown: Bool, _ model: MeCabModel) throws(SpladeError) {
        guard Int(token.rightContext) < model.connections.leftSize, Int(token.leftContext) < model.connections.rightSize else {
            throw SpladeError(.badInput, "a token's context ids are outside the connection matrix",
                              location: (isUnknown ? model.unknown : model.system).path)
        }
        nodes.append(Node(start: start, end: end, token: token, isUnknown: isUnknown))
    }

    /// MeCab's `seekToOtherType`: moves past characters while each shares a category with the one before
    /// it (the first with `characterClass`), at most `maximum` of them. Returns where it stopped, the class
    /// and length of the last character looked at, and how many it moved past.
    @inline(__always)
    private func skip(from position: Int, limit: Int, whileSharing characterClass: CharacterClass, _ characters: MeCabCharacterTable,
                      atMost maximum: Int = .max) -> (end: Int, last: CharacterClass, lastLength: Int, count: Int) {
        var (position, previous, last, lastLength, count) = (position, characterClass, characterClass, 0, 0)
        while position != limit && count < maximum {
            (last, lastLength) = decode(at: position, limit: limit, characters)
            if !previous.shares(last) { break }
            position += lastLength
            count += 1
            previous = last
        }
        return (position, last, lastLength, count)
    }

    /// MeCab's `utf8_to_ucs2` then the class table: the class of the character at `position` and its length.
    /// Code points past U+FFFF (four-byte sequences) and malformed sequences take U+0000's class. A position
    /// at `limit` reads the byte there (the text's terminating NUL at its end), as MeCab does.
    @inline(__always)
    private func decode(at position: Int, limit: Int, _ characters: MeCabCharacterTable) -> (CharacterClass, Int) {
        let available = limit - position
        let lead = position < text.count ? Int(text[position]) : 0
        if lead < 0x80 { return (characters.characterClass(lead), 1) }
        if available >= 2 && lead & 0xe0 == 0xc0 {
            return (characters.characterClass((lead & 0x1f) << 6 | Int(text[position + 1]) & 0x3f), 2)
        }
        if available >= 3 && lead & 0xf0 == 0xe0 {
            let code = (lead & 0x0f) << 12 | (Int(text[position + 1]) & 0x3f) << 6 | Int(text[position + 2]) & 0x3f
            return (characters.characterClass(code), 3)
        }
        if available >= 4 && lead & 0xf8 == 0xf0 { return (characters.characterClass(0), 4) }
        if available >= 5 && lead & 0xfc == 0xf8 { return (characters.characterClass(0), 5) }
        if available >= 6 && lead & 0xfe == 0xfc { return (characters.characterClass(0), 6) }
        return (characters.characterClass(0), 1)
    }
}

/// A growable buffer of trivial values without Array's uniqueness and bounds checks, owned by one lattice.
private struct Buffer<Element> {
    private(set) var base = UnsafeMutablePointer<Element>.allocate(capacity: 16)
    private var capacity = 16
    private(set) var count = 0

    @inline(__always) subscript(index: Int) -> Element {
        get { base[index] }
        nonmutating set { base[index] = newValue }
    }

    mutating func removeAll() { count = 0 }

    /// Makes room for `extra` more elements.
    mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        capacity = max(2 * capacity, count + extra)
        let grown = UnsafeMutablePointer<Element>.allocate(capacity: capacity)
        grown.moveInitialize(from: base, count: count)
        base.deallocate()
        base = grown
    }

    @inline(__always) mutating func append(_ element: Element, count extra: Int) {
        reserve(extra)
        (base + count).initialize(repeating: element, count: extra)
        count += extra
    }

    mutating func append(_ element: Element) { append(element, count: 1) }

    mutating func insert(_ element: Element, at index: Int) {
        reserve(1)
        (base + index + 1).moveInitialize(from: base + index, count: count - index)
        (base + index).initialize(to: element)
        count += 1
    }

    func deallocate() { base.deallocate() }
}
