import Synchronization

/// The per-session request counters behind `GET /count`, keyed by the `sid` cookie.
///
/// Shared by every event loop thread, so guarded by a mutex. Bounded: past `capacity`
/// sessions an arbitrary old one is forgotten (a benchmark hammering `/count` without
/// cookies must not grow memory without end).
final class SessionCounters: Sendable {
    private let counts: Mutex<[String: Int]>
    private let capacity: Int

    init(capacity: Int = 1_000_000) {
        self.counts = Mutex([:])
        self.capacity = capacity
    }

    /// Counts one more request for `sessionID` and returns the new count (1 for a new session).
    func countRequest(for sessionID: String) -> Int {
        self.counts.withLock { counts in
            if let count = counts[sessionID] {
                let next = count + 1
                counts[sessionID] = next
                return next
            }
            if counts.count >= self.capacity {
                counts.remove(at: counts.startIndex)
            }
            counts[sessionID] = 1
            return 1
        }
    }

    /// A fresh random session id: 128 bits as 32 lowercase hex digits.
    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return Self.hex(high) + Self.hex(low)
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
