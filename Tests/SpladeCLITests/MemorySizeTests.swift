import Testing
@testable import SpladeCLI

/// --memory-limit's sizes: bytes or K/M/G/T in powers of 1024, spelled as sort -S and people write them.
@Suite struct MemorySizeTests {
    @Test func sizesReadAsPowersOf1024() {
        let cases: [(String, Int)] = [("512", 512), ("8K", 8 << 10), ("8k", 8 << 10), ("500M", 500 << 20), ("4G", 4 << 30),
                                      ("4GiB", 4 << 30), ("4GB", 4 << 30), ("1.5G", 3 << 29), ("0.02M", 20_971), ("2 G", 2 << 30),
                                      ("1T", 1 << 40), ("100b", 100)]
        for (text, bytes) in cases { #expect(MemorySize(argument: text)?.bytes == bytes, "\(text)") }
        for text in ["", "0", "0.5", "12Q", "G", "-1G", "1e3", "nan", "4 GiBs", "1..5G", "99999999T"] {
            #expect(MemorySize(argument: text) == nil, "\(text)")
        }
        #expect(MemorySize(bytes: 3 << 29).description == "1.50 GiB")
    }

    /// The default limit's base: this machine's memory, or less under a container's limit; never nothing.
    @Test func availableMemoryIsPositive() {
        #expect(MemorySize.available.bytes > 1 << 20)
    }

    /// The limits read: the process's own control group's and every group's above it, in either cgroup version, so
    /// that a systemd unit's MemoryMax= (a group nested below the container's) counts.
    @Test func theLimitsOfTheProcessGroupAndItsAncestorsAreRead() {
        let v2 = MemorySize.controlGroupLimitFiles(membership: "0::/system.slice/cron.service\n")
        #expect(v2.contains("/sys/fs/cgroup/system.slice/cron.service/memory.max"))
        #expect(v2.contains("/sys/fs/cgroup/system.slice/memory.max") && v2.contains("/sys/fs/cgroup/memory.max"))
        let v1 = MemorySize.controlGroupLimitFiles(membership: "5:cpu,cpuacct:/a\n4:memory:/jobs/nightly\n0::/\n")
        #expect(v1.contains("/sys/fs/cgroup/memory/jobs/nightly/memory.limit_in_bytes")
                && v1.contains("/sys/fs/cgroup/memory/jobs/memory.limit_in_bytes"))
        #expect(!v1.contains { $0.contains("/a/") }, "only the memory controller's group")
        // A group outside the process's cgroup namespace is not under the mount.
        #expect(!MemorySize.controlGroupLimitFiles(membership: "0::/../other.slice\n").contains { $0.contains("..") || $0.contains("other") })
        #expect(MemorySize.controlGroupLimitFiles(membership: "") == ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"])
    }
}
