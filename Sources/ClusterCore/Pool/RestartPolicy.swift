/// When a crashed worker is restarted, and when a tenant counts as crash-looping.
public struct RestartPolicy: Sendable, Equatable {
    /// Delay after the first failure; doubles with each consecutive failure.
    public var initialDelay: Duration
    public var maximumDelay: Duration
    /// A worker that stayed ready this long resets the consecutive-failure count when it fails.
    public var stableAfter: Duration
    /// This many failures within `crashLoopWindow` put the tenant in `failed`.
    public var crashLoopFailures: Int
    public var crashLoopWindow: Duration

    public init(
        initialDelay: Duration = .milliseconds(100),
        maximumDelay: Duration = .seconds(30),
        stableAfter: Duration = .seconds(10),
        crashLoopFailures: Int = 5,
        crashLoopWindow: Duration = .seconds(60)
    ) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.stableAfter = stableAfter
        self.crashLoopFailures = crashLoopFailures
        self.crashLoopWindow = crashLoopWindow
    }

    public static let standard = RestartPolicy()

    /// The delay before the next start after `consecutiveFailures` failures in a row (≥ 1).
    public func delay(afterConsecutiveFailures consecutiveFailures: Int) -> Duration {
        var delay = initialDelay
        var remaining = consecutiveFailures - 1
        while remaining > 0, delay < maximumDelay {
            delay *= 2
            remaining -= 1
        }
        return min(delay, maximumDelay)
    }
}
