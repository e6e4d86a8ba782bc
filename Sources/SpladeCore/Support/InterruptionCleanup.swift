#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an interrupted tool (SIGINT, SIGTERM, SIGHUP) deletes before it exits: temporary outputs, and an index
/// build's staging generation (its files, then the directory). The signal handler may only do what is
/// async-signal-safe: it reads fixed tables of C strings, never a Swift array that another thread may be growing,
/// and calls unlink(2) and rmdir(2). A slot is cleared, never freed, when its path is unregistered (a few bytes a
/// path): the handler may be reading it at that moment.
public enum InterruptionCleanup {
    /// More paths than any tool has at once (an index generation holds a file per segment); beyond it, a path is
    /// simply not removed on interruption (the next build removes a staging generation anyway).
    static let fileCapacity = 4096, directoryCapacity = 16
    nonisolated(unsafe) private static let files = table(fileCapacity)
    nonisolated(unsafe) private static let directories = table(directoryCapacity)
    private static let lock = PthreadMutex()

    private static func table(_ capacity: Int) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        slots.initialize(repeating: nil, count: capacity)
        return slots
    }

    /// Makes the tables before a handler can run (a static is made on first use, which a signal handler must not be).
    public static func prepare() { _ = (files, directories, phase) }

    /// Where the tool stands in publishing its result: 0 before, 1 while it makes an index generation the live one
    /// (renames it into place, writes CURRENT.tmp and renames that onto CURRENT: an interruption then must not stop it
    /// half way), 2 once it is live — for the rest of the process, as the tools publish once, as their last step.
    nonisolated(unsafe) private static var phase: Int32 = 0

    /// What the signal handler is to do now: stop (remove what is registered and exit), or let the tool go on —
    /// while it publishes (a few renames; it then ends as they end), or after (its work is done, so a stop request
    /// has nothing left to stop, and an exit status of 128 + signal would report an update that took place as failed).
    public static var stopsNow: Bool { phase == 0 }

    /// Runs `publish` with interruptions held off (see `stopsNow`); once it returns, the tool's work is taken as done.
    /// If it throws, interruptions stop the tool again (and the error it throws ends the tool anyway).
    public static func publishing<T>(_ publish: () throws(SpladeError) -> T) throws(SpladeError) -> T {
        phase = 1
        do {
            let result = try publish()
            phase = 2
            return result
        } catch {
            phase = 0
            throw error
        }
    }

    /// A file to unlink on interruption.
    public static func register(file path: String) { register(path, in: files, capacity: fileCapacity) }

    /// A directory to remove on interruption, after the files, once what it holds is gone (a staging generation, or
    /// the index directory a first build made, which holds the staging directory and LOCK).
    public static func register(directory path: String) { register(path, in: directories, capacity: directoryCapacity) }

    private static func register(_ path: String, in slots: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>, capacity: Int) {
        lock.locked {
            guard let free = (0..<capacity).first(where: { slots[$0] == nil }) else { return }
            slots[free] = strdup(path)
        }
    }

    /// Forgets `path`, and with `including` `.contents` every path under it too (a committed generation's files).
    public static func unregister(_ path: String, including: Scope = .itself) {
        lock.locked {
            for (slots, capacity) in [(files, fileCapacity), (directories, directoryCapacity)] {
                for i in 0..<capacity {
                    guard let slot = slots[i] else { continue }
                    let registered = String(cString: slot)
                    if registered == path || including == .contents && registered.hasPrefix(path + "/") { slots[i] = nil }
                }
            }
        }
    }

    public enum Scope: Sendable { case itself, contents }

    /// Called from the signal handler: unlink(2) of each registered file, then rmdir(2) of each directory, twice
    /// over (a directory registered before one inside it goes on the second pass).
    public static func removeAll() {
        for i in 0..<fileCapacity { if let path = files[i] { unlink(path) } }
        for _ in 0..<2 { for i in 0..<directoryCapacity { if let path = directories[i] { rmdir(path) } } }
    }
}

final class PthreadMutex: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    init() { pthread_mutex_init(&mutex, nil) }
    deinit { pthread_mutex_destroy(&mutex) }
    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return try body()
    }
}
