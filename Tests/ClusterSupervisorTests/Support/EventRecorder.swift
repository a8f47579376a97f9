import ClusterCore
import Glibc
import Synchronization

/// Collects the supervisor's published events with the (monotonic) time each arrived.
final class EventRecorder: Sendable {
    struct Stamped: Sendable {
        var at: Duration
        var event: ClusterEvent
    }

    private let recorded = Mutex<[Stamped]>([])

    func consume(_ stream: AsyncStream<ClusterEvent>) async {
        for await event in stream {
            let stamped = Stamped(at: Self.now(), event: event)
            recorded.withLock { $0.append(stamped) }
        }
    }

    var all: [Stamped] { recorded.withLock { $0 } }

    func count(where predicate: (ClusterEvent) -> Bool) -> Int {
        recorded.withLock { $0.count { predicate($0.event) } }
    }

    /// Waits until `predicate` holds for the recorded events, or fails after `timeout`.
    @discardableResult
    func wait(
        _ what: String,
        timeout: Duration = .seconds(10),
        until predicate: ([ClusterEvent]) -> Bool
    ) async throws -> [ClusterEvent] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let events = recorded.withLock { $0.map(\.event) }
            if predicate(events) { return events }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimedOut(what: what, events: recorded.withLock { $0.map { "\($0.event)" } })
    }

    static func now() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var what: String
    var events: [String]
    var description: String { "timed out waiting for \(what); events so far:\n  " + events.joined(separator: "\n  ") }
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
func eventually(
    _ what: String,
    timeout: Duration = .seconds(10),
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(10))
    }
    throw TimedOut(what: what, events: [])
}

extension ClusterEvent {
    var startedWorker: WorkerID? {
        if case .workerStarting(let id, _, _) = self { return id }
        return nil
    }

    var readyWorker: (WorkerID, Int)? {
        if case .workerReady(let id, let port) = self { return (id, port) }
        return nil
    }

    var goneWorker: (id: WorkerID, exit: ExitStatus?, reason: StopReason?)? {
        if case .workerGone(let id, let exit, let reason) = self { return (id, exit, reason) }
        return nil
    }
}
