import Foundation
import SpladeCore
import Testing

/// Interoperability from the command line: exports for search engines and their query bodies,
/// sharded encoding (--shard I/N) and merging shards (-i repeated), big-ann-benchmarks .csr input.
@Suite(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
struct InteropCLITests {
    let model = IndexCLISupport.model
    let engines = ["opensearch", "opensearch-seismic", "elasticsearch", "milvus", "qdrant", "vespa"]

    func json(_ line: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// The exported vectors (the key 100 → weight maps of every document), whatever the engine.
    func exportedWeights(_ lines: [String], engine: String) throws -> [String: [String: Double]] {
        var result: [String: [String: Double]] = [:]
        switch engine {
        case "opensearch", "opensearch-seismic", "elasticsearch":
            #expect(lines.count % 2 == 0)
            for i in stride(from: 0, to: lines.count, by: 2) {
                let action = try #require(try json(lines[i])["index"] as? [String: Any])
                #expect(action["_index"] as? String == "splade")
                result[try #require(action["_id"] as? String)] = try json(lines[i + 1])["sparse_embedding"] as? [String: Double]
            }
        case "milvus":
            for line in lines { let o = try json(line); result[try #require(o["id"] as? String)] = o["sparse_embedding"] as? [String: Double] }
        case "qdrant":
            for line in lines {
                let o = try json(line)
                let vector = try #require((o["vector"] as? [String: Any])?["sparse_embedding"] as? [String: [Double]])
                let id = try #require((o["payload"] as? [String: Any])?["id"] as? String)
                result[id] = Dictionary(uniqueKeysWithValues: zip(vector["indices"]!.map { String(Int($0)) }, vector["values"]!))
            }
        default:
            for line in lines {
                let o = try json(line)
                let fields = try #require(o["fields"] as? [String: Any])
                let id = try #require(fields["id"] as? String)
                #expect(o["put"] as? String == "id:splade:splade::\(id)")
                result[id] = fields["sparse_embedding"] as? [String: Double]
            }
        }
        return result
    }

    @Test func exportsAnIndexAndAStreamForEveryEngine() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 40)
        try IndexCLISupport.write("d3\nd17\n", to: directory + "/gone.txt")
        #expect(try Tools.run("splade-index", ["-o", index, "--delete", directory + "/gone.txt", "--quiet"]).status == 0)
        var expected: [String: [String: Double]] = [:]
        for line in IndexCLISupport.vectorLines(count: 40).split(separator: "\n") {
            let o = try json(String(line))
            expected[o["id"] as! String] = o["vector"] as? [String: Double]
        }
        let largest = expected.values.flatMap(\.values).max()!
        for engine in engines {
            let fromIndex = try Tools.run("splade-index", ["--export", engine, "--index", index])
            #expect(fromIndex.status == 0, "\(engine): \(fromIndex.stderr)")
            let exported = try exportedWeights(fromIndex.stdoutLines, engine: engine)
            #expect(Set(exported.keys) == Set(expected.keys).subtracting(["d3", "d17"]), "\(engine)")
            // Dequantised impacts: within half an impact step (scale = largest weight / 255) of the input.
            for (id, weights) in exported {
                #expect(Set(weights.keys) == Set(expected[id]!.keys), "\(engine) \(id)")
                for (key, weight) in weights { #expect(abs(weight - expected[id]![key]!) <= largest / 510 * 1.0001, "\(engine) \(id)") }
            }
            // -o FILE holds what standard output gets.
            let toFile = try Tools.run("splade-index", ["--export", engine, "--index", index, "-o", directory + "/export.\(engine)"])
            #expect(toFile.status == 0 && toFile.stdout.isEmpty, "\(engine): \(toFile.stderr)")
            #expect(try String(contentsOfFile: directory + "/export.\(engine)", encoding: .utf8) == fromIndex.stdoutText, "\(engine)")
            let fromStream = try Tools.run("splade-index", ["--export", engine, "--model", model, "--keys", "ids",
                                                            "-i", directory + "/docs.jsonl"])
            #expect(fromStream.status == 0, "\(engine): \(fromStream.stderr)")
            #expect(try exportedWeights(fromStream.stdoutLines, engine: engine) == expected, "\(engine)")

            let mapping = try Tools.run("splade-index", ["--export", engine, "--mapping", "--index-name", "docs"])
            #expect(mapping.status == 0)
            if engine == "vespa" {
                #expect(mapping.stdoutText.hasPrefix("schema docs {"))
            } else {
                #expect(mapping.stdoutLines.count == 1)
                _ = try json(mapping.stdoutText)
            }
        }
        // Names each engine refuses are refused here, before anything is written.
        for (engine, name) in [("vespa", "my-docs"), ("vespa", "True"), ("milvus", "1docs"), ("opensearch", "Docs"), ("elasticsearch", "_docs"),
                               ("opensearch-seismic", "a,b"), ("qdrant", "a/b")] {
            let refused = try Tools.run("splade-index", ["--export", engine, "--mapping", "--index-name", name])
            #expect(refused.status == 64 && refused.stdout.isEmpty && refused.stderr.contains("--index-name \"\(name)\" is not"),
                    "\(engine) \(name): \(refused.stderr)")
        }
        let namespace = try Tools.run("splade-index", ["--export", "vespa", "--mapping", "--vespa-namespace", "a:b"])
        #expect(namespace.status == 64 && namespace.stderr.contains("not a Vespa namespace"), "\(namespace.stderr)")
        #expect(try Tools.run("splade-index", ["--export", "ciff", "--mapping"]).status == 64)
        #expect(try Tools.run("splade-index", ["--export", "qdrant", "--index", directory + "/none"]).status == 66)
        #expect(try Tools.run("splade-index", ["--export", "qdrant", "--index", index], stdoutPath: "/dev/full").status == 74)
    }

    @Test func searchWritesEngineQueryBodies() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let queries = "{\"id\":\"q1\",\"vector\":{\"2001\":0.5,\"2002\":1}}\n\n{\"id\":\"q2\",\"vector\":{\"2003\":2}}\n"
        for engine in engines {
            let run = try Tools.run("splade-search", ["--format", engine, "--vectors", "--keys", "ids", "-k", "7"], stdin: queries)
            #expect(run.status == 0, "\(engine): \(run.stderr)")
            #expect(run.stdoutLines.count == 2)
            for line in run.stdoutLines { _ = try json(line) }
        }
        let qdrant = try Tools.run("splade-search", ["--format", "qdrant", "--vectors", "--keys", "ids", "-k", "7"], stdin: queries)
        #expect(qdrant.stdoutLines[0] == #"{"query":{"indices":[2001,2002],"values":[0.5,1.0]},"using":"sparse_embedding","limit":7,"with_payload":true}"#)
        // --query-terms keeps the largest weights in the bodies too; --alpha has no meaning there.
        let cut = try Tools.run("splade-search", ["--format", "qdrant", "--vectors", "--keys", "ids", "-k", "7", "--query-terms", "1"],
                                stdin: queries)
        #expect(cut.stdoutLines.first?.hasPrefix(#"{"query":{"indices":[2002],"values":[1.0]}"#) == true, "\(cut.stdoutText)")
        #expect(try Tools.run("splade-search", ["--format", "qdrant", "--vectors", "--keys", "ids", "--alpha", "0.5"], stdin: queries)
            .status == 64)
        // Tokenizer-only text queries: every token weighs its count.
        let tokens = try Tools.run("splade-search", ["--format", "elasticsearch", "--model", model, "--tokens-only", "--lines", "-k", "3"],
                                   stdin: "hello hello world\n")
        #expect(tokens.status == 0, "\(tokens.stderr)")
        let vector = try #require(((try json(tokens.stdoutText)["query"] as? [String: Any])?["sparse_vector"] as? [String: Any])?["query_vector"]
                                  as? [String: Double])
        #expect(vector.values.sorted() == [1, 2])
        // Token keys need --model for the vocabulary.
        let byToken = try Tools.run("splade-search", ["--format", "milvus", "--vectors"], stdin: "{\"id\":1,\"vector\":{\"hello\":1}}\n")
        #expect(byToken.status == 65 && byToken.stderr.contains("--model"), "\(byToken.stderr)")
        #expect(try Tools.run("splade-search", ["--format", "milvus"], stdin: queries).status == 64)
        let badName = try Tools.run("splade-search", ["--format", "vespa", "--vectors", "--keys", "ids", "--index-name", #"a"b"#],
                                    stdin: queries)
        #expect(badName.status == 64 && badName.stdout.isEmpty && badName.stderr.contains("not a Vespa schema name"), "\(badName.stderr)")
        // Bodies that do not name the index leave --index-name unchecked (a search may name a pattern, logs-*).
        let unnamed = try Tools.run("splade-search", ["--format", "elasticsearch", "--vectors", "--keys", "ids", "--index-name", "Logs-*"],
                                    stdin: queries)
        #expect(unnamed.status == 0, "\(unnamed.stderr)")
        #expect(try Tools.run("splade-search", ["--format", "milvus", "--index", directory, "--vectors", "--keys", "ids"], stdin: queries)
            .status == 64)
    }

    /// Shard I of N holds the records r with r mod N = I: together the shards are the input, once.
    @Test func shardsPartitionTheInputExactly() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let lines = IndexCLISupport.vectorLines(count: 50).split(separator: "\n").map(String.init)
        // A blank line is no record: it shifts nothing.
        try IndexCLISupport.write(lines[..<10].joined(separator: "\n") + "\n\n" + lines[10...].joined(separator: "\n") + "\n",
                                  to: directory + "/docs.jsonl")
        var union: [String] = []
        for i in 0..<3 {
            let arguments = ["--convert", "--keys", "ids", "--shard", "\(i)/3", "-i", directory + "/docs.jsonl"]
            let shard = try Tools.run("splade-encode", arguments)
            #expect(shard.status == 0, "\(shard.stderr)")
            #expect(shard.stdoutLines == stride(from: i, to: 50, by: 3).map { lines[$0] }.map(normalised))
            #expect(try Tools.run("splade-encode", arguments).stdout == shard.stdout)
            union += shard.stdoutLines
        }
        #expect(union.sorted() == lines.map(normalised).sorted())
        for bad in ["3/3", "1", "-1/2", "0/0", "a/b"] {
            #expect(try Tools.run("splade-encode", ["--convert", "--keys", "ids", "--shard", bad], stdin: "").status == 64, "\(bad)")
        }
        // Plain text: every line is a record, blank ones too (their id is the line number).
        let text = try Tools.run("splade-encode", ["--model", model, "--lines", "--keys", "ids", "--shard", "1/2"], stdin: "a\n\nb\nc\n")
        #expect(text.status == 0, "\(text.stderr)")
        #expect(try text.stdoutLines.map { try json($0)["id"] as? Int } == [2, 4])
    }

    /// A JSON line as splade-encode --convert writes it back (same numbers, its own formatting).
    func normalised(_ line: String) -> String {
        let o = try! json(line)
        let vector = (o["vector"] as! [String: Double]).sorted { Int($0.key)! < Int($1.key)! }
        return "{\"id\":\"\(o["id"]!)\",\"vector\":{" + vector.map { "\"\($0.key)\":\(Float($0.value))" }.joined(separator: ",") + "}}"
    }

    @Test func mergingShardsGivesTheSameSearchAsOneIndex() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 120), to: directory + "/docs.jsonl")
        let whole = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl", "-o", directory + "/one", "--quiet"])
        #expect(whole.status == 0, "\(whole.stderr)")
        var merge = ["--model", model, "--keys", "ids", "-o", directory + "/merged", "--quiet"]
        for i in 0..<4 {
            let shard = try Tools.run("splade-encode", ["--convert", "--keys", "ids", "--shard", "\(i)/4", "-i", directory + "/docs.jsonl",
                                                        "-o", directory + "/s\(i).jsonl"])
            #expect(shard.status == 0, "\(shard.stderr)")
            merge += ["-i", directory + "/s\(i).jsonl"]
        }
        let merged = try Tools.run("splade-index", merge)
        #expect(merged.status == 0, "\(merged.stderr)")
        let queries = IndexCLISupport.vectorLines(count: 15, prefix: "q", seed: 9)
        func hits(_ index: String) throws -> [String] {
            let run = try Tools.run("splade-search", ["--index", directory + "/" + index, "--vectors", "--keys", "ids", "-k", "1000"], stdin: queries)
            #expect(run.status == 0, "\(run.stderr)")
            // Every matching document with its score; equal scores may be ranked in another order.
            return run.stdoutLines.map { $0.split(separator: " ") }.map { "\($0[0]) \($0[2]) \($0[4])" }.sorted()
        }
        let expected = try hits("one")
        #expect(!expected.isEmpty)
        #expect(try hits("merged") == expected)

        let twice = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/s0.jsonl",
                                                   "-i", directory + "/s1.jsonl", "-i", directory + "/s0.jsonl", "-o", directory + "/x"])
        #expect(twice.status == 65)
        #expect(twice.stderr.contains("s0.jsonl:1: document id \"d0\" was already read at \(directory)/s0.jsonl:1"), "\(twice.stderr)")

        // Streams of different vocabularies are refused, naming the second.
        for fingerprint: UInt64 in [41, 42] {
            let encoder = VectorStreamEncoder(header: VectorStreamHeader(vocabularySize: 30522, fingerprint: fingerprint))
            var bytes = encoder.encode(VectorRecord(id: .string("z\(fingerprint)"), vector: SparseVector(indices: [2001], values: [1])))
            bytes += encoder.finish()
            try Data(bytes).write(to: URL(fileURLWithPath: directory + "/v\(fingerprint).vec"))
        }
        let mixed = try Tools.run("splade-index", ["-i", directory + "/v41.vec", "-i", directory + "/v42.vec", "-o", directory + "/x"])
        #expect(mixed.status == 65)
        #expect(mixed.stderr.contains("v42.vec") && mixed.stderr.contains("v41.vec's"), "\(mixed.stderr)")
        #expect(try Tools.run("splade-index", ["--bm25", "--model", model, "-i", "a", "-i", "b", "-o", directory + "/x"]).status == 64)
    }

    @Test func indexesAndSearchesBigANNMatrices() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var data = Data()
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) } }
        let rows: [[(Int32, Float)]] = [[(2005, 1), (2001, 0.5)], [(2001, 2)], [(2002, 1)]]
        append(Int64(rows.count)); append(Int64(30522)); append(Int64(4))
        for start: Int64 in [0, 2, 3, 4] { append(start) }
        for row in rows { for entry in row { append(entry.0) } }
        for row in rows { for entry in row { append(entry.1.bitPattern) } }
        try data.write(to: URL(fileURLWithPath: directory + "/base.csr"))
        let build = try Tools.run("splade-index", ["--model", model, "-i", directory + "/base.csr", "-o", directory + "/idx", "--quiet"])
        #expect(build.status == 0, "\(build.stderr)")
        let search = try Tools.run("splade-search", ["--index", directory + "/idx", "--vectors", "-i", directory + "/base.csr", "-k", "1",
                                                     "--model", model])
        #expect(search.status == 0, "\(search.stderr)")
        #expect(search.stdoutLines.map { $0.split(separator: " ").prefix(3).joined(separator: " ") } == ["0 Q0 0", "1 Q0 1", "2 Q0 2"])
        #expect(try Tools.run("splade-index", ["-i", directory + "/base.csr", "-o", directory + "/x"]).status == 64)
        try data.prefix(50).write(to: URL(fileURLWithPath: directory + "/cut.csr"))
        #expect(try Tools.run("splade-index", ["--model", model, "-i", directory + "/cut.csr", "-o", directory + "/x"]).status == 65)
    }
}
