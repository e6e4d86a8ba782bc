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
        var invalid = InvalidRecords(skipping: options.skipInvalid)
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
                    guard invalid.absorb(error) else {
                        progress.finish()
                        throw error
                    }
                }
            }
            progress.update(items: summary.records, extra: (summary.units, unitName), bytes: reader.bytesConsumed)
        }
        progress.finish()
        try output.commit()
        invalid.reportCount()
        summary.skipped = invalid.count
        return summary
    }
}
