/// Unicode NFKC, as `unicodedata.normalize("NFKC", text)` computes it, without paying for the
/// general algorithm (`NFKC`) on text that does not need it.
///
/// NFKC can be applied piece by piece when the text is cut just before characters that are
/// "inert" (NFKC-invariant, combining class 0, never the second half of a composition; see
/// scripts/generate-nfkc-tables.py). So inert characters are copied as they are, and only each
/// run of other characters, together with the inert character before it (which a following mark
/// may compose with), goes through the general algorithm. Inert characters beyond the BMP are listed
/// only when they never compose with what follows either, so they are never passed on with a run.
/// Full-width ASCII and the ideographic space, the commonest non-inert characters in Japanese text,
/// map to single ASCII characters that compose with nothing, so their runs are mapped directly.
enum JapaneseNormalization {
    /// One bit per BMP code point: set when inert.
    private static let inertBits: [UInt64] = {
        var bits = [UInt64](repeating: 0, count: 1024)
        for range in nfkcInertRanges {
            for v in range { bits[Int(v) >> 6] |= 1 << (UInt64(v) & 63) }
        }
        return bits
    }()

    @inline(__always)
    static func isInert(_ v: UInt32) -> Bool {
        v < 0x10000 ? inertBits[Int(v) >> 6] & (1 << (UInt64(v) & 63)) != 0 : isIsolatedAstral(v)
    }

    /// Whether a character beyond the BMP is inert and never composes with what follows (a binary search of the ranges).
    static func isIsolatedAstral(_ v: UInt32) -> Bool {
        var low = 0, high = nfkcIsolatedAstralRanges.count
        while low < high {
            let middle = (low + high) / 2
            let range = nfkcIsolatedAstralRanges[middle]
            if v < range.lowerBound { high = middle } else if v > range.upperBound { low = middle + 1 } else { return true }
        }
        return false
    }

    /// Full-width ASCII (U+FF01–FF5E) and U+3000 → their ASCII compatibility equivalents.
    @inline(__always)
    static func asciiEquivalent(_ v: UInt32) -> UInt8? {
        if v >= 0xFF01 && v <= 0xFF5E { return UInt8(v - 0xFEE0) }
        if v == 0x3000 { return 0x20 }
        return nil
    }

    static func nfkc(_ text: String) -> String {
        var text = text
        return text.withUTF8 { bytes in
            nfkc(bytes).map { String(decoding: $0, as: UTF8.self) } ?? String(decoding: bytes, as: UTF8.self)
        }
    }

    /// NFKC of valid UTF-8; nil when the text is already normalised (the common case: nothing is copied).
    static func nfkc(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var i = 0
        while i < bytes.count {
            let (v, length) = decodeScalar(bytes, at: i)
            if !isInert(v) { return normalizeRuns(bytes, firstNonInert: i) }
            i += length
        }
        return nil
    }

    private static func normalizeRuns(_ bytes: UnsafeBufferPointer<UInt8>, firstNonInert: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 16)
        var copiedUpTo = 0      // bytes before this are in `out`
        // Start of the character before `i` when it is inert and may compose with a mark after it (a BMP one), else -1.
        var lastInertStart = -1
        var i = firstNonInert
        // Locate the inert character just before the first non-inert one (a 4-byte one is beyond the BMP).
        var k = firstNonInert - 1
        while k >= 0 && !bytes[k].isUTF8ScalarStart { k -= 1 }
        lastInertStart = k >= 0 && bytes[k] < 0xF0 ? k : -1
        while i < bytes.count {
            let (v, length) = decodeScalar(bytes, at: i)
            if isInert(v) {
                lastInertStart = v < 0x10000 ? i : -1
                i += length
                continue
            }
            // A run of non-inert characters starts at i; find its end.
            let runStart = i
            var allASCIIEquivalents = true
            while i < bytes.count {
                let (w, l) = decodeScalar(bytes, at: i)
                if isInert(w) { break }
                if asciiEquivalent(w) == nil { allASCIIEquivalents = false }
                i += l
            }
            if allASCIIEquivalents {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<runStart]))
                var j = runStart
                while j < i {
                    let (w, l) = decodeScalar(bytes, at: j)
                    out.append(asciiEquivalent(w)!)
                    j += l
                }
            } else {
                let segmentStart = lastInertStart >= copiedUpTo ? lastInertStart : runStart
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<segmentStart]))
                let segment = String(decoding: UnsafeBufferPointer(rebasing: bytes[segmentStart..<i]), as: UTF8.self)
                out.append(contentsOf: String(NFKC.normalize(segment.unicodeScalars)).utf8)
            }
            copiedUpTo = i
            lastInertStart = -1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[copiedUpTo..<bytes.count]))
        return out
    }
}
