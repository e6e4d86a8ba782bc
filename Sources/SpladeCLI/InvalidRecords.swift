import SpladeCore

/// The `--skip-invalid` policy every record-reading tool follows: a bad record stops the tool
/// (status 65) unless skipping is asked for; then it is reported as a warning (the first 21 one by
/// one, the last of them saying that the rest are only counted) and counted.
public struct InvalidRecords {
    public let skipping: Bool
    public private(set) var count = 0
    /// At most this many skipped records are reported one by one; the rest only in the count.
    static let maxWarnings = 20

    public init(skipping: Bool) { self.skipping = skipping }

    /// Counts `error` as a skipped record, or returns false when it must stop the tool instead
    /// (skipping not asked for, or an error other than bad input).
    public mutating func absorb(_ error: SpladeError) -> Bool {
        guard skipping, error.kind == .badInput else { return false }
        count += 1
        if count <= Self.maxWarnings { Diagnostics.warning("\(error.description) (skipped)") }
        if count == Self.maxWarnings + 1 {
            Diagnostics.warning("\(error.description) (skipped; further invalid records are only counted)")
        }
        return true
    }

    /// The closing warning with the number of skipped records, when there were any.
    public func reportCount() {
        guard count > 0 else { return }
        let named = count > Self.maxWarnings + 1 ? " (the first \(Self.maxWarnings + 1) named above)" : ""
        Diagnostics.warning("skipped \(counted(count, "invalid record"))" + named)
    }
}
