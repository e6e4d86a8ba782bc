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
