/// Fixed-decimal formatting for reports, without Foundation's `String(format:)`.
enum FixedPoint {
    /// `value` rounded half away from zero to `decimals` places: format(0.64410, 4) = "0.6441".
    static func format(_ value: Double, decimals: Int) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        var scale: Int64 = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded()
        guard scaled < 9e18 else { return "\(value)" }
        let units = Int64(scaled)
        var text = (value < 0 && units != 0 ? "-" : "") + String(units / scale)
        if decimals > 0 {
            let fraction = String(units % scale)
            text += "." + String(repeating: "0", count: decimals - fraction.count) + fraction
        }
        return text
    }

    /// A p-value with 4 decimals, or `<0.0001` below that.
    static func pValue(_ p: Double?) -> String {
        guard let p else { return "n/a" }
        return p < 0.0001 ? "<0.0001" : format(p, decimals: 4)
    }
}
