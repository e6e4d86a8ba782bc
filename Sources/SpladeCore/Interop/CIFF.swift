/// The Common Index File Format (Lin et al., "Supporting Interoperability Between Open-Source
/// Search Engines with the Common Index File Format", SIGIR 2020; github.com/osirrc/ciff), which
/// Anserini, PISA, BMP, Terrier and JASS read and write: a stream of varint-length-delimited
/// protobuf messages,
///
///     Header        1 version (1) · 2 num_postings_lists · 3 num_docs · 4 total_postings_lists
///                   · 5 total_docs · 6 total_terms_in_collection · 7 average_doclength (double)
///                   · 8 description
///     PostingsList  × num_postings_lists, terms in ascending byte order:
///                   1 term · 2 df · 3 cf · 4 repeated Posting {1 docid (gap from the previous
///                   posting; the first is absolute) · 2 tf}
///     DocRecord     × num_docs: 1 docid · 2 collection_docid · 3 doclength
///
/// For impact indexes the convention (Anserini's for learned sparse models, read by PISA's
/// `quantized` scorer and by BMP) is tf = the quantised impact and doclength = Σ tf of the document.
public enum CIFF {
    public static let version: Int32 = 1

    public struct Header: Sendable, Equatable {
        public var version = CIFF.version
        public var postingsLists: Int32
        public var documents: Int32
        public var totalPostingsLists: Int32
        public var totalDocuments: Int32
        public var totalTerms: Int64
        public var averageDocumentLength: Double
        public var description: String

        public init(postingsLists: Int32, documents: Int32, totalPostingsLists: Int32, totalDocuments: Int32, totalTerms: Int64,
                    averageDocumentLength: Double, description: String) {
            self.postingsLists = postingsLists
            self.documents = documents
            self.totalPostingsLists = totalPostingsLists
            self.totalDocuments = totalDocuments
            self.totalTerms = totalTerms
            self.averageDocumentLength = averageDocumentLength
            self.description = description
        }

        public var message: ProtobufWriter {
            var m = ProtobufWriter()
            m.int(1, Int64(version))
            m.int(2, Int64(postingsLists))
            m.int(3, Int64(documents))
            m.int(4, Int64(totalPostingsLists))
            m.int(5, Int64(totalDocuments))
            m.int(6, totalTerms)
            m.double(7, averageDocumentLength)
            m.string(8, description)
            return m
        }

        public init(_ reader: ProtobufReader) throws(ProtobufError) {
            self.init(postingsLists: 0, documents: 0, totalPostingsLists: 0, totalDocuments: 0, totalTerms: 0,
                      averageDocumentLength: 0, description: "")
            version = 0
            var r = reader
            while let (field, type) = try r.nextField() {
                switch field {
                case 1: version = try r.int32(type)
                case 2: postingsLists = try r.int32(type)
                case 3: documents = try r.int32(type)
                case 4: totalPostingsLists = try r.int32(type)
                case 5: totalDocuments = try r.int32(type)
                case 6: totalTerms = try r.int64(type)
                case 7: averageDocumentLength = try r.double(type)
                case 8: description = try r.string(type)
                default: try r.skip(type)
                }
            }
        }
    }

    /// A postings list with absolute document ids (gaps exist only on the wire).
    public struct PostingsList: Sendable, Equatable {
        public var term: String
        public var documentFrequency: Int64
        public var collectionFrequency: Int64
        public var documents: [Int32]
        public var frequencies: [Int32]

        public init(term: String, documentFrequency: Int64, collectionFrequency: Int64, documents: [Int32], frequencies: [Int32]) {
            self.term = term
            self.documentFrequency = documentFrequency
            self.collectionFrequency = collectionFrequency
            self.documents = documents
            self.frequencies = frequencies
        }

