import ClusterCore

/// Turns a worker's stdout or stderr bytes into log lines, and keeps a flooding worker from flooding the log:
/// a token bucket per stream admits `burst` lines at once and `linesPerSecond` after; the rest are counted
/// and reported as one "suppressed N lines" line when the bucket refills, at most once per `reportInterval`
/// (a sustained flood would otherwise get a report before nearly every line it is allowed).
struct WorkerOutput {
    static let maximumLineLength = 16 * 1024
    static let reportInterval = Duration.seconds(1)

    var linesPerSecond: Double
    var burst: Double
    private var tokens: Double
    private var refilledAt: Instant
    private var reportedAt: Instant?
    private var partial: [UInt8] = []
    private(set) var suppressed = 0

    init(linesPerSecond: Double = 1000, burst: Double = 2000, now: Instant) {
        self.linesPerSecond = linesPerSecond
        self.burst = burst
        self.tokens = burst
        self.refilledAt = now
    }

    enum Line: Equatable {
        case text(String)
        /// `count` lines were dropped by the rate limit.
        case suppressed(Int)
    }

    /// Appends bytes; returns the complete lines to log (and a suppression report when due).
    mutating func consume(_ bytes: UnsafeRawBufferPointer, now: Instant) -> [Line] {
        var lines: [Line] = []
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                emit(&lines, now: now)
            } else {
                partial.append(byte)
                if partial.count >= Self.maximumLineLength { emit(&lines, now: now) }
            }
        }
        return lines
    }

    /// The stream ended: whatever is left is a line.
    mutating func finish(now: Instant) -> [Line] {
        var lines: [Line] = []
        if !partial.isEmpty { emit(&lines, now: now) }
        if suppressed > 0 {
            lines.append(.suppressed(suppressed))
            suppressed = 0
        }
        return lines
    }

    private mutating func emit(_ lines: inout [Line], now: Instant) {
        defer { partial.removeAll(keepingCapacity: partial.count <= 4096) }
        let elapsed = Double((now - refilledAt).nanoseconds) / 1e9
        tokens = min(burst, tokens + elapsed * linesPerSecond)
        refilledAt = now
        guard tokens >= 1 else {
            suppressed += 1
            return
        }
        if suppressed > 0, reportedAt.map({ now - $0 >= Self.reportInterval }) ?? true {
            lines.append(.suppressed(suppressed))
            suppressed = 0
            reportedAt = now
        }
        tokens -= 1
        if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
        lines.append(.text(String(decoding: partial, as: UTF8.self)))
    }
}
