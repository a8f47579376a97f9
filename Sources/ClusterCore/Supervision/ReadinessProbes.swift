/// TCP readiness probes of starting `tcp` workers: which worker's port to connect to when, retried with a delay
/// that doubles from the initial interval up to the maximum until a connect succeeds.
///
/// Pure: the shell asks for the probes due at `now`, makes the connects and reports how each went; a probe is
/// forgotten once its worker is ready or gone. A worker has at most one connect in flight.
public struct ReadinessProbes: Sendable {
    /// A connect to make now.
    public struct Attempt: Sendable, Equatable {
        public var worker: WorkerID
        public var port: Int

        public init(worker: WorkerID, port: Int) {
            self.worker = worker
            self.port = port
        }
    }

    private struct Probe: Sendable {
        var port: Int
        /// The wait after the next failure.
        var delay: Duration
        enum Phase: Sendable {
            case waiting(until: Instant)
            case connecting
        }
        var phase: Phase
    }

    /// The delay after a probe's first failure.
    public let initialInterval: Duration
    /// The delay stops growing here.
    public let maximumInterval: Duration
    private var probes: [WorkerID: Probe] = [:]

    public init(initialInterval: Duration, maximumInterval: Duration) {
        self.initialInterval = initialInterval
        self.maximumInterval = maximumInterval
    }

    /// Workers being probed.
    public var workers: [WorkerID] { probes.keys.sorted() }

    /// A `tcp` worker was launched on `port`: its first probe is due at once.
    public mutating func workerLaunched(_ worker: WorkerID, port: Int, now: Instant) {
        probes[worker] = Probe(port: port, delay: initialInterval, phase: .waiting(until: now))
    }

    /// The connects to make now, in worker order; each is in flight until reported back (`connectSucceeded`,
    /// `connectFailed`) and not due again meanwhile.
    public mutating func attemptsDue(now: Instant) -> [Attempt] {
        var due: [Attempt] = []
        for (worker, probe) in probes {
            guard case .waiting(let until) = probe.phase, now >= until else { continue }
            probes[worker]!.phase = .connecting
            due.append(Attempt(worker: worker, port: probe.port))
        }
        return due.sorted { $0.worker < $1.worker }
    }

    /// The worker accepted a connection: it is ready, and its probe is over.
    public mutating func connectSucceeded(_ worker: WorkerID) {
        probes[worker] = nil
    }

    /// The connect was refused (or failed): the next one is due after the current delay, which then doubles up
    /// to the maximum. Nothing for a worker no longer probed.
    public mutating func connectFailed(_ worker: WorkerID, now: Instant) {
        guard var probe = probes[worker] else { return }
        probe.phase = .waiting(until: now + probe.delay)
        probe.delay = min(probe.delay * 2, maximumInterval)
        probes[worker] = probe
    }

    /// The worker exited (or is no longer starting): no more probes of it.
    public mutating func forget(_ worker: WorkerID) {
        probes[worker] = nil
    }

    /// The earliest instant a probe is due; nil when none waits (none at all, or every one is connecting).
    public var nextDeadline: Instant? {
        probes.values.compactMap { probe -> Instant? in
            if case .waiting(let until) = probe.phase { return until }
            return nil
        }.min()
    }
}
