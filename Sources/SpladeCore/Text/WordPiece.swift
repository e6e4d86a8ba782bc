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
        // Most words are one vocabulary entry: try the whole word before anything else.
        if let id = vocabulary.wholeTokens.lookup(word), word.count <= maxInputCharsPerWord {
            ids.append(id)
            return
        }
        // Scalar boundaries: candidates are whole scalars (Python's `list(word)`). A word of more
        // than maxInputCharsPerWord scalars is [UNK], so the boundaries fit a small stack buffer.
        withUnsafeTemporaryAllocation(of: Int.self, capacity: maxInputCharsPerWord + 2) { boundaries in
            var scalarCount = 0
            for i in 0..<word.count where word[i].isUTF8ScalarStart {
                if scalarCount == maxInputCharsPerWord {
                    ids.append(unknownId)
                    return
                }
                boundaries[scalarCount] = i
                scalarCount += 1
            }
            boundaries[scalarCount] = word.count
            let firstNew = ids.count
            var start = 0
            while start < scalarCount {
                let table = start == 0 ? vocabulary.wholeTokens : vocabulary.continuations
                var end = min(scalarCount, start + vocabulary.longestPieceScalars)
                var found: Int32?
                while end > start {
                    if let id = table.lookup(UnsafeBufferPointer(rebasing: word[boundaries[start]..<boundaries[end]])) {
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
}
