#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// An index directory holds generations; readers follow `CURRENT`, builders add a generation beside
/// it and swap `CURRENT` with rename(2), which is atomic:
///
///     INDEX/CURRENT        the live generation's name ("gen-000007\n")
///     INDEX/LOCK           flock(2)ed by the one build allowed at a time (released by the kernel,
///                          even on kill -9)
///     INDEX/gen-000007/    manifest.json, vocab.txt, seg-NNNNNN.spi, seg-NNNNNN.del
///     INDEX/gen-000006/    the previous generation, kept for readers that opened it just before the swap
///     INDEX/.staging-*     a build in progress (named with its process id), or one that was killed (removed by
///                          the next build)
///
/// Segment files never change once written; a generation that keeps a segment hard-links it, so
/// adding or deleting documents writes only what is new.
public enum IndexDirectory {
    public static let currentFile = "CURRENT"
    public static let lockFile = "LOCK"
    static let generationPrefix = "gen-"
    static let stagingPrefix = ".staging-"

    /// A file name inside the directory: no path separators, not "." or "..".
    static func isPlainName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".." && !name.contains("/") && name.utf8.allSatisfy { $0 >= 0x20 }
    }

    static func generationName(_ number: Int) -> String {
        generationPrefix + String(number).leftPadded(to: 6)
    }

    static func generationNumber(_ name: String) -> Int? {
        guard name.hasPrefix(generationPrefix) else { return nil }
        return Int(name.dropFirst(generationPrefix.count))
    }

    /// Whether `name` in `directory` is a build's staging directory, `.staging-gen-NNNNNN.PID` and a directory (not a
    /// link): only such entries are taken for a build's leftovers, and removed.
    static func isStagingDirectory(_ name: String, in directory: String) -> Bool {
        guard name.hasPrefix(stagingPrefix) else { return false }
        let rest = name.dropFirst(stagingPrefix.count)
        guard let dot = rest.lastIndex(of: "."), generationNumber(String(rest[..<dot])) != nil,
              !rest[rest.index(after: dot)...].isEmpty, rest[rest.index(after: dot)...].allSatisfy(\.isASCII),
              Int(rest[rest.index(after: dot)...]) != nil else { return false }
        var info = stat()
        return lstat(directory + "/" + name, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// The live generation's name, or nil when the directory holds no index yet.
    public static func currentGeneration(of directory: String) throws(SpladeError) -> String? {
        let path = directory + "/" + currentFile
        // No CURRENT: not an index. One that cannot be read (a directory without permission) is said as such.
        if access(path, F_OK) != 0 && (errno == ENOENT || errno == ENOTDIR) { return nil }
        let data = try InputFile.contents(path, what: "the index's CURRENT file")
        let name = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard generationNumber(name) != nil, isPlainName(name) else {
            throw SpladeError(.badInput, "corrupt CURRENT file (\"\(name.prefix(40))\")", location: path, hint: "rebuild the index")
        }
        return name
    }

    static func fsyncDirectory(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

/// The build lock of an index directory (flock on INDEX/LOCK), held for this object's lifetime.
///
/// A build that fails on a directory it created removes it again (`abandonCreatedDirectory`), LOCK included. A
/// builder waiting on that lock then holds a file no longer in the directory, so every locker checks, once it has
/// the lock, that INDEX/LOCK is still the file it locked, and starts over when it is not. LOCK removed by someone else
/// while a build holds it (it looks stale: it is never written) would let a second build start alongside; so a build
/// checks again before it publishes (`checkHeld`), and publishes nothing when the file is no longer its own.
public final class IndexLock {
    private let descriptor: Int32
    private let directory: String
    /// Whether this lock made the directory (so that a failed first build can leave no trace).
    private let createdDirectory: Bool
    /// Whether an interruption would remove LOCK and the directory this lock made: forgotten once, so that a lock
    /// released after a later one made the same path again cannot drop that one's registrations.
    private var cleanupRegistered = false

    /// Creates the directory if needed; refuses a non-empty directory that is not an index.
    /// `wait` false: another build holding the lock is a temporary failure (exit 75).
    public init(directory: String, wait: Bool) throws(SpladeError) {
        self.directory = directory
        let path = directory + "/" + IndexDirectory.lockFile
        var attempts = 0
        while true {
            attempts += 1
            let created = try Self.prepare(directory)
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                // The directory went between the two steps (a failed first build removed it): start over, a few
                // times; a path that stays missing (a link to nothing) is an error.
                if errno == ENOENT && attempts < 10 { continue }
                throw SpladeError(.cannotCreateOutput, "cannot open the lock file: \(systemErrorMessage())", location: path)
            }
            while flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                if code == EWOULDBLOCK {
                    throw SpladeError(.tempFail, "another splade-index is building this index", location: directory,
                                      hint: "pass --wait to wait for it to finish")
                }
                throw SpladeError(.cannotCreateOutput, "cannot lock: \(systemErrorMessage(code))", location: path)
            }
            if Self.names(fd, path) {
                descriptor = fd
                createdDirectory = created
                // Interrupted before it publishes, a first build leaves no trace either (its staging goes first).
                if created {
                    InterruptionCleanup.register(file: path)
                    InterruptionCleanup.register(directory: directory)
                    cleanupRegistered = true
                }
                return
            }
            close(fd)  // a failed first build removed what we locked: start over
        }
    }

    /// Whether `path` is the file open as `fd`.
    private static func names(_ fd: Int32, _ path: String) -> Bool {
        var locked = stat(), named = stat()
        return fstat(fd, &locked) == 0 && stat(path, &named) == 0 && locked.st_dev == named.st_dev && locked.st_ino == named.st_ino
    }

    /// Status 75 when INDEX/LOCK is no longer the file this lock holds (removed or replaced during the build): another
    /// build may be running, so this one must not publish.
    public func checkHeld() throws(SpladeError) {
        let path = directory + "/" + IndexDirectory.lockFile
        guard Self.names(descriptor, path) else {
            throw SpladeError(.tempFail, "\(path) was removed or replaced while this build held it, so another build may have "
                              + "run alongside; this one published nothing", location: directory,
                              hint: "leave INDEX/LOCK in place (it is never written; the lock is released when a build ends, even on kill -9), then run the build again")
        }
    }

    /// Checks or makes the directory; true when this call made it.
    private static func prepare(_ directory: String) throws(SpladeError) -> Bool {
        var info = stat()
        if stat(directory, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw SpladeError(.cannotCreateOutput, "exists and is not a directory", location: directory)
            }
            // A staging generation alone is what an interrupted first build may leave (its LOCK removed before it).
            let entries = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .filter { !IndexDirectory.isStagingDirectory($0, in: directory) }
            if !entries.isEmpty && !entries.contains(IndexDirectory.currentFile) && !entries.contains(IndexDirectory.lockFile) {
                throw SpladeError(.cannotCreateOutput, "not an index directory (no CURRENT), refusing to write into it",
                                  location: directory, hint: "name a new or empty directory")
            }
            return false
        }
        if mkdir(directory, 0o755) == 0 { return true }
        if errno == EEXIST {
            // What exists there and is not stat(2)'s: a link to nothing, which no build can write through.
            if lstat(directory, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK && stat(directory, &info) != 0 {
                throw SpladeError(.cannotCreateOutput, "a link to a directory that does not exist", location: directory,
                                  hint: "make the directory it names, or name another one")
            }
            return false
        }
        throw SpladeError(.cannotCreateOutput, "cannot create the index directory: \(systemErrorMessage())", location: directory)
    }

    /// From the moment a generation is moved into place, the directory is an index's: an interruption keeps it
    /// and its LOCK (so that the next build takes it as an index's, and completes it).
    func publishing() { forgetCleanup() }

    /// Whatever this lock asked an interruption to remove is this build's no longer (published, abandoned or released:
    /// the path may be another build's next).
    private func forgetCleanup() {
        guard cleanupRegistered else { return }
        cleanupRegistered = false
        InterruptionCleanup.unregister(directory + "/" + IndexDirectory.lockFile)
        InterruptionCleanup.unregister(directory)
    }

    /// After a failed build: removes the directory this lock made, while still holding the lock, when it holds
    /// nothing but LOCK (LOCK first, then the directory). Anything else (a generation whose CURRENT could not be
    /// written) keeps both, so that the next build takes the directory as an index's and clears it.
    public func abandonCreatedDirectory() {
        forgetCleanup()
        guard createdDirectory,
              (try? FileManager.default.contentsOfDirectory(atPath: directory)) == [IndexDirectory.lockFile] else { return }
        unlink(directory + "/" + IndexDirectory.lockFile)
        rmdir(directory)
    }

    deinit {
        forgetCleanup()
        close(descriptor)
    }
}

/// A new generation being written under the lock: files go into a staging directory that
/// `commit` renames into place before swapping CURRENT. Dropped without a commit, or interrupted by
/// SIGINT, SIGTERM or SIGHUP, the staging directory is removed (after kill -9 the next build removes it).
public final class GenerationBuilder {
    public let directory: String
    public let previous: String?
    let name: String
    let stagingPath: String
    private let lock: IndexLock
    private var committed = false

    /// `lock` proves the caller holds the directory's lock.
    public init(directory: String, lock: IndexLock) throws(SpladeError) {
        self.lock = lock
        self.directory = directory
        previous = try IndexDirectory.currentGeneration(of: directory)
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for entry in entries where IndexDirectory.isStagingDirectory(entry, in: directory) {
            try? FileManager.default.removeItem(atPath: directory + "/" + entry)
        }
        let highest = entries.compactMap(IndexDirectory.generationNumber).max() ?? 0
        name = IndexDirectory.generationName(highest + 1)
        // The process id keeps a build whose lock was taken from it (`IndexLock.checkHeld`) from writing into, or
        // removing, the staging directory of the build that took it.
        stagingPath = directory + "/" + IndexDirectory.stagingPrefix + name + "." + String(getpid())
        // Registered first: an interruption between the two steps would leave the directory otherwise.
        InterruptionCleanup.register(directory: stagingPath)
        guard mkdir(stagingPath, 0o755) == 0 else {
            let error = SpladeError(.cannotCreateOutput, "cannot create: \(systemErrorMessage())", location: stagingPath)
            InterruptionCleanup.unregister(stagingPath)
            throw error
        }
    }

    deinit {
        if !committed { try? FileManager.default.removeItem(atPath: stagingPath) }
        InterruptionCleanup.unregister(stagingPath, including: .contents)
    }

    /// Where a new file of this generation is to be written (removed with the staging directory if the tool is
    /// interrupted before the commit).
    public func newFile(_ file: String) -> String {
        let path = stagingPath + "/" + file
        InterruptionCleanup.register(file: path)
        return path
    }

    /// Keeps a file of the previous generation (a hard link: no copy).
    public func keep(_ file: String) throws(SpladeError) {
        guard let previous else { throw SpladeError(.internalError, "no previous generation to keep \(file) from") }
        let source = directory + "/" + previous + "/" + file
        guard link(source, newFile(file)) == 0 else {
            throw SpladeError(.cannotCreateOutput, "cannot link \(file) into the new generation: \(systemErrorMessage())",
                              location: source)
        }
    }

    public func write(_ file: String, _ bytes: [UInt8]) throws(SpladeError) {
        let output = try OutputFile(path: newFile(file))
        try output.write(bytes)
        try output.close()
    }

    /// Writes the manifest, moves the generation into place and swaps CURRENT to it — with interruptions held off, so
    /// that the index is left either as it was or with the new generation live (see `InterruptionCleanup.publishing`) —
    /// then removes the generations older than the one it replaces. Returns the generation's path and the old
    /// generations that could not be removed (the next build tries again).
    @discardableResult
    public func commit(_ manifest: IndexManifest) throws(SpladeError) -> (path: String, notRemoved: [String]) {
        try write(IndexManifest.fileName, manifest.json())
        IndexDirectory.fsyncDirectory(stagingPath)
        try lock.checkHeld()
        let final = directory + "/" + name
        try InterruptionCleanup.publishing { () throws(SpladeError) in
            lock.publishing()
            guard rename(stagingPath, final) == 0 else {
                throw SpladeError(.cannotCreateOutput, "cannot move the new generation into place: \(systemErrorMessage())", location: final)
            }
            let current = directory + "/" + IndexDirectory.currentFile
            let temporary = current + ".tmp"
            do throws(SpladeError) {
                let output = try OutputFile(path: temporary)
                try output.write(Array((name + "\n").utf8))
                try output.close()
                guard rename(temporary, current) == 0 else {
                    throw SpladeError(.cannotCreateOutput, "cannot swap CURRENT: \(systemErrorMessage())", location: current)
                }
            } catch {
                // CURRENT still names the previous generation: the new one goes back to staging, which is removed.
                unlink(temporary)
                if rename(final, stagingPath) != 0 { try? FileManager.default.removeItem(atPath: final) }
                throw error
            }
            committed = true
            InterruptionCleanup.unregister(stagingPath, including: .contents)
        }
        IndexDirectory.fsyncDirectory(directory)
        var notRemoved: [String] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for entry in entries where IndexDirectory.generationNumber(entry) != nil && entry != name && entry != previous {
            do { try FileManager.default.removeItem(atPath: directory + "/" + entry) } catch { notRemoved.append(directory + "/" + entry) }
        }
        return (final, notRemoved)
    }
}
