/// Something wrong but survivable in an input (a duplicate document, say): the library collects
/// these and the tool prints them, since the library never prints.
public struct InputWarning: Sendable, CustomStringConvertible {
    /// `FILE:LINE` of the offending record.
    public var location: String
    public var message: String

    public var description: String { "\(location): \(message)" }
}