        public var message: ProtobufWriter {
            var m = ProtobufWriter()
            m.string(1, term)
            m.int(2, documentFrequency)
            m.int(3, collectionFrequency)
            var previous: Int32 = 0
            for (document, frequency) in zip(documents, frequencies) {
                var posting = ProtobufWriter()
                posting.int(1, Int64(document - previous))
                posting.int(2, Int64(frequency))
                m.message(4, posting)
                previous = document
            }
            return m
        }

        /// Reads a list; document ids must ascend strictly (gaps > 0 after the first).
        public init(_ reader: ProtobufReader) throws(ProtobufError) {
            self.init(term: "", documentFrequency: 0, collectionFrequency: 0, documents: [], frequencies: [])
            var r = reader
            var previous: Int64 = -1
            while let (field, type) = try r.nextField() {
                switch field {
                case 1: term = try r.string(type)
                case 2: documentFrequency = try r.int64(type)
                case 3: collectionFrequency = try r.int64(type)
                case 4:
                    var posting = try r.message(type)
                    let start = posting.offset
                    var gap: Int32 = 0, frequency: Int32 = 0
                    while let (field, type) = try posting.nextField() {
                        switch field {
                        case 1: gap = try posting.int32(type)
                        case 2: frequency = try posting.int32(type)
                        default: try posting.skip(type)
                        }
                    }
                    let document = documents.isEmpty ? Int64(gap) : previous + Int64(gap)
                    guard document > previous, document <= Int64(Int32.max) else {
                        throw ProtobufError(message: "posting docid \(document) does not follow \(previous) (ids must ascend)", offset: start)
                    }
                    guard frequency >= 0 else { throw ProtobufError(message: "negative tf \(frequency)", offset: start) }
                    documents.append(Int32(document))
                    frequencies.append(frequency)
                    previous = document
                default: try r.skip(type)
                }
            }
        }
    }

    public struct DocumentRecord: Sendable, Equatable {
        public var document: Int32
        public var collectionId: String
        public var length: Int32

        public init(document: Int32, collectionId: String, length: Int32) {
            self.document = document
            self.collectionId = collectionId
            self.length = length
        }

        public var message: ProtobufWriter {
            var m = ProtobufWriter()
            m.int(1, Int64(document))
            m.string(2, collectionId)
            m.int(3, Int64(length))
            return m
        }

        public init(_ reader: ProtobufReader) throws(ProtobufError) {
            self.init(document: 0, collectionId: "", length: 0)
            var r = reader
            while let (field, type) = try r.nextField() {
                switch field {
                case 1: document = try r.int32(type)
                case 2: collectionId = try r.string(type)
                case 3: length = try r.int32(type)
                default: try r.skip(type)
                }
            }
        }
    }

    /// A message with its varint length prefix, as it goes into the stream.
    public static func delimited(_ message: ProtobufWriter) -> [UInt8] {
        var out = ProtobufWriter()
        out.varint(UInt64(message.bytes.count))
        out.bytes.append(contentsOf: message.bytes)
        return out.bytes
    }

