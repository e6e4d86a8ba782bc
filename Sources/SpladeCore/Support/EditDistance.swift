extension String {
    /// Levenshtein distance: the fewest insertions, deletions and substitutions of Unicode scalars turning
    /// this string into `other` (for "did you mean" suggestions).
    public func editDistance(to other: String) -> Int {
        let a = Array(unicodeScalars), b = Array(other.unicodeScalars)
        var previous = Array(0...b.count)
        for i in a.indices {
            var current = [i + 1]
            for j in b.indices {
                current.append(Swift.min(previous[j + 1] + 1, current[j] + 1, previous[j] + (a[i] == b[j] ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

extension Sequence<String> {
    /// The candidate `name` is likely a typo of: the nearest by edit distance, within one edit of a name shorter than 8
    /// characters and two of a longer one (a wider net catches unrelated names); of equally near ones the first in order.
    public func nearest(to name: String) -> String? {
        let tolerance = Swift.max(1, Swift.min(2, name.count / 4))
        return map { (candidate: $0, distance: name.editDistance(to: $0)) }
            .filter { $0.distance <= tolerance }
            .min { ($0.distance, $0.candidate) < ($1.distance, $1.candidate) }?.candidate
    }
}
