import Foundation

/// One training row as read from the reference trainer's generic JSON Lines (splade-filter writes them): a query, its positives and
/// negatives, and the teacher (reranker) scores aligned with them.
public struct TrainingExample: Sendable {
    public var query: String
    public var positives: [String]
    public var negatives: [String]
    public var positiveScores: [Float]?
    public var negativeScores: [Float]?
    public var location: String
}

public enum TrainingData {
    static let queryKeys = ["query", "qry", "question", "q"]
    static let positiveKeys = ["pos", "positive", "positives"]
    static let negativeKeys = ["neg", "negative", "negatives"]
    static let positiveScoreKeys = ["pos_score", "positive_score", "positive_scores", "positives_score"]
    static let negativeScoreKeys = ["neg_score", "negative_score", "negative_scores", "negatives_score"]

    /// Rows of every file named, or of every .jsonl / .jsonl.zst file in a named directory (sorted).
    /// `teacherScoresNeededBy`: the configured losses that compare with teacher scores (see
    /// `TrainingConfig.lossesNeedingTeacherScores`); when there are any, a row without scores is an error.
    public static func load(_ paths: [String], groupSize: Int, teacherScoresNeededBy losses: [String] = [])
        throws(SpladeError) -> [TrainingExample] {
        var rows: [TrainingExample] = []
        for path in paths {
            for file in try files(path) {
                let reader = try LineReader(path: file)
                while let line = try reader.next() {
                    if line.isBlank { continue }
                    rows.append(try parse(line, file: reader.name, groupSize: groupSize, teacherScoresNeededBy: losses))
                }
            }
        }
        guard !rows.isEmpty else { throw SpladeError(.badInput, "no training rows in \(paths.joined(separator: ", "))") }
        return rows
    }

