/// The TCP ports worker listeners are taken from, `"20000-29999"` in tenants.conf.
public struct PortRange: Sendable, Hashable, CustomStringConvertible {
    public var lowerBound: Int
    public var upperBound: Int

    public init(_ range: ClosedRange<Int>) {
        self.lowerBound = range.lowerBound
        self.upperBound = range.upperBound
    }

    /// Parses `"LOW-HIGH"` (or a single port); nil when malformed or outside 1...65535 or reversed.
    public init?(parsing text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2,
            let low = Int(parts[0].trimmingSpaces), let high = Int(parts[parts.count - 1].trimmingSpaces),
            (1...65535).contains(low), (1...65535).contains(high), low <= high
        else { return nil }
        self.init(low...high)
    }

    public var count: Int { upperBound - lowerBound + 1 }

    public func contains(_ port: Int) -> Bool { (lowerBound...upperBound).contains(port) }

    public var description: String { "\(lowerBound)-\(upperBound)" }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return s
    }
}
