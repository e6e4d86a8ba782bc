/// A count with its noun in the number it takes: "1 document", "2 documents", "1 query", "3 queries"
/// (`plural` where it is not the noun plus "s").
public func counted(_ count: Int, _ noun: String, plural: String? = nil) -> String {
    "\(count) \(count == 1 ? noun : plural ?? noun + "s")"
}