    /// Byte order of UTF-8 strings, the order Anserini and PISA write terms in (Swift's `<` on
    /// String compares Unicode scalars in canonical order, which differs).
    static func byteOrder(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

/// What an export wrote.
public struct CIFFExportSummary: Sendable {
    public var documents: Int
    public var postingsLists: Int
    public var postings: Int
}

extension CIFF {
    /// The header description of our exports: the index kind, what the tfs are, the scale that turns them back into
    /// weights and a BM25 index's parameters (`exportedIndex` reads them, so that an index rebuilt from the file is
    /// searched and scores as the exported one was).
    public static func exportDescription(of snapshot: IndexSnapshot, terms: String) -> String {
        let manifest = snapshot.manifest
        var description = "splade-index \(manifest.kind.rawValue) index \(snapshot.path): tf = 8-bit impact "
            + "(weight ≈ tf × \(manifest.scale)), doclength = sum of tf, terms = \(terms)"
        if let bm25 = manifest.bm25 {
            description += "\(bm25Label)k1 = \(bm25.k1), b = \(bm25.b), average length = \(bm25.averageLength)"
        }
        return description
    }

    private static let bm25Label = ", BM25 "

    /// What an export of ours records in its description; nil for other CIFF files.
    public static func exportedIndex(in description: String)
        -> (kind: IndexManifest.Kind, scale: Float, bm25: IndexManifest.BM25Parameters?)? {
        guard description.hasPrefix("splade-index "),
              let kind = description.dropFirst("splade-index ".count).split(separator: " ").first.flatMap({ IndexManifest.Kind(rawValue: String($0)) }),
              let start = description.range(of: "(weight ≈ tf × "),
              let end = description[start.upperBound...].firstIndex(of: ")"),
              let scale = Float(description[start.upperBound..<end]), scale.isFinite, scale > 0 else { return nil }
        var bm25: IndexManifest.BM25Parameters?
        if kind == .bm25, let label = description.range(of: bm25Label, options: .backwards) {
            // "k1 = 0.9, b = 0.4, average length = 123.5"
            let values = description[label.upperBound...].split(separator: ",").compactMap { $0.split(separator: "=").last }
                .compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
            if values.count == 3 { bm25 = .init(k1: values[0], b: values[1], averageLength: values[2]) }
        }
        return (kind, scale, bm25)
    }

    /// Writes the live documents of `snapshot` as CIFF through `write`, streaming: the postings
    /// are transposed in memory (8 bytes per posting), the messages never are. Documents are
    /// numbered 0… in index order (segment by segment, by document number), which is also the
    /// order splade-search breaks ties in; term `t` is written as `termNames[t]`.
    public static func export(_ snapshot: IndexSnapshot, termNames: [String], description: String,
                              write: ([UInt8]) throws(SpladeError) -> Void) throws(SpladeError) -> CIFFExportSummary {
        // The transposition below trusts the segments' offsets.
        for segment in snapshot.segments { try segment.verify() }
        let vocabularySize = snapshot.manifest.vocabularySize
        precondition(termNames.count == vocabularySize)

        // New document numbers: live documents only, in index order.
        var renumbered: [[Int32]] = []
        var documents = 0
        for (segment, deletions) in zip(snapshot.segments, snapshot.deletions) {
            var numbers = [Int32](repeating: -1, count: segment.documents)
            for d in 0..<segment.documents where deletions?.contains(d) != true {
                guard documents < Int(Int32.max) else {
                    throw SpladeError(.usage, "CIFF holds at most \(Int32.max) documents (its ids are int32)", location: snapshot.path)
                }
                numbers[d] = Int32(documents)
                documents += 1
            }
            renumbered.append(numbers)
        }

        // Counting pass: postings per term and each document's length (Σ impacts).
        var listStart = [Int](repeating: 0, count: vocabularySize + 1)
        var lengths = [Int32](repeating: 0, count: documents)
        for (segment, numbers) in zip(snapshot.segments, renumbered) {
            segment.forEachPosting { document, term, impact in
                let number = numbers[document]
                guard number >= 0 else { return }
                listStart[Int(term) + 1] += 1
                lengths[Int(number)] += Int32(impact)
            }
        }
        for t in 0..<vocabularySize { listStart[t + 1] += listStart[t] }

        // Scatter pass: (document << 8 | impact), each term's list sorted by document.
        var postings = [UInt64](repeating: 0, count: listStart[vocabularySize])
        var cursor = listStart
        for (segment, numbers) in zip(snapshot.segments, renumbered) {
            segment.forEachPosting { document, term, impact in
                let number = numbers[document]
                guard number >= 0 else { return }
                postings[cursor[Int(term)]] = UInt64(number) << 8 | UInt64(impact)
                cursor[Int(term)] += 1
            }
        }

        let terms = (0..<vocabularySize).filter { listStart[$0 + 1] > listStart[$0] }
            .sorted { byteOrder(termNames[$0], termNames[$1]) }
        for (a, b) in zip(terms, terms.dropFirst()) where termNames[a].utf8.elementsEqual(termNames[b].utf8) {
            throw SpladeError(.badInput, "tokens \(a) and \(b) are both written \"\(termNames[a])\": CIFF terms must be distinct",
                              location: snapshot.path, hint: "export token ids instead (--keys ids)")
        }
        let totalTerms = lengths.reduce(Int64(0)) { $0 + Int64($1) }
        let header = Header(postingsLists: Int32(terms.count), documents: Int32(documents), totalPostingsLists: Int32(terms.count),
                            totalDocuments: Int32(documents), totalTerms: totalTerms,
                            averageDocumentLength: documents > 0 ? Double(totalTerms) / Double(documents) : 0,
                            description: description)
        try write(delimited(header.message))

        for term in terms {
            let range = listStart[term]..<listStart[term + 1]
            // A reordered segment yields a term's documents out of order.
            if zip(postings[range], postings[range].dropFirst()).contains(where: { $0 > $1 }) { postings[range].sort() }
            var list = PostingsList(term: termNames[term], documentFrequency: Int64(range.count), collectionFrequency: 0,
                                    documents: [], frequencies: [])
            list.documents.reserveCapacity(range.count)
            list.frequencies.reserveCapacity(range.count)
            for posting in postings[range] {
                list.documents.append(Int32(posting >> 8))
                list.frequencies.append(Int32(posting & 0xFF))
                list.collectionFrequency += Int64(posting & 0xFF)
            }
            try write(delimited(list.message))
        }

        for (segment, numbers) in zip(snapshot.segments, renumbered) {
            for d in 0..<segment.documents where numbers[d] >= 0 {
                let record = DocumentRecord(document: numbers[d], collectionId: segment.idText(d), length: lengths[Int(numbers[d])])
                try write(delimited(record.message))
            }
        }
        return CIFFExportSummary(documents: documents, postingsLists: terms.count, postings: postings.count)
    }
}

/// A CIFF file read into documents, for building an index.
public struct CIFFImport {
    public var header: CIFF.Header
    /// The documents in CIFF docid order, each weight a tf.
    public var documents: DocumentBatch
    /// The largest tf: up to 255 the tfs are the index's impacts as they are (scale 1).
    public var largestFrequency: Int32

    /// Weights = tf × `scale`: the exported index's weights again, whose impacts under that scale are the tfs.
    public mutating func dequantise(by scale: Float) {
        documents.scaleWeights(by: scale)
    }

    /// Reads `path` (`-` is standard input; zstd is detected). `termId` maps a term to its token
    /// id, nil when the vocabulary has no such term. Memory: about 24 bytes per posting at the peak.
    public static func read(path: String, termId: (String) -> Int32?) throws(SpladeError) -> CIFFImport {
        let name = InputFile.displayName(path)
        var messageNumber = 0
        var announcedLists = 0
        func what() -> String {
            messageNumber == 1 ? "the header"
                : messageNumber <= announcedLists + 1 ? "postings list \(messageNumber - 1) (message \(messageNumber))"
                : "DocRecord \(messageNumber - announcedLists - 1) (message \(messageNumber))"
        }
        func corrupt(_ error: ProtobufError) -> SpladeError {
            SpladeError(.badInput, "corrupt CIFF (\(what())): \(error)", location: name)
        }
        let stream = DelimitedMessageReader(source: try InputFile.open(path), corrupt: corrupt)
        /// The next message, parsed by `parse`.
        func next<T>(_ parse: (ProtobufReader) throws(ProtobufError) -> T) throws(SpladeError) -> T {
            messageNumber += 1
            guard let message = try stream.next() else {
                throw SpladeError(.badInput, "CIFF cut short at byte \(stream.offset): \(what()) is missing", location: name)
            }
            do throws(ProtobufError) { return try parse(message) } catch { throw corrupt(error) }
        }

        let header = try next(CIFF.Header.init)
        guard header.version == CIFF.version else {
            throw SpladeError(.badInput, "CIFF version \(header.version) is not supported (this build reads version 1)", location: name,
                              hint: header.version == 0 ? "is this a CIFF file? it does not start with a CIFF header" : nil)
        }
        guard header.postingsLists >= 0, header.documents >= 0 else {
            throw SpladeError(.badInput, "corrupt CIFF header: negative counts", location: name)
        }
        announcedLists = Int(header.postingsLists)

        // Postings as read: term by term (in the file's term order).
        var listTerms: [Int32] = []
        var listStart: [Int] = [0]
        var postingDocuments: [Int32] = []
        var postingFrequencies: [Int32] = []
        var largest: Int32 = 0
        var seen = [Int32: String]()
        for _ in 0..<Int(header.postingsLists) {
            let list = try next(CIFF.PostingsList.init)
            guard let id = termId(list.term) else {
                throw SpladeError(.badInput, "\(what()): term \"\(list.term)\" is not in the vocabulary", location: name,
                                  hint: "a CIFF of token ids needs --keys ids; token strings need the --model that made them")
            }
            if let other = seen.updateValue(list.term, forKey: id) {
                throw SpladeError(.badInput, "\(what()): term \"\(list.term)\" is token \(id), as \"\(other)\" was", location: name)
            }
            if let last = list.documents.last, last >= header.documents {
                throw SpladeError(.badInput, "\(what()): docid \(last) is outside the header's \(header.documents) documents", location: name)
            }
            listTerms.append(id)
            postingDocuments.append(contentsOf: list.documents)
            postingFrequencies.append(contentsOf: list.frequencies)
            listStart.append(postingDocuments.count)
            largest = max(largest, list.frequencies.max() ?? 0)
        }

        var ids = [String?](repeating: nil, count: Int(header.documents))
        for _ in 0..<Int(header.documents) {
            let record = try next(CIFF.DocumentRecord.init)
            guard (0..<header.documents).contains(record.document) else {
                throw SpladeError(.badInput, "\(what()): docid \(record.document) is outside the header's \(header.documents) documents",
                                  location: name)
            }
            guard ids[Int(record.document)] == nil else {
                throw SpladeError(.badInput, "\(what()): a second DocRecord for docid \(record.document)", location: name)
            }
            guard !record.collectionId.isEmpty else {
                throw SpladeError(.badInput, "\(what()): DocRecord \(record.document) has an empty collection_docid", location: name)
            }
            ids[Int(record.document)] = record.collectionId
        }
        if try stream.next() != nil {
            throw SpladeError(.badInput, "data after the last DocRecord (the header announces \(header.postingsLists) postings lists and \(header.documents) documents)",
                              location: name)
        }

        // Transpose to documents: a counting sort by docid, lists taken in token id order so each
        // document's terms come out ascending.
        var documentStart = [Int](repeating: 0, count: Int(header.documents) + 1)
        for document in postingDocuments { documentStart[Int(document) + 1] += 1 }
        for d in 0..<Int(header.documents) { documentStart[d + 1] += documentStart[d] }
        var terms = [Int32](repeating: 0, count: postingDocuments.count)
        var weights = [Float](repeating: 0, count: postingDocuments.count)
        var cursor = documentStart
        for list in listTerms.indices.sorted(by: { listTerms[$0] < listTerms[$1] }) {
            for p in listStart[list]..<listStart[list + 1] {
                let d = Int(postingDocuments[p])
                terms[cursor[d]] = listTerms[list]
                weights[cursor[d]] = Float(postingFrequencies[p])
                cursor[d] += 1
            }
        }
        postingDocuments = []
        postingFrequencies = []

        var documents = DocumentBatch()
        for d in 0..<Int(header.documents) {
            let range = documentStart[d]..<documentStart[d + 1]
            documents.append(id: .string(ids[d]!), vector: SparseVector(indices: Array(terms[range]), values: Array(weights[range])))
        }
        return CIFFImport(header: header, documents: documents, largestFrequency: largest)
    }
}
