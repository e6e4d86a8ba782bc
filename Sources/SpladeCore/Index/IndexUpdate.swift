import Foundation

/// What an index is built from besides its documents: the vocabulary and the layout choices.
public struct IndexSettings: Sendable {
    public var kind: IndexManifest.Kind
    public var vocabularySize: Int
    public var fingerprint: UInt64
    /// The token strings, stored in the index when known (so JSON query vectors keyed by token work).
    public var tokens: [String]?
    public var blockSize: Int
    /// Order documents by recursive graph bisection (`DocumentReordering`) before cutting blocks.
    public var reorder: Bool
    public var bm25: IndexManifest.BM25Parameters?
    /// The impact scale; nil: the largest weight maps to 255. (A CIFF import keeps its tfs as impacts.)
    public var scale: ImpactScale? = nil
    /// Fewer documents than this leave the live index as it is (an error): a stream cut short upstream.
    public var minimumDocuments = 1

    public init(kind: IndexManifest.Kind, vocabularySize: Int, fingerprint: UInt64, tokens: [String]?, blockSize: Int,
                reorder: Bool, bm25: IndexManifest.BM25Parameters? = nil) {
        self.kind = kind
        self.vocabularySize = vocabularySize
        self.fingerprint = fingerprint
        self.tokens = tokens
        self.blockSize = blockSize
        self.reorder = reorder
        self.bm25 = bm25
    }
}

/// What a build, an addition or a deletion did, for the one-line summary.
public struct IndexUpdateSummary: Sendable {
    public var generationPath: String
    public var documents: Int
    public var added: Int
    public var deleted: Int
    public var segments: Int
    public var bytes: Int
    public var clampedWeights: Int
    /// Old generations that could not be removed once the new one was live (the next build tries again).
    public var generationsNotRemoved: [String] = []

    /// Nothing to add or delete: the live generation stays.
    static func unchanged(_ snapshot: IndexSnapshot) -> IndexUpdateSummary {
        IndexUpdateSummary(generationPath: snapshot.path, documents: snapshot.manifest.documents, added: 0, deleted: 0,
                           segments: snapshot.manifest.segments.count, bytes: snapshot.fileBytes, clampedWeights: 0)
    }
}

/// The three ways an index changes, each writing a new generation under the lock and swapping it in.
public enum IndexUpdate {
    static let vocabularyFile = "vocab.txt"

    static func segmentName(_ number: Int) -> String { "seg-" + String(number).leftPadded(to: 6) + ".spi" }
    static func deletionsName(_ segmentFile: String) -> String { String(segmentFile.dropLast(4)) + ".del" }

    /// Reports progress of the slow steps: (step, items done).
    public typealias ProgressHandler = @Sendable (_ step: String, _ done: Int) -> Void

    /// A new index of `documents` (replacing the live generation, if any), as one segment.
    public static func build(_ documents: DocumentBatch, settings: IndexSettings, directory: String,
                             lock: IndexLock, progress: ProgressHandler? = nil) throws(SpladeError) -> IndexUpdateSummary {
        let generation = try GenerationBuilder(directory: directory, lock: lock)
        return try build(DocumentSpool(documents, generation: generation), settings: settings, progress: progress)
    }

