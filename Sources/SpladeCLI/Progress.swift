#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Progress on standard error: shown when stderr is a terminal (or when asked for with --progress),
/// never in pipes or cron logs otherwise, nor when silenced (splade-index --quiet). On a terminal one
/// line redrawn at most five times a second; into a file or pipe (asked for) a plain line every ten
/// seconds and a last one at the end, so a log holds no control sequences.
public final class Progress {
    private let enabled: Bool
    /// Redraw one line in place (a terminal) rather than append lines (a log).
    private let redraws: Bool
    private let interval: Double
    private let label: String
    private let unit: String
    /// Total input bytes when known (a regular file), for a percentage and ETA.
    private let totalBytes: Int?
    /// Total items when known in advance (a training run's steps), for a percentage and ETA.
    private let totalItems: Int?
    private let start = Date()
    private var lastDraw: Date
    private var drawn = false
    /// The latest counts not yet written to a log, for its last line.
    private var unwritten: (items: Int, extra: (count: Int, name: String)?, bytes: Int?)?

    public init(label: String, unit: String, inputPath: String?, forced: Bool, silenced: Bool = false, totalItems: Int? = nil) {
        redraws = Diagnostics.stderrIsTerminal
        enabled = !silenced && (forced || redraws)
        interval = redraws ? 0.2 : 10
        // A log's first line comes after one interval; a terminal's at once.
        lastDraw = redraws ? .distantPast : start
        self.label = label
        self.unit = unit
        self.totalItems = totalItems
        var info = stat()
        if let inputPath, inputPath != "-", stat(inputPath, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG {
            totalBytes = Int(info.st_size)
        } else {
            totalBytes = nil
        }
    }

    /// `items` records done, `extra` a second count (tokens, say) shown as a rate, `bytes` input consumed.
    public func update(items: Int, extra: (count: Int, name: String)? = nil, bytes: Int? = nil, force: Bool = false) {
        guard enabled else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDraw) >= interval else {
            if !redraws { unwritten = (items, extra, bytes) }
            return
        }
        lastDraw = now
        unwritten = nil
        draw(items: items, extra: extra, bytes: bytes, now: now)
    }

    private func draw(items: Int, extra: (count: Int, name: String)?, bytes: Int?, now: Date) {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        var line = "\(label): \(items) \(items == 1 ? Self.singular(unit) : unit) (\(Self.rate(Double(items) / elapsed))/s"
        if let extra { line += ", \(Self.rate(Double(extra.count) / elapsed)) \(extra.name)/s" }
        line += ")"
        let fraction: Double? = if let totalItems, totalItems > 0, items > 0 {
            min(1, Double(items) / Double(totalItems))
        } else if let totalBytes, totalBytes > 0, let bytes, bytes > 0 {
            min(1, Double(bytes) / Double(totalBytes))
        } else {
            nil
        }
        if let fraction {
            let remaining = elapsed / fraction - elapsed
            line += String(format: " %5.1f%% ETA %@", fraction * 100, Self.duration(remaining))
        }
        line += " \(Self.duration(elapsed))"
        if redraws {
            Diagnostics.write("\r\u{1B}[K" + line)
            Diagnostics.progressLineShown.store(true, ordering: .relaxed)
        } else {
            Diagnostics.write(line + "\n")
        }
        drawn = true
    }

    /// Clears a terminal's line (the tool prints its own summary if it has one); a log gets its last counts.
    public func finish() {
        guard enabled && drawn || unwritten != nil else { return }
        if redraws {
            if Diagnostics.progressLineShown.exchange(false, ordering: .relaxed) { Diagnostics.write("\r\u{1B}[K") }
        } else if let unwritten {
            draw(items: unwritten.items, extra: unwritten.extra, bytes: unwritten.bytes, now: Date())
        }
        unwritten = nil
        drawn = false
    }

    /// A display dropped without finish() (one handed to a library call as a closure) clears its line too.
    deinit { finish() }

    /// The unit's first word in the singular, for a count of one: "queries" → "query", "docs placed" → "doc placed".
    static func singular(_ unit: String) -> String {
        let words = unit.split(separator: " ", maxSplits: 1)
        guard let noun = words.first else { return unit }
        let one = noun.hasSuffix("ies") ? noun.dropLast(3) + "y" : noun.hasSuffix("s") ? String(noun.dropLast()) : String(noun)
        return ([one] + words.dropFirst().map(String.init)).joined(separator: " ")
    }

    static func rate(_ value: Double) -> String {
        value >= 1e6 ? String(format: "%.2fM", value / 1e6)
            : value >= 1e4 ? String(format: "%.1fk", value / 1e3)
            : value >= 10 ? String(format: "%.0f", value) : String(format: "%.2f", value)  // slow items: training steps
    }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--:--" }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%d:%02d", s / 60, s % 60)
    }
}

/// Elapsed wall-clock time, for `--timings` reports.
public final class Stopwatch {
    fileprivate var last = DispatchTime.now().uptimeNanoseconds
    public init() {}

    /// Seconds since the previous lap (or since creation).
    public func lap() -> Double {
        let now = DispatchTime.now().uptimeNanoseconds
        defer { last = now }
        return Double(now - last) / 1e9
    }
}
