/// Hands out worker ports from `cluster.ports`, round-robin so a port just released is not reused at once
/// (its old connections may still be in TIME_WAIT or in a router's pool).
struct PortAllocator: Sendable {
    private(set) var range: PortRange
    private var inUse: Set<Int> = []
    /// Ports the shell could not bind, skipped until the instant given.
    private var blocked: [Int: Instant] = [:]
    private var cursor: Int

    init(range: PortRange) {
        self.range = range
        self.cursor = range.lowerBound
    }

    var inUseCount: Int { inUse.count }

    mutating func changeRange(to newRange: PortRange) {
        range = newRange
        if !range.contains(cursor) { cursor = range.lowerBound }
    }

    mutating func allocate(now: Instant) -> Int? {
        for _ in 0..<range.count {
            let port = cursor
            cursor = cursor == range.upperBound ? range.lowerBound : cursor + 1
            if inUse.contains(port) { continue }
            if let until = blocked[port] {
                if now < until { continue }
                blocked[port] = nil
            }
            inUse.insert(port)
            return port
        }
        return nil
    }

    /// A port an adopted worker already listens on.
    mutating func adopt(_ port: Int) {
        inUse.insert(port)
        blocked[port] = nil
    }

    mutating func release(_ port: Int) {
        inUse.remove(port)
    }

    /// The port could not be bound (someone else holds it): skip it for a while.
    mutating func block(_ port: Int, until: Instant) {
        inUse.remove(port)
        blocked[port] = until
    }

    func isInUse(_ port: Int) -> Bool { inUse.contains(port) }

    /// When the first port of the range that is skipped now becomes usable again; nil if none is.
    func nextUnblocked(after now: Instant) -> Instant? {
        blocked.filter { range.contains($0.key) && $0.value > now }.values.min()
    }
}
