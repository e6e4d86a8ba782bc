import Foundation
import SpladeCore
import Testing

/// Shared inputs of the splade-index / splade-search command-line tests: small JSON Lines vectors
/// keyed by token ids of the real splade-tiny vocabulary (only its tokenizer is loaded, so the
/// debug build stays fast).
enum IndexCLISupport {
    static let model = Tools.projectRoot + "/models/splade-tiny"
    static var modelAvailable: Bool { FileManager.default.fileExists(atPath: model + "/tokenizer.json") }

    /// The segments a build under `--memory-limit LIMIT` made, as its note says (it must have made more than two), and
    /// that the first generation of `index` holds them and no spill file.
    static func checkSegments(of build: ToolRun, limit: String, index: String) throws -> Int {
        let segments = try #require(build.stderr.firstMatch(of: /--memory-limit (.+?): (\d+) segments, each reordered on its own/)
            .flatMap { $0.1 == limit ? Int($0.2) : nil }, "\(build.stderr)")
        #expect(build.status == 0 && segments > 2, "\(build.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: index + "/gen-000001")
        #expect(files.filter { $0.hasPrefix("seg-") }.count == segments && !files.contains { $0.hasPrefix("spill") }, "\(files)")
        return segments
    }

    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "splade-index-cli-\(UUID())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// `count` documents over token ids 2000..<2400 with weights in tenths (a deterministic LCG).
    static func vectorLines(count: Int, prefix: String = "d", seed: UInt64 = 1) -> String {
        var state = seed
        func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(n))
        }
        return (0..<count).map { i in
            let terms = Set((0..<(3 + next(20))).map { _ in 2000 + next(400) }).sorted()
            let entries = terms.map { "\"\($0)\":\(Double(1 + next(30)) / 10)" }.joined(separator: ",")
            return "{\"id\":\"\(prefix)\(i)\",\"vector\":{\(entries)}}"
        }.joined(separator: "\n") + "\n"
    }

    /// A hand-made binary vector stream (uncompressed; the reader accepts both) with a chosen vocabulary
    /// fingerprint and records of (id, [(token id, weight)]).
    /// `numberIds`: the ids are written as number ids (record kind 1, their JSON text).
    static func binaryStream(fingerprint: UInt64, vocabularySize: UInt32 = 30522, numberIds: Bool = false,
                             records: [(id: String, terms: [(UInt32, Float)])]) -> Data {
        var bytes = [UInt8]("SPLADEVS".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) } }
        append(UInt16(1)); bytes += [1, 0]; append(vocabularySize); append(fingerprint)
        for record in records {
            bytes.append(numberIds ? 1 : 0); append(UInt32(record.id.utf8.count)); bytes += Array(record.id.utf8)
            append(UInt32(record.terms.count))
            for (id, _) in record.terms { append(id) }
            for (_, weight) in record.terms { append(weight.bitPattern) }
        }
        bytes.append(0xFF); append(UInt64(records.count))
        return Data(bytes)
    }

    /// The vocabulary fingerprint an index's manifest records.
    static func fingerprint(of index: String) throws -> UInt64 {
        let current = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8).trimmingCharacters(in: .newlines)
        let data = try Data(contentsOf: URL(fileURLWithPath: index + "/" + current + "/manifest.json"))
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hex = try #require(manifest["vocabularyFingerprint"] as? String)
        return try #require(UInt64(hex, radix: 16))
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Builds an index of `count` vectors at `directory`/idx, returning its path.
    static func buildIndex(in directory: String, count: Int = 300) throws -> String {
        try write(vectorLines(count: count), to: directory + "/docs.jsonl")
        let run = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl",
                                                 "-o", directory + "/idx", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        return directory + "/idx"
    }

    /// Starts splade-index reading a stdin pipe this test controls, so the build (and its lock)
    /// lasts until the pipe is closed.
    static func startHeldBuild(_ arguments: [String]) throws -> (Process, FileHandle) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.binDirectory + "/splade-index")
        process.arguments = arguments
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        return (process, input.fileHandleForWriting)
    }

    /// A first build of DIR/idx reading a stdin the test holds open, started and holding the lock, and DIR/more.jsonl:
    /// ten vectors for a second build.
    static func startLockedFirstBuild() throws -> (directory: String, index: String, first: Process, input: FileHandle, more: String) {
        let directory = try temporaryDirectory()
        let index = directory + "/idx"
        let (first, input) = try startHeldBuild(["--model", model, "--keys", "ids", "-o", index, "--quiet"])
        waitUntil { FileManager.default.fileExists(atPath: index + "/LOCK") }
        let more = directory + "/more.jsonl"
        try write(vectorLines(count: 10, prefix: "x"), to: more)
        return (directory, index, first, input, more)
    }

    /// Starts `splade-index --wait` building `index` from `input`, and gives it time to block on another build's lock.
    static func startWaitingBuild(of index: String, from input: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Tools.binDirectory + "/splade-index")
        process.arguments = ["--model", model, "--keys", "ids", "-i", input, "-o", index, "--wait", "--quiet"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(300_000)
        return process
    }

    /// The top 5 of one fixed query over `index`: what tests compare before and after disturbing a build.
    static func searchTop5(_ index: String) throws -> ToolRun {
        try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "5"],
                      stdin: "{\"id\":\"q\",\"vector\":{\"2001\":1.0,\"2100\":0.5,\"2222\":2}}\n")
    }

    static func waitUntil(_ condition: () -> Bool) {
        for _ in 0..<200 where !condition() { usleep(50_000) }
    }
}

@Suite(.enabled(if: IndexCLISupport.modelAvailable, "needs models/splade-tiny (make deps)"))
struct IndexCLITests {
    let model = IndexCLISupport.model