    /// A new index of the spool's documents, in its generation: a segment per batch, each ordered on its own, all
    /// with the scale of the largest weight. No documents is an error, not an empty index: in `encode | index` the
    /// input is empty when the encoder failed, and the index must survive that.
    public static func build(_ documents: DocumentSpool, settings: IndexSettings,
                             progress: ProgressHandler? = nil) throws(SpladeError) -> IndexUpdateSummary {
        let generation = documents.generation
        // A first build has no index to leave.
        let kept = generation.previous == nil ? "no index is made" : "the index is left as it was"
        guard documents.count > 0 else {
            throw SpladeError(.badInput, "no documents to index: the input is empty, so \(kept)", location: generation.directory,
                              hint: "if a step before this one failed, its status says so (set -o pipefail in scripts)")
        }
        guard documents.count >= settings.minimumDocuments else {
            throw SpladeError(.badInput, "only \(counted(documents.count, "document")) to index, fewer than "
                              + "--min-documents \(settings.minimumDocuments), so \(kept)", location: generation.directory,
                              hint: "if a step before this one stopped early, its status says so")
        }
        let scale = settings.scale ?? ImpactScale(largestWeight: documents.largestWeight)
        let writer = SegmentWriter(blockSize: settings.blockSize, vocabularySize: settings.vocabularySize,
                                   fingerprint: settings.fingerprint, scale: scale)
        let (segments, bytes, clamped) = try writeSegments(of: documents, numberedFrom: 1, writer: writer, reorder: settings.reorder,
                                                           progress: progress)
        var vocabularyFile: String?
        // vocab.txt has one token per line: a vocabulary with line breaks inside tokens is not stored.
        if let tokens = settings.tokens, !tokens.contains(where: { $0.contains("\n") || $0.contains("\r") }) {
            try generation.write(Self.vocabularyFile, Array(tokens.map { $0 + "\n" }.joined().utf8))
            vocabularyFile = Self.vocabularyFile
        }
        let manifest = IndexManifest(kind: settings.kind, vocabularySize: settings.vocabularySize, fingerprint: settings.fingerprint,
                                     vocabularyFile: vocabularyFile, blockSize: settings.blockSize, reordered: settings.reorder,
                                     scale: scale.scale, bm25: settings.bm25, segments: segments)
        let (path, notRemoved) = try generation.commit(manifest)
        return IndexUpdateSummary(generationPath: path, documents: documents.count, added: documents.count, deleted: 0,
                                  segments: segments.count, bytes: bytes, clampedWeights: clamped,
                                  generationsNotRemoved: notRemoved)
    }

    /// The live index at `directory` when documents can be added to it: checked before they are read.
    public static func indexToAddTo(directory: String) throws(SpladeError) -> IndexSnapshot {
        let snapshot = try IndexSnapshot(directory: directory)
        guard snapshot.manifest.kind == .splade else {
            throw SpladeError(.usage, "documents cannot be added to a BM25 index (its weights depend on the whole collection)",
                              location: directory, hint: "rebuild it with --bm25")
        }
        return snapshot
    }

    /// Adds the spool's documents (read into a new generation of the index `snapshot` is of) as new segments, one per
    /// batch of the spool's memory limit; the old segments are kept as they are. A document whose id is already in the
    /// index replaces it: the old one is deleted. Weights keep the index's scale. `source` names the new vectors in
    /// messages (their files).
    public static func add(_ documents: DocumentSpool, to snapshot: IndexSnapshot, fingerprint: UInt64, source: String? = nil,
                           progress: ProgressHandler? = nil) throws(SpladeError) -> IndexUpdateSummary {
        let manifest = snapshot.manifest
        guard fingerprint == manifest.fingerprint else {
            throw SpladeError(.badInput, "the new vectors were made with another vocabulary than the index \(snapshot.directory)'s "
                              + "(fingerprint differs)", location: source ?? snapshot.directory)
        }
        // No documents: the live generation stays (the staging one is dropped unswapped).
        guard documents.count > 0 else { return .unchanged(snapshot) }
        let generation = documents.generation
        let firstNumber = (manifest.segments.compactMap { Int($0.file.dropFirst(4).dropLast(4)) }.max() ?? 0) + 1
        let writer = SegmentWriter(blockSize: manifest.blockSize, vocabularySize: manifest.vocabularySize,
                                   fingerprint: manifest.fingerprint, scale: ImpactScale(scale: manifest.scale))
        var replaced = Set<ExactID>()
        let (added, bytes, clamped) = try writeSegments(of: documents, numberedFrom: firstNumber, writer: writer,
                                                        reorder: manifest.reordered, progress: progress) { batch in
            for d in 0..<batch.count { replaced.insert(ExactID(batch.idText(d))) }
        }
        var (entries, deleted, keptBytes) = try keepSegments(of: snapshot, in: generation, deleting: replaced)
        entries += added
        if let vocabulary = manifest.vocabularyFile { try generation.keep(vocabulary) }
        var next = manifest
        next.segments = entries
        let (path, notRemoved) = try generation.commit(IndexManifest(updating: next))
        return IndexUpdateSummary(generationPath: path, documents: next.documents, added: documents.count, deleted: deleted,
                                  segments: entries.count, bytes: keptBytes + bytes, clampedWeights: clamped,
                                  generationsNotRemoved: notRemoved)
    }

