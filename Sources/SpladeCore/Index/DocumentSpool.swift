#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A new index's documents in input order, held in memory up to a limit: beyond it, each full batch is written to
/// a spill file in the staging generation and later becomes a segment of its own, so a build needs memory for one
/// batch, not for the whole collection. The batches are spilled rather than indexed as they fill because the
/// impact scale comes from the largest weight of all documents, known only once everything is read.
public final class DocumentSpool {
    /// The bytes of documents (`DocumentBatch.memoryBytes`) at which a batch is spilled.
    public let memoryLimit: Int
    let generation: GenerationBuilder
    private var current = DocumentBatch()
    /// Spill files in input order, with their documents' count.
    private var spilled: [(path: String, documents: Int)] = []
    public private(set) var count = 0
    private var largestSpilledWeight: Float = 0

    public init(generation: GenerationBuilder, memoryLimit: Int = .max) {
        precondition(memoryLimit > 0)
        self.generation = generation
        self.memoryLimit = memoryLimit
    }

    /// Documents already read as one batch, without a limit.
    convenience init(_ documents: DocumentBatch, generation: GenerationBuilder) {
        self.init(generation: generation)
        current = documents
        count = documents.count
    }

    public func append(id: JSONValue, vector: SparseVector) throws(SpladeError) {
        let postings = vector.indices.count  // at most: weights ≤ 0 are left out
        if current.count > 0 && current.memoryBytes + 8 * postings > memoryLimit { try spill() }
        // The arrays grow by doubling, as they would by themselves, but not past the limit: a batch that
        // ends just above a power of two would otherwise hold almost twice the memory allowed.
        current.reserve(morePostings: postings, upTo: memoryLimit / 8)
        current.append(id: id, vector: vector)
        count += 1
    }

    /// Replaces each weight by `weight(document, term, weight)`, `document` numbering all documents in input order
    /// from 0: the batch in memory in place, each spilled one read back and written again.
    public func reweight(_ weight: (_ document: Int, _ term: UInt32, _ value: Float) -> Float) throws(SpladeError) {
        var first = 0
        largestSpilledWeight = 0
        for file in spilled {
            var batch = try DocumentBatch(spillFile: file.path)
            let offset = first
            batch.reweight { document, term, value in weight(offset + document, term, value) }
            try batch.writeSpillFile(file.path)
            largestSpilledWeight = max(largestSpilledWeight, batch.largestWeight)
            first += batch.count
        }
        current.reweight { document, term, value in weight(first + document, term, value) }
    }

    /// The largest weight of all documents: the impact scale of a new index.
    public var largestWeight: Float { max(largestSpilledWeight, current.largestWeight) }

    /// The segments the documents make: one per spilled batch, and the batch still in memory.
    public var segments: Int { spilled.count + (current.count > 0 ? 1 : 0) }

    /// Hands each batch to `body` with its place in input order (0 first), the batch in memory first (so that it
    /// is released before a spilled one is read back), and removes each spill file once read.
    func drain(_ body: (_ place: Int, _ documents: DocumentBatch) throws(SpladeError) -> Void) throws(SpladeError) {
        if current.count > 0 {
            let last = current
            current = DocumentBatch()
            try body(spilled.count, last)
        }
        for (place, file) in spilled.enumerated() {
            let documents = try DocumentBatch(spillFile: file.path)
            guard documents.count == file.documents else {
                throw SpladeError(.internalError, "the spill file holds \(documents.count) documents, not \(file.documents)", location: file.path)
            }
            unlink(file.path)
            InterruptionCleanup.unregister(file.path)
            try body(place, documents)
        }
        spilled = []
    }

    private func spill() throws(SpladeError) {
        let path = generation.newFile("spill-" + String(spilled.count + 1).leftPadded(to: 6) + ".tmp")
        try current.writeSpillFile(path)
        spilled.append((path, current.count))
        largestSpilledWeight = max(largestSpilledWeight, current.largestWeight)
        current = DocumentBatch()
    }
}

/// A batch's arrays as they are in memory, behind a header of their lengths: a file only this process reads back.
extension DocumentBatch {
    private static let spillMagic: UInt64 = 0x4C4C_4950_5345_4450  // "PDESPILL" little-endian

    /// The bytes its arrays hold (reserved capacity aside): what a build's memory limit counts.
    public var memoryBytes: Int { idBytes.count + 8 * (idStart.count + postingStart.count) + 8 * postings }

    /// Room for `more` postings: the capacity doubles, but to no more than `limit` postings unless they need more.
    mutating func reserve(morePostings more: Int, upTo limit: Int) {
        let needed = postings + more
        guard needed > terms.capacity else { return }
        let capacity = max(needed, min(2 * terms.capacity, limit))
        terms.reserveCapacity(capacity)
        weights.reserveCapacity(capacity)
    }

    func writeSpillFile(_ path: String) throws(SpladeError) {
        let file = try OutputFile(path: path)
        let header: [UInt64] = [Self.spillMagic, UInt64(idBytes.count), UInt64(count), UInt64(postings), UInt64(largestWeight.bitPattern)]
        try file.write(contentsOf: header)
        try file.write(contentsOf: idBytes)
        try file.write(contentsOf: idStart)
        try file.write(contentsOf: terms)
        try file.write(contentsOf: weights)
        try file.write(contentsOf: postingStart)
        try file.close(durably: false)  // read back by this build only: no need to wait for the disk
    }

    /// Read with read(2) straight into the arrays: a mapping would hold the file's pages besides the copy.
    init(spillFile path: String) throws(SpladeError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw SpladeError(.writeFailure, "cannot open the spill file: \(systemErrorMessage())", location: path) }
        defer { close(descriptor) }
        func take<T: BitwiseCopyable>(_ count: Int, of: T.Type) throws(SpladeError) -> [T] {
            var failure: SpladeError?
            let elements = [T](unsafeUninitializedCapacity: count) { buffer, initialized in
                let bytes = UnsafeMutableRawBufferPointer(buffer)
                var offset = 0
                while offset < bytes.count {
                    let n = read(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    if n < 0 && errno == EINTR { continue }
                    guard n > 0 else {
                        failure = SpladeError(.writeFailure, n < 0 ? "cannot read the spill file: \(systemErrorMessage())"
                                                                     : "the spill file is shorter than it was written", location: path)
                        break
                    }
                    offset += n
                }
                initialized = failure == nil ? count : 0
            }
            if let failure { throw failure }
            return elements
        }
        let header = try take(5, of: UInt64.self)
        guard header[0] == Self.spillMagic else { throw SpladeError(.internalError, "not a spill file", location: path) }
        let (idByteCount, documents, postingCount) = (Int(header[1]), Int(header[2]), Int(header[3]))
        self.init()
        idBytes = try take(idByteCount, of: UInt8.self)
        idStart = try take(documents + 1, of: UInt64.self)
        terms = try take(postingCount, of: UInt32.self)
        weights = try take(postingCount, of: Float.self)
        postingStart = try take(documents + 1, of: UInt64.self)
        largestWeight = Float(bitPattern: UInt32(header[4]))
    }
}
