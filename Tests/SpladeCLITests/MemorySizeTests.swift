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
}
