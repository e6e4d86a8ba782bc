import ArgumentParser
import Foundation

/// An amount of memory on the command line: bytes, or a number with K, M, G or T (powers of 1024; KiB, GB and the
/// like are read the same way, as tools such as sort -S do).
public struct MemorySize: ExpressibleByArgument, Sendable, CustomStringConvertible {
    public let bytes: Int

    public init(bytes: Int) { self.bytes = bytes }

    public init?(argument: String) {
        let text = argument.trimmingCharacters(in: .whitespaces)
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = text.dropFirst(number.count).trimmingCharacters(in: .whitespaces).lowercased()
        let powers = ["": 0, "b": 0, "k": 1, "m": 2, "g": 3, "t": 4]
        let prefix = unit.hasSuffix("ib") ? String(unit.dropLast(2)) : unit.hasSuffix("b") && unit.count == 2 ? String(unit.dropLast()) : unit
        guard let value = Double(number), value.isFinite, let power = powers[prefix] else { return nil }
        let bytes = value * pow(1024, Double(power))
        guard bytes >= 1, bytes < Double(Int.max / 2) else { return nil }
        self.bytes = Int(bytes)
    }

    public var description: String { formattedBytes(bytes) }

    /// The memory this process can have: the machine's, or its container's limit (cgroup v2 `memory.max`, v1
    /// `memory.limit_in_bytes`) when that is lower.
    public static var available: MemorySize {
        var bytes = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        for file in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                bytes = min(bytes, limit)
            }
        }
        return MemorySize(bytes: bytes)
    }
}

/// A size for people: "100 B", "512.0 KiB", "3.4 MiB", "1.50 GiB".
public func formattedBytes(_ count: Int) -> String {
    count >= 1 << 30 ? String(format: "%.2f GiB", Double(count) / Double(1 << 30))
        : count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / Double(1 << 20))
        : count >= 1 << 10 ? String(format: "%.1f KiB", Double(count) / 1024)
        : "\(count) B"
}