    /// Deletes every document whose id is in `ids`; unknown ids are ignored (counted by the caller
    /// from the summary). When none is live, no new generation is written; nor when fewer than `minimumLive`
    /// documents would stay (an error: a list of ids that names the whole collection by mistake).
    public static func delete(ids: Set<ExactID>, minimumLive: Int = 0, directory: String, lock: IndexLock)
        throws(SpladeError) -> IndexUpdateSummary {
        let snapshot = try IndexSnapshot(directory: directory)
        let generation = try GenerationBuilder(directory: directory, lock: lock)
        let (entries, deleted, keptBytes) = try keepSegments(of: snapshot, in: generation, deleting: ids)
        // No live document named: the live generation stays (the staging one is dropped unswapped).
        guard deleted > 0 else { return .unchanged(snapshot) }
        let left = snapshot.manifest.documents - deleted
        guard left >= minimumLive else {
            throw SpladeError(.badInput, "deleting \(deleted) of \(snapshot.manifest.documents) documents would leave \(left), fewer than "
                              + "--min-documents \(minimumLive), so the index is left as it was", location: directory)
        }
        if let vocabulary = snapshot.manifest.vocabularyFile { try generation.keep(vocabulary) }
        var next = snapshot.manifest
        next.segments = entries
        let (path, notRemoved) = try generation.commit(IndexManifest(updating: next))
        return IndexUpdateSummary(generationPath: path, documents: next.documents, added: 0, deleted: deleted,
                                  segments: entries.count, bytes: keptBytes, clampedWeights: 0,
                                  generationsNotRemoved: notRemoved)
    }

    /// The live documents as one segment, in place of the several that --add makes (each costs search time and
    /// tables the size of the vocabulary) and without the deleted ones: a build from the index itself, with its
    /// ids, impacts (dequantised and requantised with the same scale: exactly the same integers), block size and
    /// ordering. An index of one segment with nothing deleted is left as it is. Documents beyond `memoryLimit` bytes
    /// make a segment per batch of that size (`DocumentSpool`).
    public static func compact(directory: String, lock: IndexLock, memoryLimit: Int = .max,
                               progress: ProgressHandler? = nil) throws(SpladeError) -> IndexUpdateSummary {
        let snapshot = try IndexSnapshot(directory: directory)
        let manifest = snapshot.manifest
        guard manifest.segments.count > 1 || manifest.deleted > 0 else { return .unchanged(snapshot) }
        let documents = DocumentSpool(generation: try GenerationBuilder(directory: directory, lock: lock), memoryLimit: memoryLimit)
        try snapshot.forEachLiveDocument { id, vector throws(SpladeError) in try documents.append(id: id, vector: vector) }
        guard documents.count > 0 else {
            throw SpladeError(.badInput, "every document of the index is deleted: a compacted index would be empty", location: directory,
                              hint: "build it again from new vectors")
        }
        var settings = IndexSettings(kind: manifest.kind, vocabularySize: manifest.vocabularySize, fingerprint: manifest.fingerprint,
                                     tokens: try snapshot.vocabulary()?.tokens, blockSize: manifest.blockSize,
                                     reorder: manifest.reordered, bm25: manifest.bm25)
        settings.scale = ImpactScale(scale: manifest.scale)
        return try build(documents, settings: settings, progress: progress)
    }

