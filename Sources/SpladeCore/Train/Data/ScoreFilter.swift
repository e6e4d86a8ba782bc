/// Turns rows of candidates scored by cross-encoder rerankers into training rows, as the published
/// Japanese SPLADE data was made: a candidate's score is the mean of the chosen rerankers' scores; a
/// positive is kept at ≥ 0.7, a negative at ≤ 0.3.
///
/// Two input layouts, told apart by whether a collection is given:
/// - hpprc/emb-scores: the query in `anc`, candidate ids in columns `pos_ids`, `pos_ids.me5-large`,
///   `neg_ids`, `neg_ids.bm25`, …, resolved to texts through the collection;
/// - generic: the trainer's field names (`query`, `positives`, `negatives`, …) holding texts.
///
/// In both, the scores of column C by reranker R are the list `score.R.C`, aligned with C. Columns
/// without scores are ignored (as the reference does); a column scored by some of the rerankers but
/// not all is an error, and so is a row whose columns only other rerankers score. The role of a candidate comes from its
/// column's name; candidates are pooled over the columns of a role, a repeated one counted once (its first occurrence
/// decides).
public struct ScoreFilter: Sendable {
    public let rerankers: [String]
    public let selection: CandidateSelection
    /// Ids resolve through this collection; nil: candidates are texts.
    public let collection: DocumentCollection?

    /// Query fields, in order of preference: the trainer's names, then hpprc/emb's.
    static let queryFields = ["query", "qry", "question", "q", "anc"]
    /// Column name (before any `.suffix`) → role.
    static let columnRoles: [String: Role] = [
        "pos_ids": .positive, "pos": .positive, "positive": .positive, "positives": .positive,
        "neg_ids": .negative, "neg": .negative, "negative": .negative, "negatives": .negative,
    ]

    enum Role { case positive, negative }

    public init(rerankers: [String], selection: CandidateSelection, collection: DocumentCollection?) {
        precondition(!rerankers.isEmpty, "at least one reranker")
        self.rerankers = rerankers
        self.selection = selection
        self.collection = collection
    }

    /// Filters one input line; errors carry `FILE:LINE`.
    public func filter(_ line: Line, file: String) throws(SpladeError) -> (RowOutcome, CandidateCounts) {
        let location = "\(file):\(line.number)"
        return try filter(try JSONLine.object(line.bytes, location: location), location: location)
    }

    public func filter(_ row: JSONValue, location: String) throws(SpladeError) -> (RowOutcome, CandidateCounts) {
        guard case .object(let members) = row else {
            throw SpladeError(.badInput, "expected a JSON object, found \(row.typeName)", location: location)
        }
        guard let queryField = Self.queryFields.first(where: { row[$0] != nil }), let field = row[queryField] else {
            throw SpladeError(.badInput, "missing query field (one of \(Self.queryFields.joined(separator: ", ")))",
                              location: location)
        }
        guard let query = field.stringValue else {
            throw SpladeError(.badInput, "field \"\(queryField)\" is \(field.typeName), expected a string", location: location)
        }
        var counts = CandidateCounts()
        var positives: [TrainingRow.Candidate] = []
        var negatives: [TrainingRow.Candidate] = []
        var seen: (positive: Set<ExactID>, negative: Set<ExactID>) = ([], [])
        var scoredColumns = 0
        for (column, value) in members {
            guard let role = Self.role(of: column) else { continue }
            guard let scores = try meanScores(row, column: column, location: location) else {
                // Ignored, as the reference ignores them, but counted; a `.score` column (the reference's own output
                // beside an id column) holds no candidates.
                if column.hasSuffix(".score") { continue }
                switch value {
                case .array(let candidates): counts.unscored += candidates.count
                case .string: counts.unscored += 1
                default: break
                }
                continue
            }
            scoredColumns += 1
            if collection == nil && Self.holdsIds(column) {
                throw SpladeError(.badInput, "\"\(column)\" holds document ids (the hpprc/emb-scores layout), not texts", location: location,
                                  hint: "pass the documents the ids name: --collection FILE")
            }
            let candidates = try candidateList(value, column: column, location: location)
            guard candidates.count == scores.count else {
                throw SpladeError(.badInput, "\"\(column)\" has \(candidates.count) candidates but its scores have \(scores.count)",
                                  location: location)
            }
            for (candidate, score) in zip(candidates, scores) {
                let text = try self.text(of: candidate, column: column, location: location)
                switch role {
                case .positive:
                    guard seen.positive.insert(ExactID(candidate)).inserted else { counts.duplicates += 1; continue }
                    if selection.keepsPositive(score) {
                        positives.append(.init(text: text, score: score))
                        counts.positives += 1
                    } else {
                        counts.undecided += 1
                    }
                case .negative:
                    guard seen.negative.insert(ExactID(candidate)).inserted else { counts.duplicates += 1; continue }
                    if selection.keepsNegative(score) {
                        negatives.append(.init(text: text, score: score))
                        counts.negatives += 1
                    } else {
                        counts.undecided += 1
                    }
                }
            }
        }
        if scoredColumns == 0 {
            try noColumnScored(members, location: location)
            return (.dropped(.unscored), counts)
        }
        return (selection.outcome(TrainingRow(query: query, positives: positives, negatives: negatives)), counts)
    }

