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

    /// The memory this process can have: the machine's, or the lowest limit of its control group and the groups above
    /// it (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`) when that is lower: a container's, or a systemd unit's
    /// `MemoryMax=` in a group nested below the root.
    public static var available: MemorySize {
        var bytes = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        for file in controlGroupLimitFiles() {
            if let text = try? String(contentsOfFile: file, encoding: .utf8),
               let limit = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), limit > 0 {
                bytes = min(bytes, limit)
            }
        }
        return MemorySize(bytes: bytes)
    }

    /// The memory-limit files of this process's control group and of each group above it, up to the root, for both
    /// cgroup versions: /proc/self/cgroup (`membership`) names the group (`0::/path` in v2, `N:…memory…:/path` in v1).
    /// Files that do not exist (the other version, a group outside this mount namespace) are skipped by the reader.
    static func controlGroupLimitFiles(
        membership: String = (try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)) ?? ""
    ) -> [String] {
        var groups: [(root: String, file: String, path: String)] = [
            ("/sys/fs/cgroup", "memory.max", "/"), ("/sys/fs/cgroup/memory", "memory.limit_in_bytes", "/"),
        ]
        for line in membership.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            // A group outside this process's cgroup namespace shows as /../…: not under the mount here.
            guard fields.count == 3, !fields[2].split(separator: "/").contains("..") else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                groups.append(("/sys/fs/cgroup", "memory.max", String(fields[2])))
            } else if fields[1].split(separator: ",").contains("memory") {
                groups.append(("/sys/fs/cgroup/memory", "memory.limit_in_bytes", String(fields[2])))
            }
        }
        var files: [String] = []
        for group in groups {
            var path = group.path.split(separator: "/")
            while true {
                files.append(([group.root] + path.map(String.init) + [group.file]).joined(separator: "/"))
                if path.isEmpty { break }
                path.removeLast()
            }
        }
        return Array(Set(files)).sorted()
    }
}

/// A size for people: "100 B", "512.0 KiB", "3.4 MiB", "1.50 GiB".
public func formattedBytes(_ count: Int) -> String {
    count >= 1 << 30 ? String(format: "%.2f GiB", Double(count) / Double(1 << 30))
        : count >= 1 << 20 ? String(format: "%.1f MiB", Double(count) / Double(1 << 20))
        : count >= 1 << 10 ? String(format: "%.1f KiB", Double(count) / 1024)
        : "\(count) B"
}