    @Test func buildsChecksAndWritesTheManifest() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory)
        let current = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8)
        #expect(current == "gen-000001\n")
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: index + "/gen-000001/manifest.json"))) as! [String: Any]
        #expect(manifest["documents"] as? Int == 300 && manifest["kind"] as? String == "splade")
        #expect((manifest["vocabularyFingerprint"] as? String)?.count == 16 && manifest["version"] as? Int == 2)
        let check = try Tools.run("splade-index", ["--check", index])
        #expect(check.status == 0 && check.stderr.contains("ok"), "\(check.stderr)")
        #expect(check.stdout.isEmpty)
    }

    @Test func quietModePrintsOneSummaryLine() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 20), to: directory + "/docs.jsonl")
        let run = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl",
                                                 "-o", directory + "/idx", "--quiet"])
        #expect(run.status == 0 && run.stdout.isEmpty)
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains("indexed 20"), "\(run.stderr)")
    }

    @Test func corruptedOrTruncatedIndexesExit65() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory)
        let segment = index + "/gen-000001/seg-000001.spi"
        let original = try Data(contentsOf: URL(fileURLWithPath: segment))
        let query = "{\"id\":\"q\",\"vector\":{\"2001\":1.0,\"2100\":0.5}}\n"

        // A byte inside the postings section: only the checksum sees it.
        let entry = SegmentLayout.headerSize + SegmentLayout.Section.postings.rawValue * SegmentLayout.sectionEntrySize
        let postings = original.withUnsafeBytes { bytes in
            (0..<2).map { Int(UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: entry + 8 * $0, as: UInt64.self))) }
        }
        var flipped = original
        flipped[postings[0] + postings[1] - 1] ^= 0xFF
        try flipped.write(to: URL(fileURLWithPath: segment))
        let check = try Tools.run("splade-index", ["--check", index])
        #expect(check.status == 65 && check.stderr.contains("checksum"), "\(check.stderr)")

        try original.prefix(original.count / 2).write(to: URL(fileURLWithPath: segment))
        let truncated = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids"], stdin: query)
        #expect(truncated.status == 65 && truncated.stderr.contains("seg-000001.spi"), "\(truncated.stderr)")
        #expect(try Tools.run("splade-index", ["--check", index]).status == 65)

        // Files of the live generation gone, a manifest whose totals do not add up: damaged (65), not missing input (66).
        try FileManager.default.removeItem(atPath: segment)
        let gone = try Tools.run("splade-index", ["--check", index])
        #expect(gone.status == 65 && gone.stderr.contains("the index is damaged"), "\(gone.stderr)")
        try original.write(to: URL(fileURLWithPath: segment))
        try FileManager.default.removeItem(atPath: index + "/gen-000001/vocab.txt")
        #expect(try Tools.run("splade-index", ["--check", index]).status == 65)
        let manifestPath = index + "/gen-000001/manifest.json"
        let manifest = try String(contentsOfFile: manifestPath, encoding: .utf8)
        let total = try #require(manifest.range(of: "\"documents\":300,"))  // the first is the manifest's total
        try manifest.replacingCharacters(in: total, with: "\"documents\":299,").write(toFile: manifestPath, atomically: true, encoding: .utf8)
        let counts = try Tools.run("splade-index", ["--check", index])
        #expect(counts.status == 65 && counts.stderr.contains("do not add up"), "\(counts.stderr)")

        try Data("{\"format\":\"splade-index\"".utf8).write(to: URL(fileURLWithPath: index + "/gen-000001/manifest.json"))
        #expect(try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids"], stdin: query).status == 65)
        try Data("../../etc\n".utf8).write(to: URL(fileURLWithPath: index + "/CURRENT"))
        #expect(try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids"], stdin: query).status == 65)
        #expect(try Tools.run("splade-search", ["--index", directory + "/none", "--vectors", "--keys", "ids"], stdin: query).status == 66)
        // A file given as the index (the vectors, say): said so, with how an index is built, not "build one over it".
        let file = index + "/CURRENT"
        for run in [try Tools.run("splade-index", ["--check", file]),
                    try Tools.run("splade-search", ["--index", file, "--vectors", "--keys", "ids"], stdin: query)] {
            #expect(run.status == 66 && run.stderr.contains("an index is a directory, this is a file")
                    && run.stderr.contains("splade-index -i VECTORS -o INDEX_DIR"), "\(run.stderr)")
        }
    }

    @Test func aConcurrentBuildExits75OrWaits() throws {
        let (directory, index, first, input, more) = try IndexCLISupport.startLockedFirstBuild()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let second = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", more, "-o", index])
        #expect(second.status == 75 && second.stderr.contains("--wait"), "\(second.stderr)")

        // --wait blocks until the first build ends, then builds.
        let waiting = try IndexCLISupport.startWaitingBuild(of: index, from: more)
        #expect(waiting.isRunning)
        try input.write(contentsOf: Data(IndexCLISupport.vectorLines(count: 50).utf8))
        try input.close()
        first.waitUntilExit()
        waiting.waitUntilExit()
        #expect(first.terminationStatus == 0 && waiting.terminationStatus == 0)
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == "gen-000002\n")
    }

    /// A first build that fails removes the directory it made, LOCK included; a build waiting on that lock
    /// notices that its LOCK is gone and starts over, making the index.
    @Test func aBuildWaitingOnAFailingFirstBuildStartsOver() throws {
        let (directory, index, first, input, more) = try IndexCLISupport.startLockedFirstBuild()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let waiting = try IndexCLISupport.startWaitingBuild(of: index, from: more)
        #expect(waiting.isRunning)
        try input.close()  // no documents: the first build fails
        first.waitUntilExit()
        waiting.waitUntilExit()
        #expect(first.terminationStatus == 65 && waiting.terminationStatus == 0)
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == "gen-000001\n")
    }

    /// INDEX/LOCK removed during a build (it looks stale: it is never written) lets a second build start alongside. The
    /// second removes the first's staging directory and publishes; the first then publishes nothing (75) and leaves
    /// the second's files alone.
    @Test func aBuildWhoseLockFileWasRemovedPublishesNothing() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 50)
        let first = Process()
        first.executableURL = URL(fileURLWithPath: Tools.binDirectory + "/splade-index")
        first.arguments = ["--model", model, "--keys", "ids", "-o", index, "--quiet"]
        let input = Pipe(), errors = Pipe()
        first.standardInput = input
        first.standardError = errors
        try first.run()
        try input.fileHandleForWriting.write(contentsOf: Data(IndexCLISupport.vectorLines(count: 200, prefix: "first").utf8))
        let staging = { (try? FileManager.default.contentsOfDirectory(atPath: index))?.filter { $0.hasPrefix(".staging-") } ?? [] }
        IndexCLISupport.waitUntil { !staging().isEmpty }
        #expect(unlink(index + "/LOCK") == 0)
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 30, prefix: "second"), to: directory + "/second.jsonl")
        let second = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/second.jsonl",
                                                    "-o", index, "--quiet"])
        #expect(second.status == 0, "\(second.stderr)")
        try input.fileHandleForWriting.close()
        first.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(first.terminationStatus == 75 && message.contains("LOCK was removed or replaced while this build held it"), "\(message)")
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == "gen-000002\n")
        let everyTerm = (2000..<2400).map { "\"\($0)\":1" }.joined(separator: ",")
        let found = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "1000"],
                                  stdin: "{\"id\":\"q\",\"vector\":{\(everyTerm)}}\n")
        #expect(found.status == 0 && found.stdoutLines.count == 30 && found.stdoutLines.allSatisfy { $0.contains(" second") },
                "\(found.stderr)")
        #expect(try Tools.run("splade-index", ["--check", index]).status == 0)
        #expect(staging().isEmpty)
    }

    @Test func killDuringABuildLeavesTheOldIndexSearchable() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory)
        let before = try IndexCLISupport.searchTop5(index)
        #expect(before.status == 0 && before.stdoutLines.count == 5)

        let (build, input) = try IndexCLISupport.startHeldBuild(["--model", model, "--keys", "ids", "-o", index])
        try input.write(contentsOf: Data(IndexCLISupport.vectorLines(count: 500, prefix: "new").utf8))
        usleep(500_000)
        kill(build.processIdentifier, SIGKILL)
        build.waitUntilExit()
        try? input.close()

        let after = try IndexCLISupport.searchTop5(index)
        #expect(after.status == 0 && after.stdoutText == before.stdoutText)
        #expect(try Tools.run("splade-index", ["--check", index]).status == 0)
        // The kernel released the killed build's lock: the next build proceeds.
        _ = try IndexCLISupport.buildIndex(in: directory)
        #expect(!(try FileManager.default.contentsOfDirectory(atPath: index)).contains { $0.hasPrefix(".staging-") })
    }

    /// SIGTERM (a cron job's timeout) while a build writes its staging generation: the staging directory and its
    /// files are removed at once, not left for the next build, and the live index is as it was; a first build's
    /// directory goes too.
    @Test func terminatedBuildRemovesItsStagingGeneration() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory)
        let before = try IndexCLISupport.searchTop5(index)
        // Enough documents with enough distinct terms that reordering them takes a second or two after the staging
        // directory is made.
        var state: UInt64 = 7
        let lines = (0..<20_000).map { i in
            let terms = Set((0..<60).map { _ in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return 2000 + Int((state >> 33) % 28_000)
            }).sorted()
            return "{\"id\":\"n\(i)\",\"vector\":{" + terms.map { "\"\($0)\":1.5" }.joined(separator: ",") + "}}\n"
        }.joined()
        func staging(_ directory: String) -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(".staging-") }
        }
        /// A build into `directory`, sent SIGTERM once its staging directory is there; its exit status.
        func terminatedBuild(into directory: String) throws -> Int32 {
            let (build, input) = try IndexCLISupport.startHeldBuild(["--model", model, "--keys", "ids", "-o", directory])
            try input.write(contentsOf: Data(lines.utf8))
            try input.close()
            for _ in 0..<3000 where staging(directory).isEmpty && build.isRunning { usleep(10_000) }
            try #require(!staging(directory).isEmpty && build.isRunning, "the build ended before its staging directory was seen")
            kill(build.processIdentifier, SIGTERM)
            build.waitUntilExit()
            return build.terminationStatus
        }
        #expect(try terminatedBuild(into: index) == 128 + SIGTERM)
        #expect(staging(index).isEmpty)
        let after = try IndexCLISupport.searchTop5(index)
        #expect(after.status == 0 && after.stdoutText == before.stdoutText)
        #expect(try Tools.run("splade-index", ["--check", index]).status == 0)

        // A first build, terminated so, removes the directory it made too.
        let fresh = directory + "/fresh"
        #expect(try terminatedBuild(into: fresh) == 128 + SIGTERM && !FileManager.default.fileExists(atPath: fresh))
        // Should its staging directory stay (a file another thread made meanwhile, NFS's .nfs files) without LOCK, the
        // directory is still taken as an index's.
        try FileManager.default.createDirectory(atPath: fresh + "/.staging-gen-000001.99999", withIntermediateDirectories: true)
        try IndexCLISupport.write("x", to: fresh + "/.staging-gen-000001.99999/.nfs0001")
        let over = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl", "-o", fresh, "--quiet"])
        #expect(over.status == 0 && staging(fresh).isEmpty, "\(over.stderr)")
        // A user's entry that only looks like one is not taken for a build's: the directory is refused, the file kept.
        let notes = directory + "/notes"
        try FileManager.default.createDirectory(atPath: notes + "/.staging-plans", withIntermediateDirectories: true)
        try IndexCLISupport.write("keep", to: notes + "/.staging-plans/plan.txt")
        let refused = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl", "-o", notes])
        #expect(refused.status == 73 && FileManager.default.fileExists(atPath: notes + "/.staging-plans/plan.txt"), "\(refused.stderr)")
    }

    /// A signal that comes once a build has started to publish (its generation moved into place, CURRENT being written)
    /// lets it finish: the update took place, so the status is 0, not 128 + signal. A named pipe at CURRENT.tmp holds
    /// the tool there (opening it waits for a reader) while the test sends SIGTERM, then reads it.
    @Test func aSignalWhilePublishingLetsTheUpdateFinish() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory)
        try IndexCLISupport.write("d1\nd2\n", to: directory + "/gone.txt")
        let run = try Tools.shell("""
            cd '\(index)' && mkfifo CURRENT.tmp
            splade-index -o . --delete ../gone.txt --quiet 2>/dev/null & pid=$!
            for i in $(seq 300); do [ -d gen-000002 ] && break; sleep 0.05; done
            kill -TERM $pid && echo sent; sleep 0.3; timeout -s KILL 5 cat CURRENT.tmp; wait $pid; echo "status $?"
            """)
        #expect(run.stdoutText == "sent\ngen-000002\nstatus 0\n", "\(run.stdoutText) \(run.stderr)")
    }

    @Test func addAndDeleteWithoutARebuild() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 100)
        // --progress into a log (a pipe here): its last line has the whole count.
        let logged = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/docs.jsonl", "-o",
                                                    directory + "/logged", "--progress"])
        #expect(logged.status == 0 && logged.stderr.contains("read: 100 docs (") && !logged.stderr.contains("\u{1B}"), "\(logged.stderr)")
        let query = "{\"id\":\"q\",\"vector\":{\"2399\":5.0}}\n"
        try IndexCLISupport.write("{\"id\":\"fresh\",\"vector\":{\"2399\":3.0}}\n", to: directory + "/add.jsonl")
        let add = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--add", "-i", directory + "/add.jsonl"])
        #expect(add.status == 0, "\(add.stderr)")
        let found = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "1"], stdin: query)
        #expect(found.stdoutText.hasPrefix("q Q0 fresh 1 "), "\(found.stdoutText)")
        let delete = try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: "fresh\n")
        #expect(delete.status == 0 && delete.stderr.contains("deleted 1"), "\(delete.stderr)")
        let gone = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "100"], stdin: query)
        #expect(!gone.stdoutText.contains(" fresh "))
        #expect(try Tools.run("splade-index", ["--check", index]).status == 0)
        // JSON Lines records name ids by their "id" (the documents' own file), also ids no plain line can hold.
        try IndexCLISupport.write("{\"id\":\"two\\nlines\",\"vector\":{\"2399\":3.0}}\n{\"id\":77,\"vector\":{\"2398\":1.0}}\n",
                                  to: directory + "/odd.jsonl")
        #expect(try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--add", "-i", directory + "/odd.jsonl"]).status == 0)
        let byRecord = try Tools.run("splade-index", ["-o", index, "--delete", directory + "/odd.jsonl"])
        #expect(byRecord.status == 0 && byRecord.stderr.contains("deleted 2 documents; 100 live"), "\(byRecord.stderr)")
        let broken = try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: "d1\n{\"id\": [1]}\n")
        #expect(broken.status == 65 && broken.stderr.contains("<stdin>:2: field \"id\" is array"), "\(broken.stderr)")
        // With --min-documents, the documents' own file given by mistake empties nothing.
        let everything = try Tools.run("splade-index", ["-o", index, "--delete", directory + "/docs.jsonl", "--min-documents", "1"])
        #expect(everything.status == 65 && everything.stderr.contains("deleting 100 of 100 documents would leave 0"), "\(everything.stderr)")
        #expect(try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "100"], stdin: query).stdoutLines.count > 0)
    }

    /// Each --add is a segment (a warning past 16 of them); --compact merges them into one without the deleted
    /// documents: the same vectors (impacts), the same scores.
    @Test func compactMergesSegmentsIntoOne() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 20)
        var lastAdd: ToolRun?
        for k in 1...17 {
            try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 3, prefix: "add\(k)-", seed: UInt64(k + 1)), to: directory + "/add.jsonl")
            lastAdd = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--add", "-i", directory + "/add.jsonl"])
            #expect(lastAdd?.status == 0, "\(lastAdd?.stderr ?? "")")
        }
        #expect(lastAdd?.stderr.contains("the index has 18 segments") == true && lastAdd?.stderr.contains("--compact") == true,
                "\(lastAdd?.stderr ?? "")")
        let everyTerm = (2000..<2400).map { "\"\($0)\":1" }.joined(separator: ",")
        let search = { () throws -> Set<String> in
            let run = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "1000"],
                                    stdin: "{\"id\":\"q\",\"vector\":{\(everyTerm)}}\n")
            #expect(run.status == 0, "\(run.stderr)")
            return Set(run.stdoutLines.map { $0.split(separator: " ")[2] + " " + $0.split(separator: " ")[4] })
        }
        let export = { () throws -> [String] in
            try Tools.run("splade-index", ["--export", "qdrant", "--index", index]).stdoutLines.sorted()
        }
        let before = try search()
        #expect(before.count == 71)
        let compacted = try Tools.run("splade-index", ["-o", index, "--compact"])
        #expect(compacted.status == 0 && compacted.stderr.contains("compacted 18 segments into 1") && compacted.stderr.contains("in 1 segment,"),
                "\(compacted.stderr)")
        #expect(try search() == before)
        // Deleted documents are left out; the others keep their impacts.
        #expect(try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: "d3\nadd5-1\n").status == 0)
        let added = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--add", "-i", directory + "/add.jsonl"])
        #expect(added.status == 0)
        let live = try export()
        let again = try Tools.run("splade-index", ["-o", index, "--compact"])
        #expect(again.status == 0 && again.stderr.contains("compacted 2 segments into 1, leaving out 5 documents"), "\(again.stderr)")
        #expect(try export() == live && live.count == 69)
        #expect(try Tools.run("splade-index", ["--check", index]).status == 0)
        let already = try Tools.run("splade-index", ["-o", index, "--compact"])
        #expect(already.status == 0 && already.stderr.contains("already one segment"), "\(already.stderr)")
        #expect(try Tools.run("splade-index", ["-o", index, "--compact", "-i", directory + "/add.jsonl"]).status == 64)
        #expect(try Tools.run("splade-index", ["-o", directory + "/none", "--compact"]).status == 66)
        // Every document deleted: no segment left, nothing to compact (said as such, not "compacted 0 segments into 1").
        let two = directory + "/two"
        #expect(try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", two],
                              stdin: "{\"id\":\"a\",\"vector\":{\"2005\":1.0}}\n{\"id\":\"b\",\"vector\":{\"2006\":1.0}}\n").status == 0)
        #expect(try Tools.run("splade-index", ["-o", two, "--delete", "-"], stdin: "a\nb\n").status == 0)
        let empty = try Tools.run("splade-index", ["-o", two, "--compact"])
        #expect(empty.status == 0 && empty.stderr.contains("no documents to compact, left as it was"), "\(empty.stderr)")
    }

    /// --memory-limit: the documents beyond it are spilled and become segments of their own, each reordered on its own,
    /// with the scale of the largest weight of all; the index answers as the one-segment build does (the same hits,
    /// scores and order of equal scores), leaves no spill file, and --compact under a limit keeps segments of its size.
    @Test func aMemoryLimitBuildsSegmentsThatSearchAsOne() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Number ids too: the spill file keeps their kind.
        let numbered = "{\"id\":7,\"vector\":{\"2001\":3.5,\"2100\":0.5}}\n{\"id\":\"007\",\"vector\":{\"2001\":3.5,\"2100\":0.5}}\n"
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 300) + numbered, to: directory + "/docs.jsonl")
        let build = { (index: String, options: [String]) throws -> ToolRun in
            try Tools.run("splade-index", ["--model", self.model, "--keys", "ids", "-i", directory + "/docs.jsonl", "-o", index] + options)
        }
        let everyTerm = (2000..<2400).map { "\"\($0)\":\(Double($0 % 7) / 2)" }.joined(separator: ",")
        let search = { (index: String) throws -> String in
            let run = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "1000", "--format", "json"],
                                    stdin: "{\"id\":\"q\",\"vector\":{\(everyTerm)}}\n{\"id\":\"r\",\"vector\":{\"2001\":1.0,\"2100\":0.5}}\n")
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdoutText
        }
        #expect(try build(directory + "/one", ["--quiet"]).status == 0)
        let expected = try search(directory + "/one")
        #expect(expected.contains("\"docno\":\"7\"") && expected.contains("\"docno\":\"007\""))
        // The ids as JSON values (7 a number, "007" a string), with the documents' impacts.
        let export = { (index: String) throws -> [String] in
            try Tools.run("splade-index", ["--export", "qdrant", "--index", index]).stdoutLines.sorted()
        }
        let exported = try export(directory + "/one")
        #expect(exported.count == 302)

        let many = directory + "/many"
        let limited = try build(many, ["--memory-limit", "8K"])
        let segments = try IndexCLISupport.checkSegments(of: limited, limit: "8.0 KiB", index: many)
        #expect(limited.stderr.contains("in \(segments) segments,"), "\(limited.stderr)")
        #expect(try search(many) == expected)
        #expect(try export(many) == exported)
        #expect(try Tools.run("splade-index", ["--check", many]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: many).filter { $0.hasPrefix(".staging") }.isEmpty)

        // --compact under a larger limit: fewer, larger segments; without one, a single segment. The same answers.
        let fewer = try Tools.run("splade-index", ["-o", many, "--compact", "--memory-limit", "0.02M"])
        let fewerSegments = try #require(fewer.stderr.firstMatch(of: /compacted \d+ segments into (\d+),/).flatMap { Int($0.1) }, "\(fewer.stderr)")
        #expect(fewer.status == 0 && (2..<segments).contains(fewerSegments), "\(fewer.stderr)")
        #expect(try search(many) == expected)
        let one = try Tools.run("splade-index", ["-o", many, "--compact"])
        #expect(one.status == 0 && one.stderr.contains("into 1,") && !one.stderr.contains("--memory-limit"), "\(one.stderr)")
        #expect(try search(many) == expected)

        // A limit below one document's size: a segment per document, said with a warning (and the limit in bytes).
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 20), to: directory + "/twenty.jsonl")
        let tiny = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/twenty.jsonl", "-o",
                                                  directory + "/tiny", "--memory-limit", "1"])
        #expect(tiny.status == 0 && tiny.stderr.contains("warning: the documents took more than --memory-limit 1 B: 20 segments")
                && tiny.stderr.contains("hint: a larger --memory-limit makes fewer segments"), "\(tiny.stderr)")

        for (options, message) in [(["--memory-limit", "12Q"], "12Q"), (["--memory-limit", "0"], "'0'")] {
            let refused = try build(directory + "/refused", options)
            #expect(refused.status == 64 && refused.stderr.contains(message), "\(options): \(refused.stderr)")
        }
        let misplaced = try Tools.run("splade-index", ["-o", directory + "/one", "--delete", directory + "/docs.jsonl", "--memory-limit", "1G"])
        #expect(misplaced.status == 64 && misplaced.stderr.contains("--memory-limit applies to a build (from vectors or --bm25), --add and --compact"),
                "\(misplaced.stderr)")
    }

    /// --add under --memory-limit: the new documents beyond it are spilled and become segments of their own; the index
    /// answers as after an addition in one segment, replaced documents included.
    @Test func anAdditionUnderAMemoryLimitSearchesAsOne() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 100), to: directory + "/base.jsonl")
        // 200 new documents, the first 10 of which replace d90…d99 of the base.
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 200, seed: 9).replacing(/"id":"d(\d+)"/) { "\"id\":\"d\(Int($0.1)! + 90)\"" },
                                  to: directory + "/more.jsonl")
        let everyTerm = (2000..<2400).map { "\"\($0)\":\(Double($0 % 7) / 2)" }.joined(separator: ",")
        func addition(_ name: String, _ options: [String]) throws -> (ToolRun, String) {
            let index = directory + "/" + name
            let base = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/base.jsonl", "-o", index, "--quiet"])
            #expect(base.status == 0, "\(base.stderr)")
            let added = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/more.jsonl", "-o", index, "--add"]
                                      + options)
            #expect(added.status == 0 && added.stderr.contains("added 200 documents, replaced 10"), "\(added.stderr)")
            let run = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "-k", "1000", "--format", "json"],
                                    stdin: "{\"id\":\"q\",\"vector\":{\(everyTerm)}}\n")
            #expect(run.status == 0 && run.stdoutLines.count == 290, "\(run.stderr)")
            return (added, run.stdoutText)
        }
        let (_, expected) = try addition("one", [])
        let (limited, results) = try addition("many", ["--memory-limit", "8K"])
        let segments = try #require(limited.stderr.firstMatch(of: /--memory-limit 8.0 KiB: (\d+) segments, each reordered on its own/)
            .flatMap { Int($0.1) }, "\(limited.stderr)")
        #expect(segments > 2, "\(limited.stderr)")
        #expect(limited.stderr.contains("in \(segments + 1) segments,"), "the base's segment and the new ones: \(limited.stderr)")
        #expect(results == expected)
        #expect(try Tools.run("splade-index", ["--check", directory + "/many"]).status == 0)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory + "/many").filter { $0.hasPrefix(".staging") }.isEmpty)
    }

    /// --bm25 under --memory-limit: the term counts are spilled as vectors are, and turned into weights batch by batch once
    /// the collection's statistics are known; the index answers as the one-segment build does (hits, scores, order).
    @Test(.enabled(if: FileManager.default.fileExists(atPath: Tools.data("cranfield/corpus.jsonl")), "needs ../shared/data/cranfield"))
    func aBM25BuildUnderAMemoryLimitSearchesAsOne() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let corpus = Tools.data("cranfield/corpus.jsonl")
        let build = { (index: String, options: [String]) throws -> ToolRun in
            try Tools.run("splade-index", ["--bm25", "--model", self.model, "--field", "title,text", "-i", corpus, "-o", index] + options)
        }
        let queries = try String(contentsOfFile: Tools.data("cranfield/queries.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(40).joined(separator: "\n") + "\n"
        let search = { (index: String) throws -> String in
            let run = try Tools.run("splade-search", ["--index", index, "--model", self.model, "-k", "100", "--format", "json"], stdin: queries)
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdoutText
        }
        #expect(try build(directory + "/one", ["--quiet"]).status == 0)
        let expected = try search(directory + "/one")
        #expect(expected.split(separator: "\n").count == 4000)

        let many = directory + "/many"
        let limited = try build(many, ["--memory-limit", "96K"])
        _ = try IndexCLISupport.checkSegments(of: limited, limit: "96.0 KiB", index: many)
        #expect(limited.stderr.contains("indexed 1400 documents (BM25)"), "\(limited.stderr)")
        #expect(try search(many) == expected)
        #expect(try Tools.run("splade-index", ["--check", many]).status == 0)

        // A delete keeps the weights, and with them the statistics of the documents deleted: said.
        try "1\n2\n".write(toFile: directory + "/gone.txt", atomically: true, encoding: .utf8)
        let deleted = try Tools.run("splade-index", ["-o", many, "--delete", directory + "/gone.txt"])
        #expect(deleted.status == 0 && deleted.stderr.contains("deleted 2 documents")
                && deleted.stderr.contains("warning: the BM25 weights keep the statistics of the collection they were built from"),
                "\(deleted.stderr)")
    }

    /// An update needs an index; one whose CURRENT cannot be read is said as such, not taken for no index.
    @Test func anUpdateOfWhatIsNoReadableIndexIsMissingInput() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try "x\n".write(toFile: directory + "/ids.txt", atomically: true, encoding: .utf8)
        let none = try Tools.run("splade-index", ["-o", directory, "--delete", directory + "/ids.txt"])
        #expect(none.status == 66 && none.stderr.contains("no index here (no CURRENT)"), "\(none.stderr)")
        try FileManager.default.createDirectory(atPath: directory + "/CURRENT", withIntermediateDirectories: false)
        let unreadable = try Tools.run("splade-index", ["-o", directory, "--delete", directory + "/ids.txt"])
        #expect(unreadable.status == 66 && unreadable.stderr.contains("CURRENT: cannot read the index's CURRENT file"), "\(unreadable.stderr)")
    }

    /// --min-documents: a rebuild from a stream cut short upstream (JSON Lines has no end record) leaves the index.
    @Test func aRebuildFromTooFewDocumentsLeavesTheIndex() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 50)
        try IndexCLISupport.write(IndexCLISupport.vectorLines(count: 10, prefix: "cut"), to: directory + "/cut.jsonl")
        let arguments = ["--model", model, "--keys", "ids", "-i", directory + "/cut.jsonl", "-o", index, "--quiet"]
        let refused = try Tools.run("splade-index", arguments + ["--min-documents", "40"])
        #expect(refused.status == 65 && refused.stderr.contains("only 10 documents to index, fewer than --min-documents 40"),
                "\(refused.stderr)")
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == "gen-000001\n")
        #expect(try Tools.run("splade-index", arguments + ["--min-documents", "10"]).status == 0)
        #expect(try Tools.run("splade-index", arguments + ["--min-documents", "0"]).status == 64)
        #expect(try Tools.run("splade-index", arguments + ["--min-documents", "5", "--add"]).status == 64)
    }

    @Test func repeatedIdsExit65AndUpdatesWithoutAnIndexCreateNothing() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // A repeated id within one input (1 and "1" are the same id), in vectors and in BM25 input.
        try IndexCLISupport.write("{\"id\":1,\"vector\":{\"2000\":1.0}}\n{\"id\":\"2\",\"vector\":{\"2001\":1.0}}\n"
                                  + "{\"id\":\"1\",\"vector\":{\"2002\":1.0}}\n", to: directory + "/repeated.jsonl")
        let vectors = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-i", directory + "/repeated.jsonl",
                                                     "-o", directory + "/new"])
        #expect(vectors.status == 65)
        #expect(vectors.stderr.contains("repeated.jsonl:3: document id \"1\" was already read at "), "\(vectors.stderr)")
        #expect(vectors.stderr.contains("already read at \(directory)/repeated.jsonl:1"), "\(vectors.stderr)")
        let bm25 = try Tools.run("splade-index", ["--model", model, "--bm25", "-o", directory + "/new"],
                                 stdin: "{\"id\":\"a\",\"input_ids\":[2000]}\n{\"id\":\"a\",\"input_ids\":[2001]}\n")
        #expect(bm25.status == 65)
        #expect(bm25.stderr.contains("<stdin>:2: document id \"a\" was already read at line 1"), "\(bm25.stderr)")
        // Texts or token ids where vectors belong (the encoder left out), and token-string keys read as ids: each hinted.
        let texts = try Tools.run("splade-index", ["--model", model, "-o", directory + "/new"], stdin: "{\"id\":\"a\",\"text\":\"t\"}\n")
        #expect(texts.status == 65 && texts.stderr.contains("<stdin>:1: missing \"vector\" object")
                && texts.stderr.contains("splade-encode turns texts and token ids into vectors"), "\(texts.stderr)")
        for (record, said) in [("{\"vector\":{}}", "missing \"id\" (a string or number)"),
                               ("{\"id\":[1],\"vector\":{}}", "\"id\" is a JSON array, expected a string or number")] {
            let bad = try Tools.run("splade-index", ["--model", model, "-o", directory + "/new"], stdin: record + "\n")
            #expect(bad.status == 65 && bad.stderr.contains("<stdin>:1: " + said), "\(bad.stderr)")
        }
        let tokenKeys = "{\"id\":\"a\",\"vector\":{\"hello\":1.0}}\n"
        let asIds = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", directory + "/new"], stdin: tokenKeys)
        #expect(asIds.status == 65 && asIds.stderr.contains("read as tokens, not ids: --keys tokens"), "\(asIds.stderr)")
        let noModel = try Tools.run("splade-index", ["-o", directory + "/new"], stdin: tokenKeys)
        #expect(noModel.status == 64 && noModel.stderr.contains("keyed by token need --model"), "\(noModel.stderr)")
        // A failed first build leaves no directory; an update of an index that is not there creates nothing at all.
        #expect(!FileManager.default.fileExists(atPath: directory + "/new"))
        let add = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", directory + "/new", "--add", "-i",
                                                 directory + "/repeated.jsonl"])
        #expect(add.status == 66, "\(add.stderr)")
        let delete = try Tools.run("splade-index", ["-o", directory + "/new", "--delete", "-"], stdin: "1\n")
        #expect(delete.status == 66, "\(delete.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory + "/new"))
    }

    /// `encode | index` where the encoder failed gives the index an empty input: a rebuild refuses it (the old
    /// index stays live), an addition of nothing writes no generation.
    @Test func anEmptyInputLeavesTheIndexAsItWas() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 20)
        let current = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8)
        let rebuild = try Tools.run("splade-index", ["--model", model, "-o", index], stdin: "")
        #expect(rebuild.status == 65 && rebuild.stderr.contains("no documents to index: the input is empty, so the index is left as it was"),
                "\(rebuild.stderr)")
        let bm25 = try Tools.run("splade-index", ["--model", model, "--bm25", "-o", index], stdin: "")
        #expect(bm25.status == 65, "\(bm25.stderr)")
        let add = try Tools.run("splade-index", ["--model", model, "-o", index, "--add"], stdin: "")
        #expect(add.status == 0 && add.stderr.contains("no documents to add"), "\(add.stderr)")
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == current)
        // A failed first build leaves no directory behind.
        let fresh = try Tools.run("splade-index", ["--model", model, "-o", directory + "/fresh"], stdin: "")
        #expect(fresh.status == 65 && fresh.stderr.contains("the input is empty, so no index is made")
                && !FileManager.default.fileExists(atPath: directory + "/fresh"), "\(fresh.stderr)")
    }

    @Test func deletingOnlyUnknownIdsKeepsTheGeneration() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 20)
        let current = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8)
        let delete = try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: "d3\nnot-there\n")
        #expect(delete.status == 0 && delete.stderr.contains("1 of the 2 ids named no live document"), "\(delete.stderr)")
        let after = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8)
        #expect(after != current)
        let again = try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: "d3\n")
        #expect(again.status == 0 && again.stderr.contains("deleted 0"), "\(again.stderr)")
        #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == after)
    }

    /// Binary weights are checked as JSON Lines weights are: an infinite, NaN or negative one is exit 65 naming the
    /// record, and the live index stays (an infinite one made an unreadable manifest live). Tiny weights still index.
    @Test func badBinaryWeightsExit65AndTinyWeightsIndex() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 20)
        let current = try String(contentsOfFile: index + "/CURRENT", encoding: .utf8)
        let fingerprint = try IndexCLISupport.fingerprint(of: index)
        for weight in [Float.infinity, .nan, -1] {
            let stream = IndexCLISupport.binaryStream(fingerprint: fingerprint,
                                                      records: [("a", [(2001, 1)]), ("b", [(2001, 0.5), (2002, weight)])])
            try stream.write(to: URL(fileURLWithPath: directory + "/bad.vec"))
            let run = try Tools.run("splade-index", ["-i", directory + "/bad.vec", "-o", index, "--quiet"])
            #expect(run.status == 65 && run.stderr.contains("bad.vec: record 2: weight \(weight) of token id 2002"), "\(run.stderr)")
            #expect(try String(contentsOfFile: index + "/CURRENT", encoding: .utf8) == current)
        }
        // A number id goes into JSON as it is written: one that is no JSON number would make invalid JSON (or more records).
        for (id, valid) in [("7", true), ("-1.5e3", true), ("abc", false), ("01", false), ("1,\"vector\":{}}", false)] {
            let stream = IndexCLISupport.binaryStream(fingerprint: fingerprint, numberIds: true, records: [(id, [(2001, 1)])])
            try stream.write(to: URL(fileURLWithPath: directory + "/ids.vec"))
            let run = try Tools.run("splade-encode", ["--convert", "--keys", "ids", "-i", directory + "/ids.vec"])
            if valid {
                #expect(run.status == 0 && run.stdoutText == "{\"id\":\(id),\"vector\":{\"2001\":1.0}}\n", "\(run.stdoutText) \(run.stderr)")
            } else {
                #expect(run.status == 65 && run.stderr.contains("ids.vec: record 1: corrupt vector stream (number id"), "\(run.stderr)")
            }
        }
        let tiny = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", directory + "/tiny", "--quiet"],
                                 stdin: "{\"id\":\"t\",\"vector\":{\"2001\":1e-43}}\n")
        #expect(tiny.status == 0, "\(tiny.stderr)")
        let found = try Tools.run("splade-search", ["--index", directory + "/tiny", "--vectors", "--keys", "ids"],
                                  stdin: "{\"id\":\"q\",\"vector\":{\"2001\":1}}\n")
        #expect(found.status == 0 && found.stdoutText.hasPrefix("q Q0 t 1 "), "\(found.stderr)")
    }

    /// --add keeps the index's scale: a larger weight is clamped to impact 255, which a warning says, --quiet or not.
    @Test func addingLargerWeightsThanTheScaleWarnsEvenWhenQuiet() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = try IndexCLISupport.buildIndex(in: directory, count: 20)
        let add = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--add", "--quiet"],
                                stdin: "{\"id\":\"big\",\"vector\":{\"2001\":100}}\n")
        #expect(add.status == 0)
        #expect(add.stderr.contains("warning: 1 weights exceeded the index's scale and were clamped to impact 255"), "\(add.stderr)")
        #expect(add.stderr.contains("hint: rebuild the index (without --add) to rescale it"), "\(add.stderr)")
        let delete = try Tools.run("splade-index", ["-o", index, "--delete", "-", "--quiet"], stdin: "not-there\n")
        #expect(delete.stderr.contains("1 of the 1 ids named no live document"), "\(delete.stderr)")
    }

    /// --delete compares ids byte for byte, as everything else does: spaces belong to an id, a CRLF ending does not.
    @Test func deleteMatchesIdsByteForByte() throws {
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let index = directory + "/idx"
        let documents = ["\" lead\"", "\"trail \"", "\"plain\""].map { "{\"id\":\($0),\"vector\":{\"2001\":1}}" }
        let build = try Tools.run("splade-index", ["--model", model, "--keys", "ids", "-o", index, "--quiet"],
                                  stdin: documents.joined(separator: "\n") + "\n")
        #expect(build.status == 0, "\(build.stderr)")
        let delete = try Tools.run("splade-index", ["-o", index, "--delete", "-"], stdin: " lead\r\ntrail \n\nplain \n")
        #expect(delete.status == 0 && delete.stderr.contains("deleted 2 documents"), "\(delete.stderr)")
        #expect(delete.stderr.contains("1 of the 3 ids named no live document"), "\(delete.stderr)")
        let left = try Tools.run("splade-search", ["--index", index, "--vectors", "--keys", "ids", "--format", "json"],
                                 stdin: "{\"id\":\"q\",\"vector\":{\"2001\":1}}\n")
        #expect(left.stdoutLines.count == 1 && left.stdoutText.contains("\"plain\""), "\(left.stdoutText)")
    }

    @Test func usageErrorsExit64() throws {
        #expect(try Tools.run("splade-index", []).status == 64)
        #expect(try Tools.run("splade-index", ["-o", "/tmp/x", "--bm25", "--k1", "inf"]).status == 64)
        #expect(try Tools.run("splade-index", ["-o", "/tmp/x", "--quiet", "--progress"]).status == 64)
        #expect(try Tools.run("splade-index", ["-o", "/tmp/x", "--block-size", "300"]).status == 64)
        #expect(try Tools.run("splade-index", ["-o", "/tmp/x", "--bm25", "--add"]).status == 64)
        let directory = try IndexCLISupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try IndexCLISupport.write("x", to: directory + "/not-an-index")
        let refused = try Tools.run("splade-index", ["--model", model, "-o", directory], stdin: "")
        #expect(refused.status == 73, "\(refused.stderr)")
        // A link to nothing is no directory to build in (it had the lock retried without end).
        #expect(symlink(directory + "/nothing", directory + "/dangling") == 0)
        let dangling = try Tools.run("splade-index", ["--model", model, "-o", directory + "/dangling"], stdin: "")
        #expect(dangling.status == 73 && dangling.stderr.contains("dangling: a link to a directory that does not exist"), "\(dangling.stderr)")
        // --min-documents guards builds and deletions only.
        for action in [["--add"], ["--compact"]] {
            let run = try Tools.run("splade-index", ["-o", directory + "/idx", "--min-documents", "5"] + action)
            #expect(run.status == 64 && run.stderr.contains("--min-documents guards a build or a --delete"), "\(run.stderr)")
        }
    }
}
