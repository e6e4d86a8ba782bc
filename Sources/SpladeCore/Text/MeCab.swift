import Foundation

/// A compiled MeCab dictionary directory: the four files MeCabTagger reads (`sys.dic`, `unk.dic`, `char.bin`,
/// `matrix.bin`) and, in unidic-lite, a `version` file.
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

