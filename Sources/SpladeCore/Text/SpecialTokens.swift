/// Splits text on special tokens (`[CLS]`, `[SEP]`, `[MASK]`, …) so that they are kept whole, as the
/// Hugging Face tokenizers do before any normalisation: at each position the longest special token
/// that starts there wins, scanning left to right.
struct SpecialTokenSplitter: Sendable {
    enum Piece {
        case text(Range<Int>)
        case special(id: Int32)
    }

    private let tokens: [(bytes: [UInt8], id: Int32)]
    /// Whether a special token starts with this byte: most positions are skipped with one load.
    private let isFirstByte: [Bool]

    init(tokens: [(String, Int32)]) {
        let encoded = tokens.filter { !$0.0.isEmpty }.map { (bytes: Array($0.0.utf8), id: $0.1) }
        // Longest first, so the first match at a position is the longest one.
        self.tokens = encoded.sorted { $0.bytes.count > $1.bytes.count }
        var isFirstByte = [Bool](repeating: false, count: 256)
        for token in encoded { isFirstByte[Int(token.bytes[0])] = true }
        self.isFirstByte = isFirstByte
    }

    /// The text pieces (byte ranges) and special tokens of `text`, in order.
    func split(_ text: UnsafeBufferPointer<UInt8>) -> [Piece] {
        var pieces: [Piece] = []
        var textStart = 0
        var i = 0
        while i < text.count {
            if isFirstByte[Int(text[i])], let match = tokens.first(where: { matches($0.bytes, text, at: i) }) {
                if textStart < i { pieces.append(.text(textStart..<i)) }
                pieces.append(.special(id: match.id))
                i += match.bytes.count
                textStart = i
            } else {
                i += 1
            }
        }
        if textStart < text.count { pieces.append(.text(textStart..<text.count)) }
        return pieces
    }

    private func matches(_ token: [UInt8], _ text: UnsafeBufferPointer<UInt8>, at i: Int) -> Bool {
        guard i + token.count <= text.count else { return false }
        for k in 0..<token.count where text[i + k] != token[k] { return false }
        return true
    }
}