    /// A row whose candidates other rerankers scored but none of the chosen ones would only be dropped: most
    /// likely a misspelt --rerankers name, so status 65, naming the rerankers the row has. So is a row that is
    /// already a training row (teacher scores under positives_score …), which splade-train reads as it is. (A row
    /// without any scores is dropped; an input of only such rows is an error at its end.)
    private func noColumnScored(_ members: [(String, JSONValue)], location: String) throws(SpladeError) {
        let columns = members.map(\.0).filter { Self.role(of: $0) != nil }
        let present = Set(members.compactMap { name, _ -> String? in
            guard name.hasPrefix("score."), let dot = name.dropFirst(6).firstIndex(of: ".") else { return nil }
            return String(name[name.index(name.startIndex, offsetBy: 6)..<dot])
        }).sorted()
        if !columns.isEmpty, present.isEmpty,
           let scores = members.first(where: { TrainingData.positiveScoreKeys.contains($0.0) || TrainingData.negativeScoreKeys.contains($0.0) }) {
            throw SpladeError(.badInput, "the row is a training row already (\"\(scores.0)\"), with no reranker's scores to filter by",
                              location: location, hint: "splade-train reads such rows as they are (train_data)")
        }
        guard !columns.isEmpty, !present.isEmpty else { return }
        throw SpladeError(.badInput, "no candidate column (\(columns.joined(separator: ", "))) is scored by "
                          + rerankers.joined(separator: ", "), location: location,
                          hint: "the row's rerankers: \(present.joined(separator: ", "))")
    }

    static func role(of column: String) -> Role? {
        columnRoles[String(column.prefix { $0 != "." })]
    }

    /// `pos_ids`, `neg_ids.bm25`, …: columns of ids, which only a collection turns into texts.
    static func holdsIds(_ column: String) -> Bool {
        column.prefix { $0 != "." }.hasSuffix("_ids")
    }

    /// The mean score of each candidate of `column`, or nil when no reranker scored the column.
    func meanScores(_ row: JSONValue, column: String, location: String) throws(SpladeError) -> [Double]? {
        let names = rerankers.map { "score.\($0).\(column)" }
        let lists = names.map { row[$0] }
        let present = lists.filter { $0 != nil }.count
        if present == 0 { return nil }
        guard present == lists.count else {
            let missing = zip(names, lists).filter { $0.1 == nil }.map { "\"\($0.0)\"" }
            throw SpladeError(.badInput, "missing field \(missing.joined(separator: ", ")): every chosen reranker must score \"\(column)\"",
                              location: location)
        }
        var sums: [Double] = []
        for (name, list) in zip(names, lists) {
            guard case .array(let elements)? = list else {
                throw SpladeError(.badInput, "field \"\(name)\" is \(list!.typeName), expected an array of numbers", location: location)
            }
            if sums.isEmpty {
                sums = Array(repeating: 0, count: elements.count)
            } else if elements.count != sums.count {
                throw SpladeError(.badInput, "\"\(name)\" has \(elements.count) scores but \"\(names[0])\" has \(sums.count)",
                                  location: location)
            }
            for (i, element) in elements.enumerated() {
                guard let score = element.doubleValue, score.isFinite else {
                    throw SpladeError(.badInput, "\"\(name)\"[\(i)] is \(element.typeName), expected a finite number",
                                      location: location)
                }
                sums[i] += score
            }
        }
        return sums.map { $0 / Double(rerankers.count) }
    }

    /// The candidates of a column: ids (with a collection) or texts. A single string is a list of one,
    /// as the trainer reads `"positives": "text"`.
    func candidateList(_ value: JSONValue, column: String, location: String) throws(SpladeError) -> [String] {
        let elements: [JSONValue]
        switch value {
        case .array(let array): elements = array
        case .string: elements = [value]
        default:
            throw SpladeError(.badInput, "field \"\(column)\" is \(value.typeName), expected an array", location: location)
        }
        var candidates: [String] = []
        candidates.reserveCapacity(elements.count)
        for (i, element) in elements.enumerated() {
            if collection != nil, let id = element.idText {
                candidates.append(id)
            } else if collection == nil, let text = element.stringValue {
                candidates.append(text)
            } else {
                throw SpladeError(.badInput, "\"\(column)\"[\(i)] is \(element.typeName), expected \(collection == nil ? "a text" : "an id")",
                                  location: location,
                                  hint: collection == nil && element.typeName == "number" ? "ids need --collection FILE" : nil)
            }
        }
        return candidates
    }

    func text(of candidate: String, column: String, location: String) throws(SpladeError) -> String {
        guard let collection else { return candidate }
        guard let text = collection.text(of: candidate) else {
            throw SpladeError(.badInput, "unknown id \(candidate) in \"\(column)\" (not in \(collection.name))", location: location)
        }
        return text
    }
}
