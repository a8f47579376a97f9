import Testing

@testable import ClusterCore

@Suite("Readiness probes")
struct ReadinessProbesTests {
    private func probes() -> ReadinessProbes {
        ReadinessProbes(initialInterval: .milliseconds(5), maximumInterval: .milliseconds(20))
    }

    private let start = Instant.zero

    @Test("a launched worker is probed at once, and not again while its connect is in flight")
    func dueAtLaunch() {
        var probes = probes()
        probes.workerLaunched(.acme(1), port: 7001, now: start)
        #expect(probes.nextDeadline == start)
        #expect(probes.attemptsDue(now: start) == [.init(worker: .acme(1), port: 7001)])
        #expect(probes.nextDeadline == nil)
        #expect(probes.attemptsDue(now: start + .seconds(10)).isEmpty)
        #expect(probes.workers == [.acme(1)])
    }

    @Test("nothing is due before its time")
    func notDueEarly() {
        var probes = probes()
        probes.workerLaunched(.acme(1), port: 7001, now: start + .milliseconds(3))
        #expect(probes.attemptsDue(now: start).isEmpty)
        #expect(probes.attemptsDue(now: start + .milliseconds(3)).count == 1)
    }

    @Test("each failure waits twice as long as the one before, up to the maximum")
    func doublingBackoff() throws {
        var probes = probes()
        var now = start
        probes.workerLaunched(.acme(1), port: 7001, now: now)
        var waits: [Duration] = []
        for _ in 0..<5 {
            #expect(probes.attemptsDue(now: now).map(\.worker) == [.acme(1)])
            probes.connectFailed(.acme(1), now: now)
            let next = try #require(probes.nextDeadline)
            #expect(probes.attemptsDue(now: next - .nanoseconds(1)).isEmpty)
            waits.append(next - now)
            now = next
        }
        #expect(
            waits == [.milliseconds(5), .milliseconds(10), .milliseconds(20), .milliseconds(20), .milliseconds(20)]
        )
    }

    @Test("a failure is timed from when it was reported")
    func failureFromReport() {
        var probes = probes()
        probes.workerLaunched(.acme(1), port: 7001, now: start)
        _ = probes.attemptsDue(now: start)
        probes.connectFailed(.acme(1), now: start + .milliseconds(100))
        #expect(probes.nextDeadline == start + .milliseconds(105))
    }

    @Test("a success ends the probe; so does forgetting the worker")
    func successAndForget() {
        var probes = probes()
        probes.workerLaunched(.acme(1), port: 7001, now: start)
        probes.workerLaunched(.acme(2), port: 7002, now: start)
        _ = probes.attemptsDue(now: start)
        probes.connectSucceeded(.acme(1))
        probes.forget(.acme(2))
        #expect(probes.workers.isEmpty)
        #expect(probes.nextDeadline == nil)
        #expect(probes.attemptsDue(now: start + .seconds(1)).isEmpty)
        // Reports about probes that are over change nothing.
        probes.connectFailed(.acme(1), now: start)
        #expect(probes.workers.isEmpty)
    }

    @Test("several workers: due ones in worker order, each with its own backoff; the earliest deadline wins")
    func severalWorkers() {
        var probes = probes()
        probes.workerLaunched(.beta(1), port: 7003, now: start)
        probes.workerLaunched(.acme(2), port: 7002, now: start)
        probes.workerLaunched(.acme(1), port: 7001, now: start + .milliseconds(1))
        #expect(probes.attemptsDue(now: start).map(\.worker) == [.acme(2), .beta(1)])
        #expect(probes.nextDeadline == start + .milliseconds(1))
        #expect(probes.attemptsDue(now: start + .milliseconds(1)).map(\.port) == [7001])

        probes.connectFailed(.acme(2), now: start)  // again at 5ms, then 10ms later
        probes.connectFailed(.beta(1), now: start + .milliseconds(2))  // again at 7ms
        #expect(probes.nextDeadline == start + .milliseconds(5))
        #expect(probes.attemptsDue(now: start + .milliseconds(7)).map(\.worker) == [.acme(2), .beta(1)])
        probes.connectFailed(.acme(2), now: start + .milliseconds(7))
        #expect(probes.nextDeadline == start + .milliseconds(17))
    }

    @Test("a relaunch starts the backoff over")
    func relaunchResets() {
        var probes = probes()
        probes.workerLaunched(.acme(1), port: 7001, now: start)
        for _ in 0..<3 {
            _ = probes.attemptsDue(now: .init(nanoseconds: .max))
            probes.connectFailed(.acme(1), now: start)
        }
        probes.workerLaunched(.acme(1), port: 7001, now: start)
        _ = probes.attemptsDue(now: start)
        probes.connectFailed(.acme(1), now: start)
        #expect(probes.nextDeadline == start + .milliseconds(5))
    }
}
