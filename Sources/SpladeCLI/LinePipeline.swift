import SpladeCore

/// The loop of the tools that turn each input line into output bytes: read a batch of lines,
/// transform them on all workers, write the results in input order, account for invalid records.
/// Memory stays bounded by the batch size.
public struct LinePipeline {
    public struct Summary {
        public var records = 0
        public var skipped = 0
        public var units = 0
    }

    /// What one line became: output bytes and a count for the progress rate (tokens, say).
    public typealias Transformed = Result<(bytes: [UInt8], units: Int), SpladeError>

    let options: StreamOptions
    let progressLabel: String
    let unitName: String
    let batchSize: Int
    /// At most this many skipped records are reported one by one; the rest only in the count.
    let maxSkipWarnings = 20

    public init(options: StreamOptions, progressLabel: String, unitName: String, batchSize: Int = 2048) {
        self.options = options
        self.progressLabel = progressLabel
        self.unitName = unitName
        self.batchSize = batchSize
    }

    @discardableResult
    public func run<Worker>(workers: [Worker], _ transform: (Worker, Line, String) -> Transformed) throws(SpladeError) -> Summary {
        let reader = try LineReader(path: options.input)
        let output = try OutputSink(path: options.output)
        let progress = Progress(label: progressLabel, unit: "records", inputPath: options.input, forced: options.progress)
        var summary = Summary()
        var batch: [Line] = []
        batch.reserveCapacity(batchSize)
        var done = false
        while !done {
            batch.removeAll(keepingCapacity: true)
            while batch.count < batchSize, let line = try reader.next() { batch.append(line) }
            done = batch.count < batchSize
            let results = orderedParallelMap(batch, workers: workers) { worker, line in
                transform(worker, line, reader.name)
            }
            for result in results {
                switch result {
                case .success(let transformed):
                    try output.write(transformed.bytes)
                    summary.records += 1
                    summary.units += transformed.units
                case .failure(let error):
                    guard options.skipInvalid, error.kind == .badInput else {
                        progress.finish()
                        throw error
                    }
                    summary.skipped += 1
                    if summary.skipped <= maxSkipWarnings {
                        Diagnostics.warning("\(error.description) (skipped)")
                    }
                }
            }
            progress.update(items: summary.records, extra: (summary.units, unitName), bytes: reader.bytesConsumed)
        }
        progress.finish()
        try output.commit()
        if summary.skipped > 0 {
            Diagnostics.warning("skipped \(summary.skipped) invalid record\(summary.skipped == 1 ? "" : "s")")
        }
        return summary
    }
}