    /// Writes a segment of each of the spool's batches into its generation, numbered in input order from `first`, each
    /// ordered on its own; `written` sees each batch once its segment is written. Returns the segments' manifest entries
    /// in input order, their size and the weights clamped. Progress counts the documents of all segments.
    private static func writeSegments(of documents: DocumentSpool, numberedFrom first: Int, writer: SegmentWriter, reorder: Bool,
                                      progress: ProgressHandler?, written: (DocumentBatch) -> Void = { _ in })
        throws(SpladeError) -> (entries: [IndexManifest.SegmentEntry], bytes: Int, clamped: Int) {
        var entries = [IndexManifest.SegmentEntry?](repeating: nil, count: documents.segments)
        var bytes = 0, clamped = 0, placedBefore = 0
        try documents.drain { place, batch throws(SpladeError) in
            let file = segmentName(first + place)
            let placed = placedBefore
            var segmentProgress: ProgressHandler?
            if let progress { segmentProgress = { step, done in progress(step, placed + done) } }
            let order = blockOrder(batch, reorder: reorder, blockSize: writer.blockSize, vocabularySize: writer.vocabularySize,
                                   progress: segmentProgress)
            let summary = try writer.write(batch, order: order, to: documents.generation.newFile(file))
            entries[place] = .init(file: file, documents: batch.count, deleted: 0, deletionsFile: nil)
            written(batch)
            bytes += summary.bytes
            clamped += summary.clampedWeights
            placedBefore += batch.count
        }
        return (entries.map { $0! }, bytes, clamped)
    }

    /// The order of a new segment's documents in its blocks: nil (input order) or by bisection.
    private static func blockOrder(_ documents: DocumentBatch, reorder: Bool, blockSize: Int, vocabularySize: Int,
                                   progress: ProgressHandler?) -> [Int]? {
        guard reorder else { return nil }
        var placed: (@Sendable (Int) -> Void)?
        if let progress { placed = { progress("reorder", $0) } }
        return DocumentReordering.bisectionOrder(documents, vocabularySize: vocabularySize, blockSize: blockSize, progress: placed)
    }

    /// Links the snapshot's segments into the new generation, with new deletion lists where `ids`
    /// names live documents. Returns the manifest entries, how many documents were newly deleted and the
    /// size of the segments kept.
    private static func keepSegments(of snapshot: IndexSnapshot, in generation: GenerationBuilder, deleting ids: Set<ExactID>)
        throws(SpladeError) -> (entries: [IndexManifest.SegmentEntry], deleted: Int, bytes: Int) {
        var entries: [IndexManifest.SegmentEntry] = []
        var newlyDeleted = 0, bytes = 0
        for (i, segment) in snapshot.segments.enumerated() {
            var entry = snapshot.manifest.segments[i]
            var deletions = snapshot.deletions[i] ?? Deletions(documents: segment.documents)
            let before = deletions.count
            if !ids.isEmpty {
                for d in 0..<segment.documents where !deletions.contains(d) && ids.contains(ExactID(segment.idText(d))) {
                    deletions.insert(d)
                }
            }
            newlyDeleted += deletions.count - before
            // A segment whose documents are all deleted is left out of the new generation, its files too.
            guard deletions.count < segment.documents else { continue }
            try generation.keep(entry.file)
            bytes += segment.fileBytes
            if deletions.count != before {
                let file = deletionsName(entry.file)
                try generation.write(file, deletions.serialized())
                entry.deletionsFile = file
                entry.deleted = deletions.count
            } else if let file = entry.deletionsFile {
                try generation.keep(file)
            }
            entries.append(entry)
        }
        return (entries, newlyDeleted, bytes)
    }
}

extension IndexManifest {
    /// The same index description with a fresh creation time.
    init(updating manifest: IndexManifest) {
        self.init(kind: manifest.kind, vocabularySize: manifest.vocabularySize, fingerprint: manifest.fingerprint,
                  vocabularyFile: manifest.vocabularyFile, blockSize: manifest.blockSize, reordered: manifest.reordered,
                  scale: manifest.scale,
                  bm25: manifest.bm25, segments: manifest.segments)
    }
}
