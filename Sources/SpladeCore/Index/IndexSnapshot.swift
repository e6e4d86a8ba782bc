import Foundation

/// One generation of an index, opened for reading: its manifest, its segments (mapped, not read)
/// and their deletions. Later swaps of CURRENT do not affect a snapshot already open.
public final class IndexSnapshot: @unchecked Sendable {
    public let directory: String
    public let generation: String
    public let manifest: IndexManifest
    public let segments: [Segment]
    public let deletions: [Deletions?]

    public init(directory: String) throws(SpladeError) {
        var info = stat()
        guard stat(directory, &info) == 0 else {
            throw SpladeError(.missingInput, "no such index directory", location: directory)
        }
        // An index is a directory: a file here is most likely what an index is built from (vectors, texts).
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw SpladeError(.missingInput, "not an index: an index is a directory, this is a file", location: directory,
                              hint: "an index is built from vectors: splade-index -i VECTORS -o INDEX_DIR")
        }
        // A builder may swap CURRENT and prune the generation we just read between two reads:
        // read CURRENT again and retry a few times before calling a missing file an error.
        var attempt = 0
        while true {
            attempt += 1
            guard let generation = try IndexDirectory.currentGeneration(of: directory) else {
                throw SpladeError(.missingInput, "not an index (no CURRENT file)", location: directory,
                                  hint: "build one with splade-index -o \(directory)")
            }
            let path = directory + "/" + generation
            do throws(SpladeError) {
                let manifest = try IndexManifest(path: path + "/" + IndexManifest.fileName)
                var segments: [Segment] = [], deletions: [Deletions?] = []
                for entry in manifest.segments {
                    let segment = try Segment(path: path + "/" + entry.file)
                    let h = segment.header
                    guard h.documents == entry.documents, h.vocabularySize == manifest.vocabularySize,
                          h.fingerprint == manifest.fingerprint, h.blockSize == manifest.blockSize, h.scale == manifest.scale
                    else {
                        throw SpladeError(.badInput, "segment does not match the manifest", location: segment.path, hint: "rebuild the index")
                    }
                    segments.append(segment)
                    if let file = entry.deletionsFile {
                        let deleted = try Deletions(path: path + "/" + file, documents: h.documents)
                        guard deleted.count == entry.deleted else {
                            throw SpladeError(.badInput, "deletion count does not match the manifest", location: path + "/" + file)
                        }
                        deletions.append(deleted)
                    } else {
                        guard entry.deleted == 0 else { throw SpladeError(.badInput, "deletions file missing", location: path) }
                        deletions.append(nil)
                    }
                }
                self.directory = directory
                self.generation = generation
                self.manifest = manifest
                self.segments = segments
                self.deletions = deletions
                return
            } catch {
                let stillCurrent = (try? IndexDirectory.currentGeneration(of: directory)) == generation
                guard stillCurrent || attempt >= 3 else { continue }
                throw Self.damaged(error) ?? error
            }
        }
    }

    public var path: String { directory + "/" + generation }

    /// A file the live generation lists that is not there makes the index damaged (65), not an input left unnamed
    /// (66); nil for any other error, a file that is there but cannot be opened (permissions, too many open files).
    private static func damaged(_ error: SpladeError) -> SpladeError? {
        guard error.kind == .missingInput, let path = error.location, access(path, F_OK) != 0, errno == ENOENT else { return nil }
        return SpladeError(.badInput, "the index is damaged: \(error.message)", location: path, hint: "rebuild the index")
    }

    /// The stored vocabulary (vocab.txt), when the index was built with one.
    public func vocabulary() throws(SpladeError) -> Vocabulary? {
        guard let file = manifest.vocabularyFile else { return nil }
        let vocabulary: Vocabulary
        do {
            vocabulary = try Vocabulary.load(vocabTxt: path + "/" + file)
        } catch {
            throw Self.damaged(error) ?? error
        }
        guard vocabulary.count == manifest.vocabularySize,
              VectorStreamHeader.fingerprint(of: vocabulary.tokens) == manifest.fingerprint
        else {
            throw SpladeError(.badInput, "the stored vocabulary does not match the manifest's fingerprint",
                              location: path + "/" + file, hint: "rebuild the index")
        }
        return vocabulary
    }

    /// Verifies every segment in full (checksums and invariants) and the stored vocabulary.
    public func verify() throws(SpladeError) {
        for segment in segments { try segment.verify() }
        _ = try vocabulary()
    }

    public var fileBytes: Int { segments.reduce(0) { $0 + $1.fileBytes } }
}
