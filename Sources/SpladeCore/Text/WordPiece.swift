/// Greedy longest-match-first WordPiece, as BERT's reference implementation defines it: a word is
/// cut into the longest vocabulary piece at its start, then the longest `##` continuation piece at
/// each following position; if some position has no piece, or the word is longer than
/// `maxInputCharsPerWord` scalars, the whole word becomes `[UNK]`.
struct WordPiece: Sendable {
    let vocabulary: Vocabulary
    let unknownId: Int32
    let maxInputCharsPerWord: Int

    /// Appends the ids of one word (valid UTF-8 without whitespace) to `ids`.
    func appendIds(of word: UnsafeBufferPointer<UInt8>, to ids: inout [Int32]) {
        if word.isEmpty { return }
        // Scalar boundaries: WordPiece candidates are whole scalars (Python's `list(word)`).
        var boundaries: [Int] = []
        boundaries.reserveCapacity(word.count + 1)
        for i in 0..<word.count where word[i].isUTF8ScalarStart { boundaries.append(i) }
        let scalarCount = boundaries.count
        boundaries.append(word.count)
        if scalarCount > maxInputCharsPerWord {
            ids.append(unknownId)
            return
        }
        let firstNew = ids.count
        var start = 0
        while start < scalarCount {
            let table = start == 0 ? vocabulary.wholeTokens : vocabulary.continuations
            var end = min(scalarCount, start + vocabulary.longestPieceScalars)
            var found: Int32?
            while end > start {
                let piece = UnsafeBufferPointer(rebasing: word[boundaries[start]..<boundaries[end]])
                if let id = table.lookup(piece) {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                ids.removeSubrange(firstNew...)
                ids.append(unknownId)
                return
            }
            ids.append(id)
            start = end
        }
    }
}
