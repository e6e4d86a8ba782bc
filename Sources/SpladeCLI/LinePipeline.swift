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
    /// JSON Lines input: blank lines are no records. Plain lines (--lines): every line is one.
    let skipsBlankLines: Bool
    /// Directories the tool reads (its model), whose files the output must not replace.
    let inputDirectories: [String]

    public init(options: StreamOptions, progressLabel: String, unitName: String, batchSize: Int = 2048, skipsBlankLines: Bool,
                inputDirectories: [String] = []) {
        self.options = options
        self.inputDirectories = inputDirectories
        self.progressLabel = progressLabel
        self.unitName = unitName
        self.batchSize = batchSize
        self.skipsBlankLines = skipsBlankLines
    }

    @discardableResult
    public func run<Worker>(workers: [Worker], _ transform: (Worker, Line, String) -> Transformed) throws(SpladeError) -> Summary {
        let reader = try LineReader(path: options.input)
        let output = try OutputSink(path: options.output, inputs: [options.input], inputDirectories: inputDirectories)
        let progress = Progress(label: progressLabel, unit: "records", inputPath: options.input, forced: options.progress)
        var summary = Summary()
        var invalid = InvalidRecords(skipping: options.skipInvalid)
        var batch: [Line] = []
        batch.reserveCapacity(batchSize)
        var done = false
        while !done {
            batch.removeAll(keepingCapacity: true)
            while batch.count < batchSize, let line = try reader.next() {
                if !(skipsBlankLines && line.isBlank) { batch.append(line) }
            }
            done = batch.count < batchSize
            let results = orderedParallelMap(batch, workers: workers) { worker, line in
                transform(worker, line, reader.name)
            }
            for (line, result) in zip(batch, results) {
                switch result {
                case .success(let transformed):
                    try output.write(transformed.bytes)
                    summary.records += 1
                    summary.units += transformed.units
                case .failure(let failure):
                    let error = failure.located(at: "\(reader.name):\(line.number)")
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
