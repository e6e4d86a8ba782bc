import SpladeCLI
import SpladeCore

extension SpladeIndex {
    /// --export ENGINE: the live documents of --index (weights dequantised: impact × scale, within
    /// scale/2 of the indexed weights), or the vectors of the -i inputs as they are, streamed to
    /// -o (standard output by default) in the engine's bulk format; with --mapping, what creates the index instead.
    func exportToEngine(_ format: ExportFormat) throws(SpladeError) {
        guard let engine = SearchEngine(rawValue: format.rawValue) else {
            preconditionFailure("--export \(format.rawValue) is not a search engine")
        }
        let writer = EngineFormat(engine: engine, indexName: indexName, vespaNamespace: vespaNamespace)
        try writer.validateNames()
        let sink = try OutputSink(path: output, inputs: inputs, inputDirectories: [index].compactMap { $0 } + modelDirectories)
        if mapping {
            try sink.write(writer.definition())
        } else if let index {
            let snapshot = try IndexSnapshot(directory: index)
            guard snapshot.manifest.kind == .splade else {
                throw SpladeError(.usage, "a BM25 index holds term weights of this collection only; export the vectors of a SPLADE index",
                                  location: index)
            }
            try snapshot.forEachLiveDocument { id, vector throws(SpladeError) in try sink.write(writer.document(id: id, vector: vector)) }
        } else {
            _ = try forEachInputVector { record throws(SpladeError) in try sink.write(writer.document(id: record.id, vector: record.vector)) }
        }
        try sink.commit()
    }
}
