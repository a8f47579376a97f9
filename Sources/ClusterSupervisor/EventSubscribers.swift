import ClusterControl
import ClusterCore

/// Who hears of the machine's events: in-process observers (tests, the supervisor's own users) as values, and
/// control-channel subscribers as encoded lines, each cut off when it reads too slowly.
struct EventSubscribers {
    private var observers: [Int: AsyncStream<ClusterEvent>.Continuation] = [:]
    private var subscriptions: [Int: Subscription] = [:]
    private var nextKey = 0

    mutating func add(_ continuation: AsyncStream<ClusterEvent>.Continuation) {
        observers[nextKey] = continuation
        nextKey += 1
    }

    mutating func add(_ subscription: Subscription) {
        subscriptions[nextKey] = subscription
        nextKey += 1
    }

    /// Whether any control-channel subscriber would get a line (so it is encoded only then).
    var hasSubscriptions: Bool { !subscriptions.isEmpty }

    mutating func publish(_ event: ClusterEvent) {
        for continuation in observers.values { continuation.yield(event) }
    }

    /// Queues `line` for every subscriber; returns the ones cut off for reading too slowly (already dropped).
    mutating func deliver(_ line: [UInt8]) -> [Subscription] {
        var overflowed: [Subscription] = []
        for (key, subscription) in subscriptions where !subscription.deliver(line) {
            subscriptions[key] = nil
            if subscription.overflowed { overflowed.append(subscription) }
        }
        return overflowed
    }

    /// Ends every stream (clusterd stops).
    mutating func finishAll() {
        for continuation in observers.values { continuation.finish() }
        for subscription in subscriptions.values { subscription.finish() }
        observers.removeAll()
        subscriptions.removeAll()
    }
}
