import CMeCab
import Foundation

/// A MeCab system dictionary directory (`sys.dic`, `char.bin`, `matrix.bin`, `mecabrc`).
public struct MeCabDictionary: Sendable {
    public let directory: String
    /// The dictionary's version file (`2.1.2` for unidic-lite 1.0.8), if it has one.
    public let version: String?

    /// The UniDic release bert-base-japanese-v3 and japanese-splade-base-v1 were trained with.
    public static let expectedVersion = "2.1.2"

    /// A candidate place to look for a dictionary, in the order they are tried.
    public struct Candidate: Sendable {
        public let origin: String
        public let directory: String
        public init(origin: String, directory: String) {
            self.origin = origin
            self.directory = directory
        }
    }

    public init(directory: String) throws(SpladeError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw SpladeError(.missingInput, "MeCab dictionary directory not found", location: directory)
        }
        for file in ["sys.dic", "char.bin", "matrix.bin", "unk.dic"]
        where !FileManager.default.isReadableFile(atPath: directory + "/" + file) {
            throw SpladeError(.missingInput, "not a compiled MeCab dictionary (no readable \(file))", location: directory)
        }
        self.directory = directory
        self.version = (try? String(contentsOfFile: directory + "/version", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The first candidate that holds a dictionary; `lastResort` (a costlier search) is asked only
    /// when none does. An explicitly named directory that is not a dictionary is an error rather
    /// than a reason to look elsewhere.
    public static func locate(explicit: String?, candidates: [Candidate], lastResort: () -> Candidate?,
                              hint: String) throws(SpladeError) -> MeCabDictionary {
        if let explicit { return try MeCabDictionary(directory: explicit) }
        var tried = candidates
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.directory + "/sys.dic") {
            return try MeCabDictionary(directory: candidate.directory)
        }
        if let candidate = lastResort() {
            if FileManager.default.fileExists(atPath: candidate.directory + "/sys.dic") {
                return try MeCabDictionary(directory: candidate.directory)
            }
            tried.append(candidate)
        }
        let looked = tried.map { "\($0.origin) (\($0.directory))" }.joined(separator: ", ")
        throw SpladeError(.missingInput, "no MeCab dictionary found; looked in: \(looked)", hint: hint)
    }

    /// A warning when this is not the dictionary the published Japanese models were trained with.
    public var versionWarning: String? {
        guard version != Self.expectedVersion else { return nil }
        return "the MeCab dictionary at \(directory) is UniDic \(version ?? "of unknown version"), not UniDic "
            + "\(Self.expectedVersion) (unidic-lite 1.0.8): word boundaries, and so token ids, will differ from the published models"
    }
}

/// One MeCab tagger. Not thread-safe: each worker thread owns its own.
final class MeCabTagger {
    private let tagger: OpaquePointer

    init(dictionary: MeCabDictionary) throws(SpladeError) {
        // The same options transformers passes through fugashi: `-d DICDIR -r DICDIR/mecabrc`.
        // A separate argv keeps paths with spaces intact.
        let arguments = ["mecab", "-d", dictionary.directory, "-r", dictionary.directory + "/mecabrc"]
        var cArguments = arguments.map { strdup($0) }
        defer { cArguments.forEach { free($0) } }
        guard let tagger = mecab_new(Int32(cArguments.count), &cArguments) else {
            let reason = String(cString: mecab_strerror(nil))
            throw SpladeError(.badInput, "MeCab cannot load the dictionary: \(reason)", location: dictionary.directory)
        }
        self.tagger = tagger
    }

    deinit { mecab_destroy(tagger) }

    /// Calls `body` with the surface of each word of `text` (valid UTF-8), in order. MeCab drops
    /// the whitespace between words.
    func forEachWord(_ text: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) throws(SpladeError) {
        try forEachNode(text) { surface, _ in body(surface) }
    }

    /// Calls `body` with the surface and the feature string of each word of `text` (valid UTF-8),
    /// in order. The feature string is the dictionary's comma-separated analysis; UniDic's first
    /// field is the part of speech (名詞, 補助記号, …).
    func forEachWordWithFeature(_ text: UnsafeBufferPointer<UInt8>,
                                _ body: (UnsafeBufferPointer<UInt8>, String) -> Void) throws(SpladeError) {
        try forEachNode(text) { surface, node in body(surface, node.pointee.feature.map { String(cString: $0) } ?? "") }
    }

    /// The word nodes of one parse (BOS and EOS left out) with their surfaces.
    private func forEachNode(_ text: UnsafeBufferPointer<UInt8>,
                             _ body: (UnsafeBufferPointer<UInt8>, UnsafePointer<mecab_node_t>) -> Void) throws(SpladeError) {
        // transformers hands MeCab a C string (through fugashi), so its text ends at the first NUL.
        let length = text.firstIndex(of: 0) ?? text.count
        guard length > 0 else { return }
        let base = UnsafeRawPointer(text.baseAddress!).assumingMemoryBound(to: CChar.self)
        guard var node = mecab_sparse_tonode2(tagger, base, length) else {
            // MeCab refuses some inputs (a text of a few megabytes without a sentence break: "too long sentence").
            throw SpladeError(.badInput, "MeCab cannot analyse this text: \(String(cString: mecab_strerror(tagger)))")
        }
        while true {
            let stat = Int(node.pointee.stat)
            if stat != MECAB_BOS_NODE && stat != MECAB_EOS_NODE, let surface = node.pointee.surface {
                body(UnsafeBufferPointer(start: UnsafeRawPointer(surface).assumingMemoryBound(to: UInt8.self),
                                         count: Int(node.pointee.length)), node)
            }
            guard let next = node.pointee.next else { break }
            node = UnsafePointer(next)
        }
    }
}
