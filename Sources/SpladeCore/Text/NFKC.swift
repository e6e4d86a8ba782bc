/// Unicode Normalization Form KC (UAX #15) over the tables scripts/generate-nfkc-tables.py writes from Python's
/// unicodedata, so that it gives exactly what `unicodedata.normalize("NFKC", text)` gives for that Unicode version:
/// each character replaced by its full compatibility decomposition, marks put in canonical order (a stable sort by
/// combining class within each run of nonzero classes), then canonical composition, each mark composing with the
/// last starter unless a mark of the same or a higher class, or a starter, stands between them.
enum NFKC {
    private static let decompositions: [UInt32: Range<Int>] = {
        var table: [UInt32: Range<Int>] = [:]
        table.reserveCapacity(nfkcDecompositionKeys.count)
        for (i, key) in nfkcDecompositionKeys.enumerated() {
            table[key] = Int(nfkcDecompositionStarts[i])..<Int(nfkcDecompositionStarts[i + 1])
        }
        return table
    }()

    private static let combiningClasses: [UInt32: UInt8] = Dictionary(
        uniqueKeysWithValues: zip(nfkcCombiningClassKeys, nfkcCombiningClassValues))

    private static let compositions: [UInt64: UInt32] = {
        var table: [UInt64: UInt32] = [:]
        table.reserveCapacity(nfkcCompositions.count / 3)
        for i in stride(from: 0, to: nfkcCompositions.count, by: 3) {
            table[pairKey(nfkcCompositions[i], nfkcCompositions[i + 1])] = nfkcCompositions[i + 2]
        }
        return table
    }()

    @inline(__always)
    private static func pairKey(_ first: UInt32, _ second: UInt32) -> UInt64 { UInt64(first) << 32 | UInt64(second) }

    // Hangul syllables decompose and compose by arithmetic: S = SBase + (L·VCount + V)·TCount + T.
    private static let sBase: UInt32 = 0xAC00, lBase: UInt32 = 0x1100, vBase: UInt32 = 0x1161, tBase: UInt32 = 0x11A7
    private static let lCount: UInt32 = 19, vCount: UInt32 = 21, tCount: UInt32 = 28
    private static let sCount = lCount * vCount * tCount

    @inline(__always)
    static func combiningClass(_ v: UInt32) -> UInt8 { v < 0x300 ? 0 : combiningClasses[v] ?? 0 }

    /// The NFKC form of `scalars`.
    static func normalize(_ scalars: some Sequence<Unicode.Scalar>) -> String.UnicodeScalarView {
        var decomposed: [UInt32] = []
        for scalar in scalars { appendDecomposition(of: scalar.value, to: &decomposed) }
        putMarksInCanonicalOrder(&decomposed)
        var result = String.UnicodeScalarView()
        for v in compose(decomposed) { result.append(Unicode.Scalar(v)!) }
        return result
    }

    private static func appendDecomposition(of v: UInt32, to out: inout [UInt32]) {
        if v >= sBase && v < sBase + sCount {
            let index = v - sBase
            out.append(lBase + index / (vCount * tCount))
            out.append(vBase + index % (vCount * tCount) / tCount)
            if index % tCount != 0 { out.append(tBase + index % tCount) }
        } else if let range = decompositions[v] {
            out.append(contentsOf: nfkcDecompositionValues[range])
        } else {
            out.append(v)
        }
    }

    /// Each run of marks (nonzero classes) sorted by class, stably: an insertion sort, as runs are short.
    private static func putMarksInCanonicalOrder(_ values: inout [UInt32]) {
        guard values.count > 1 else { return }
        for i in 1..<values.count {
            let v = values[i], c = combiningClass(v)
            guard c != 0 else { continue }
            var j = i
            while j > 0 && combiningClass(values[j - 1]) > c {
                values[j] = values[j - 1]
                j -= 1
            }
            values[j] = v
        }
    }

    private static func composite(_ first: UInt32, _ second: UInt32) -> UInt32? {
        if first >= lBase && first < lBase + lCount && second >= vBase && second < vBase + vCount {
            return sBase + ((first - lBase) * vCount + (second - vBase)) * tCount
        }
        if first >= sBase && first < sBase + sCount && (first - sBase) % tCount == 0
            && second > tBase && second < tBase + tCount {
            return first + (second - tBase)
        }
        return compositions[pairKey(first, second)]
    }

    /// Canonical composition of decomposed, canonically ordered text.
    private static func compose(_ values: [UInt32]) -> [UInt32] {
        guard let first = values.first else { return [] }
        var out = [first]
        out.reserveCapacity(values.count)
        var starter = 0
        // The class of the last character kept; a text that starts with a mark has no starter to compose with (256).
        var lastClass = combiningClass(first) == 0 ? 0 : 256
        for v in values.dropFirst() {
            let c = Int(combiningClass(v))
            // Not blocked: nothing between the starter and v, or only marks of lower classes.
            if lastClass < c || lastClass == 0, let composed = composite(out[starter], v) {
                out[starter] = composed
                continue
            }
            if c == 0 { starter = out.count }
            lastClass = c
            out.append(v)
        }
        return out
    }
}