    static func files(_ path: String) throws(SpladeError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw SpladeError(.missingInput, "training data not found", location: path)
        }
        guard isDirectory.boolValue else { return [path] }
        let found = listing(path).read
        guard !found.isEmpty else { throw SpladeError(.missingInput, "no .jsonl files in the directory", location: path) }
        return found
    }

    /// The files of the directories among `paths` that loading passes over (not .jsonl / .jsonl.zst, not hidden),
    /// so that a .json file put there by mistake is said rather than silently left out.
    public static func filesPassedOver(in paths: [String]) -> [String] {
        paths.flatMap { listing($0).passedOver }
    }

    /// A directory's .jsonl / .jsonl.zst files, which are read, and its other files but hidden ones, sorted by name; none
    /// for a path that is no directory.
    private static func listing(_ directory: String) -> (read: [String], passedOver: [String]) {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        let isRead = { (name: String) in name.hasSuffix(".jsonl") || name.hasSuffix(".jsonl.zst") }
        let read = names.filter(isRead)
        let passedOver = names.filter { !isRead($0) && !$0.hasPrefix(".") }
        return (read.map { directory + "/" + $0 }, passedOver.map { directory + "/" + $0 })
    }

    static func parse(_ line: Line, file: String, groupSize: Int, teacherScoresNeededBy losses: [String] = [])
        throws(SpladeError) -> TrainingExample {
        let location = "\(file):\(line.number)"
        let json = try JSONLine.object(line.bytes, location: location)
        func field(_ keys: [String]) -> JSONValue? { keys.lazy.compactMap { json[$0] }.first }
        func texts(_ keys: [String], _ what: String) throws(SpladeError) -> [String] {
            switch field(keys) {
            case .string(let s)?: return [s]
            case .array(let items)?:
                var result: [String] = []
                for item in items {
                    guard let s = item.stringValue else { throw SpladeError(.badInput, "\(what) must be texts", location: location) }
                    result.append(s)
                }
                return result
            case nil: return []
            default: throw SpladeError(.badInput, "\(what) must be a text or a list of texts", location: location)
            }
        }
        func scores(_ keys: [String], count: Int, _ what: String) throws(SpladeError) -> [Float]? {
            guard let value = field(keys) else { return nil }
            let items: [JSONValue]
            if case .array(let list) = value { items = list } else { items = [value] }
            var result: [Float] = []
            for item in items {
                guard let number = item.doubleValue else { throw SpladeError(.badInput, "\(what) must be numbers", location: location) }
                result.append(Float(number))
            }
            guard result.count == count else {
                throw SpladeError(.badInput, "\(result.count) \(what) for \(counted(count, "text"))", location: location)
            }
            return result
        }
        guard let queryField = field(queryKeys) else {
            throw SpladeError(.badInput, "no query (one of \(queryKeys.joined(separator: "|")))", location: location)
        }
        guard let query = queryField.stringValue else {
            throw SpladeError(.badInput, "the query is \(queryField.typeName), expected a text", location: location)
        }
        let positives = try texts(positiveKeys, "positives"), negatives = try texts(negativeKeys, "negatives")
        guard !positives.isEmpty else { throw SpladeError(.badInput, "no positives", location: location) }
        guard groupSize == 1 || !negatives.isEmpty else {
            throw SpladeError(.badInput, "no negatives, but train_group_size is \(groupSize)", location: location)
        }
        let positiveScores = try scores(positiveScoreKeys, count: positives.count, "positive scores")
        let negativeScores = try scores(negativeScoreKeys, count: negatives.count, "negative scores")
        // Without scores (a misspelt key, say) the labels would silently become 1, 0, …, 0: binarize_label asks
        // for that explicitly. Negatives need scores only when the group samples them.
        let missingScores = positiveScores == nil ? positiveScoreKeys
            : negativeScores == nil && !negatives.isEmpty && groupSize > 1 ? negativeScoreKeys : nil
        if !losses.isEmpty, let missingScores {
            throw SpladeError(.badInput, "no teacher scores (\(missingScores.joined(separator: "|"))), needed by training_losses "
                              + losses.joined(separator: ", "), location: location,
                              hint: "give every row scores for its positives and negatives, or set binarize_label: true "
                                  + "to train on labels 1, 0, …, 0")
        }
        // kl_div takes log y of the teacher's distribution: a negative score has none (the reference gives NaN).
        if losses.contains("kl_div"), let negative = ((positiveScores ?? []) + (negativeScores ?? [])).first(where: { $0 < 0 }) {
            throw SpladeError(.badInput, "teacher score \(negative) is negative, which kl_div cannot take (log y)", location: location,
                              hint: "rescale the scores to 0…1, or use margin_mse or mse")
        }
        return TrainingExample(query: query, positives: positives, negatives: negatives, positiveScores: positiveScores,
                               negativeScores: negativeScores, location: location)
    }
}

/// One row's group for a micro-batch: its query, 1 positive and G − 1 negatives, with labels.
struct SampledGroup {
    var query: String
    var documents: [String]
    var labels: [Float]
    /// The row's FILE:LINE, for errors about its texts.
    var location: String

    /// Samples row `row` for epoch `epoch`: the positive uniformly, the negatives without replacement
    /// (with replacement when the row has fewer than G − 1). Labels are the teacher scores as given
    /// (1, 0, …, 0 with binarize_label; loading refuses rows without scores otherwise).
    init(_ source: TrainingExample, groupSize: Int, binarize: Bool, seed: UInt64, epoch: Int, row: Int) {
        var random = SeededRandom(seed: seed, UInt64(epoch), UInt64(row))
        let p = Int(random.next() % UInt64(source.positives.count))
        var negativeIndices: [Int]
        if source.negatives.count >= groupSize - 1 {
            negativeIndices = Array(source.negatives.indices)
            negativeIndices.shuffle(using: &random)
            negativeIndices = Array(negativeIndices.prefix(groupSize - 1))
        } else {
            negativeIndices = (0..<(groupSize - 1)).map { _ in Int(random.next() % UInt64(source.negatives.count)) }
        }
        query = source.query
        location = source.location
        documents = [source.positives[p]] + negativeIndices.map { source.negatives[$0] }
        // (A group of one samples no negative, so its row needs no negative scores.)
        if binarize || source.positiveScores == nil || (groupSize > 1 && source.negativeScores == nil) {
            labels = [1] + [Float](repeating: 0, count: groupSize - 1)
        } else {
            labels = [source.positiveScores![p]] + negativeIndices.map { source.negativeScores![$0] }
        }
    }
}
