import SpladeCLI
import SpladeCore

/// Where training rows come from: scored candidate rows, or queries to mine negatives for.
enum RowSource: Sendable {
    case scoredRows(ScoreFilter)
    case queries(HardNegativeMiner)

    /// The outcome of one input line; errors carry `FILE:LINE`.
    func outcome(of line: Line, file: String) throws(SpladeError) -> (RowOutcome, CandidateCounts) {
        switch self {
        case .scoredRows(let filter):
            return try filter.filter(line, file: file)
        case .queries(let miner):
            let record = try TextRecordFormat().parse(line, file: file)
            let id: String
            switch record.id {
            case .string(let text): id = text
            case .number(let literal): id = literal
            default: preconditionFailure("TextRecordFormat accepts only string and number ids")
            }
            return try miner.row(queryId: id, query: record.text)
        }
    }

    /// Why a row is dropped when the input does not fit the other files or options at all: an input of nothing else
    /// is an error.
    var mismatch: DropReason {
        switch self {
        case .scoredRows: .unscored
        case .queries: .unknownQuery
        }
    }

    /// The error for an input whose every row was dropped for `mismatch`.
    func mismatchError(input: String) -> SpladeError {
        switch self {
        case .scoredRows(let filter):
            SpladeError(.badInput, "no row has a candidate column scored by \(filter.rerankers.joined(separator: ", "))", location: input,
                        hint: "scores are lists score.RERANKER.COLUMN aligned with the column's candidates "
                            + "(score.\(filter.rerankers[0]).pos_ids …)")
        case .queries:
            SpladeError(.badInput, "no query is in the runs or the qrels", location: input,
                        hint: "a query's \"id\" must be the query id of the runs and qrels, byte for byte")
        }
    }
}

/// Reads the input in batches, makes the rows on all threads, writes them in input order (or, with
/// up-sampling, all at the end), and counts what happened.
struct FilterLoop {
    let options: StreamOptions
    let source: RowSource
    let upsampling: Upsampling
    /// Every file the run reads besides the rows (runs, qrels, the collection), which the output must not replace.
    let otherInputs: [String]
    let batchSize = 1024

    func run() throws(SpladeError) -> FilterSummary {
        let reader = try LineReader(path: options.input)
        let output = try OutputSink(path: options.output, inputs: [options.input] + otherInputs)
        let progress = Progress(label: "filter", unit: "rows", inputPath: options.input, forced: options.progress)
        let workers = Array(repeating: source, count: options.threads)
        var summary = FilterSummary()
        var invalid = InvalidRecords(skipping: options.skipInvalid)
        // Up-sampled output is shuffled, so the kept rows wait in memory (as encoded lines).
        var held: [[UInt8]] = []
        var batch: [Line] = []
        var done = false
        while !done {
            batch.removeAll(keepingCapacity: true)
            while batch.count < batchSize, let line = try reader.next() {
                // Blank lines (a trailing newline too many) are not records.
                if !line.isBlank { batch.append(line) }
            }
            done = batch.count < batchSize
            let results = orderedParallelMap(batch, workers: workers) { source, line in
                Result { () throws(SpladeError) in try source.outcome(of: line, file: reader.name) }
            }
            for result in results {
                summary.read += 1
                switch result {
                case .success((let outcome, let counts)):
                    summary.candidates += counts
                    switch outcome {
                    case .kept(let row):
                        summary.kept += 1
                        if upsampling.factor == 1 { try output.write(row.jsonLine) } else { held.append(row.jsonLine) }
                    case .dropped(let reason):
                        summary.dropped[reason, default: 0] += 1
                    }
                case .failure(let error):
                    guard invalid.absorb(error) else {
                        progress.finish()
                        throw error
                    }
                    summary.invalid = invalid.count
                }
            }
            progress.update(items: summary.read, bytes: reader.bytesConsumed)
        }
        progress.finish()
        let usable = summary.read - summary.invalid
        if usable > 0, summary.dropped[source.mismatch] == usable {
            // An empty training file would pass for a result.
            throw source.mismatchError(input: reader.name)
        }
        if upsampling.factor > 1 {
            for index in upsampling.order(count: held.count) { try output.write(held[index]) }
        }
        try output.commit()
        return summary
    }
}

/// The counts reported on standard error at the end.
struct FilterSummary {
    var read = 0
    var kept = 0
    var dropped: [DropReason: Int] = [:]
    var invalid = 0
    var candidates = CandidateCounts()

    func report(mining: Bool, augFactor: Int, minNegatives: Int) {
        var line = "\(read) \(mining ? "queries" : "rows") read, \(kept) kept"
        if augFactor > 1 { line += " (\(kept * augFactor) rows written with --aug-factor \(augFactor))" }
        line += "; dropped: "
        if let unscored = dropped[.unscored] { line += "\(unscored) without the rerankers' scores, " }
        if let unknown = dropped[.unknownQuery] { line += "\(unknown) in neither the runs nor the qrels, " }
        line += "\(dropped[.noPositive] ?? 0) without a positive, "
            + "\(dropped[.tooFewNegatives] ?? 0) with fewer than \(minNegatives) negatives, \(invalid) invalid"
        Diagnostics.note(line)
        var details = "candidates: positives kept \(candidates.positives), negatives kept \(candidates.negatives), "
            + "outside the thresholds \(candidates.undecided), duplicates \(candidates.duplicates)"
        if candidates.unscored > 0 { details += ", without a teacher score \(candidates.unscored)" }
        Diagnostics.note(details)
    }
}
