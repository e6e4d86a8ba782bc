extension Segment {
    /// Calls `body(document, term, impact)` for every posting of the segment (or of `blocks`), block by block: each
    /// block's postings by term, then by place. Documents are numbers (input order), so a block
    /// of a reordered segment yields them in any order. Run on a verified segment (`verify()`):
    /// the offsets are trusted.
    func forEachPosting(inBlocks blocks: Range<Int>? = nil, _ body: (_ document: Int, _ term: UInt32, _ impact: UInt8) -> Void) {
        let h = header
        for block in blocks ?? 0..<h.blocks {
            let firstPlace = block * h.blockSize
            let postingBase = Int(blockPostingStart[block])
            let postingEnd = Int(blockPostingStart[block + 1])
            let entries = Int(blockEntryStart[block])..<Int(blockEntryStart[block + 1])
            for e in entries {
                let start = postingBase + Int(entryPostingStart[e])
                let end = e + 1 < entries.upperBound ? postingBase + Int(entryPostingStart[e + 1]) : postingEnd
                let term = entryTerms[e]
                for p in start..<end {
                    body(Int(blockDocuments[firstPlace + Int(postings[2 * p])]), term, postings[2 * p + 1])
                }
            }
        }
    }
}
