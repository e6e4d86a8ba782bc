/// The documents of an index read back as vectors, for exporting them to other engines.
extension IndexSnapshot {
    /// Calls `body` with the id and vector of every live document, segment by segment and block
    /// by block (input order unless the index was built with reordering), one block decoded at a
    /// time so the index is never held in memory. Weights are dequantised: impact × the segment's
    /// scale, within scale/2 of the indexed weight. Verifies the index first (status 65 if corrupt).
    public func forEachLiveDocument(_ body: (_ id: JSONValue, _ vector: SparseVector) throws(SpladeError) -> Void) throws(SpladeError) {
        try verify()
        for (segment, deleted) in zip(segments, deletions) {
            let scale = segment.header.scale
            for block in 0..<segment.header.blocks {
                var vectors: [Int: SparseVector] = [:]
                // A block's terms ascend, so each document's terms arrive in order.
                segment.forEachPosting(inBlocks: block..<(block + 1)) { document, term, impact in
                    vectors[document, default: SparseVector()].indices.append(Int32(term))
                    vectors[document, default: SparseVector()].values.append(Float(impact) * scale)
                }
                let firstPlace = block * segment.header.blockSize
                let documents = (firstPlace..<min(firstPlace + segment.header.blockSize, segment.documents))
                    .map { Int(segment.blockDocuments[$0]) }.sorted()
                for document in documents where !(deleted?.contains(document) ?? false) {
                    try body(segment.idValue(document), vectors[document] ?? SparseVector())
                }
            }
        }
    }
}
