import Testing

@testable import ClusterCore

/// Plays the I/O shell's role around a ``ClusterStateMachine``: feeds it events at a hand-driven `now`,
/// records every action, and (when `reportsLaunches`) answers each `.launch` with `workerLaunched` and a
/// fresh pid, as the real shell does after a successful spawn.
///
/// Every step method returns the actions of that step (including those of the launch reports it made)
/// and leaves them in `lastActions`; `log` has them all.
struct SimulatedShell {
    private(set) var machine: ClusterStateMachine
    private(set) var now: Instant
    /// Report `workerLaunched` for every `.launch` at once.
    var reportsLaunches: Bool
    private(set) var log: [ClusterAction] = []
    private(set) var lastActions: [ClusterAction] = []
    /// Every launch ever asked for, by worker.
    private(set) var launches: [WorkerID: WorkerLaunch] = [:]
    /// Workers launched (spawned or being spawned) and not yet reported gone: the processes on the host.
    private(set) var processes: Set<WorkerID> = []
    private(set) var pids: [WorkerID: Int32] = [:]
    /// Every answer each activation got, in order (a correct machine gives exactly one).
    private(set) var answers: [ActivationID: [ActivationAnswer]] = [:]
    private(set) var shutdownCompletions = 0
    private var nextPID: Int32 = 1000
    private var nextActivation: UInt64 = 1

    init(
        _ configuration: ClusterConfiguration,
        policy: RestartPolicy = .standard,
        reportsLaunches: Bool = true,
        now: Instant = t0
    ) {
        self.machine = ClusterStateMachine(configuration: configuration, policy: policy)
        self.now = now
        self.reportsLaunches = reportsLaunches
    }

    // MARK: - Clock

    /// Moves the clock without telling the machine (so a following event happens at that instant).
    mutating func moveClock(to instant: Instant) {
        precondition(instant >= now, "time does not go backwards")
        now = instant
    }

    mutating func moveClock(by duration: Duration) {
        moveClock(to: now + duration)
    }

    /// Moves the clock and reports `timeElapsed`.
    @discardableResult
    mutating func advance(by duration: Duration) -> [ClusterAction] {
        advance(to: now + duration)
    }

    @discardableResult
    mutating func advance(to instant: Instant) -> [ClusterAction] {
        moveClock(to: instant)
        return step { $0.timeElapsed(now: $1) }
    }

    /// Advances to the machine's next deadline (which must exist).
    @discardableResult
    mutating func advanceToNextDeadline() -> [ClusterAction] {
        guard let deadline = machine.nextDeadline() else {
            preconditionFailure("no deadline scheduled")
        }
        return advance(to: max(deadline, now))
    }

    // MARK: - Events

    /// Asks for a worker of `tenant` with a fresh activation id.
    @discardableResult
    mutating func activate(_ tenant: String, additional: Bool = false) -> ActivationID {
        let id = ActivationID(nextActivation)
        nextActivation += 1
        step { $0.activationRequested(id, tenant: tenant, additional: additional, now: $1) }
        return id
    }

    mutating func cancel(_ id: ActivationID, tenant: String) {
        machine.activationCancelled(id, tenant: tenant)
        lastActions = []
    }

    /// Reports the spawn of `worker` (for a shell that does not report launches by itself).
    @discardableResult
    mutating func reportLaunched(_ worker: WorkerID, pid: Int32? = nil) -> [ClusterAction] {
        let pid = pid ?? makePID()
        pids[worker] = pid
        return step { $0.workerLaunched(worker, pid: pid, now: $1) }
    }

    @discardableResult
    mutating func reportLaunchFailed(_ worker: WorkerID, _ failure: LaunchFailure) -> [ClusterAction] {
        processes.remove(worker)
        return step { $0.workerLaunchFailed(worker, failure, now: $1) }
    }

    /// A `tcp` probe connected.
    @discardableResult
    mutating func reportReady(_ worker: WorkerID) -> [ClusterAction] {
        step { $0.workerBecameReady(worker, now: $1) }
    }

    /// The worker sent a notify datagram such as `"READY=1\nSTATUS=up"`.
    @discardableResult
    mutating func notify(_ worker: WorkerID, _ text: String) -> [ClusterAction] {
        let message = NotifyMessage(parsing: text)
        return step { $0.workerNotified(worker, message, now: $1) }
    }

    @discardableResult
    mutating func exit(_ worker: WorkerID, _ status: ExitStatus = .exited(1)) -> [ClusterAction] {
        processes.remove(worker)
        return step { $0.workerExited(worker, status, now: $1) }
    }

    @discardableResult
    mutating func activity(_ worker: WorkerID, inFlight: Int) -> [ClusterAction] {
        step { $0.activityReported(worker, inFlight: inFlight, now: $1) }
    }

    @discardableResult
    mutating func scale(_ tenant: String, to count: Int) -> Result<[ClusterAction], CommandRejection> {
        command { $0.scaleRequested(tenant: tenant, workers: count, now: $1) }
    }

    mutating func scale(_ counts: [String: Int]) -> Result<[ClusterAction], CommandRejection> {
        command { $0.scaleRequested(counts, now: $1) }
    }

    @discardableResult
    mutating func restoreScale(_ tenant: String, to count: Int) -> [ClusterAction] {
        step { $0.restoreScale(tenant: tenant, workers: count, now: $1) }
    }

    @discardableResult
    mutating func start(_ tenant: String) -> Result<[ClusterAction], CommandRejection> {
        command { $0.startRequested(tenant: tenant, now: $1) }
    }

    @discardableResult
    mutating func stop(_ tenant: String) -> Result<[ClusterAction], CommandRejection> {
        command { $0.stopRequested(tenant: tenant, now: $1) }
    }

    @discardableResult
    mutating func drain(_ tenant: String) -> Result<[ClusterAction], CommandRejection> {
        command { $0.drainRequested(tenant: tenant, now: $1) }
    }

    @discardableResult
    mutating func restart(_ tenant: String) -> Result<[ClusterAction], CommandRejection> {
        command { $0.restartRequested(tenant: tenant, now: $1) }
    }

    @discardableResult
    mutating func reload(_ configuration: ClusterConfiguration) -> [ClusterAction] {
        step { $0.configurationReloaded(configuration, now: $1) }
    }

    @discardableResult
    mutating func shutdown() -> [ClusterAction] {
        step { $0.shutdownRequested(now: $1) }
    }

    // MARK: - Conveniences

    /// Activates a `listen-fds` tenant and returns the worker the activation brought up (or got at once).
    mutating func readyWorker(of tenant: String, additional: Bool = false) throws -> WorkerID {
        let id = activate(tenant, additional: additional)
        guard case .ready(let workers)? = answers[id]?.first, let first = workers.first else {
            throw NoReadyWorker(tenant: tenant, answers: answers[id] ?? [])
        }
        return launchedWorkers(in: lastActions).last ?? first.id
    }

    /// The workers of a tenant the machine knows, in serial order.
    func workers(of tenant: String) -> [Worker] {
        machine.pools[tenant]?.workers ?? []
    }

    func state(of worker: WorkerID) -> WorkerState? {
        machine.worker(worker)?.state
    }

    func pool(_ tenant: String) -> TenantPool? {
        machine.pools[tenant]
    }

    /// The first answer an activation got; nil while it waits.
    func answer(for id: ActivationID) -> ActivationAnswer? {
        answers[id]?.first
    }

    func answers(for id: ActivationID) -> [ActivationAnswer] {
        answers[id] ?? []
    }

    func launchedWorkers(in actions: [ClusterAction]? = nil) -> [WorkerID] {
        (actions ?? lastActions).launches.map(\.worker)
    }

    func published(in actions: [ClusterAction]? = nil) -> [ClusterEvent] {
        (actions ?? lastActions).published
    }

    // MARK: - Plumbing

    private mutating func makePID() -> Int32 {
        nextPID += 1
        return nextPID
    }

    @discardableResult
    private mutating func step(
        _ event: (inout ClusterStateMachine, Instant) -> [ClusterAction]
    ) -> [ClusterAction] {
        let actions = event(&machine, now)
        lastActions = process(actions)
        return lastActions
    }

    private mutating func command(
        _ event: (inout ClusterStateMachine, Instant) -> Result<[ClusterAction], CommandRejection>
    ) -> Result<[ClusterAction], CommandRejection> {
        let result = event(&machine, now)
        switch result {
        case .success(let actions):
            lastActions = process(actions)
            return .success(lastActions)
        case .failure:
            lastActions = []
            return result
        }
    }

    /// Records `actions`, then reports the launches among them (and those that causes) when asked to.
    private mutating func process(_ actions: [ClusterAction]) -> [ClusterAction] {
        var all: [ClusterAction] = []
        var batch = actions
        while !batch.isEmpty {
            var spawned: [WorkerID] = []
            for action in batch {
                all.append(action)
                log.append(action)
                switch action {
                case .launch(let launch):
                    if launches[launch.worker] != nil { Issue.record("worker id \(launch.worker) launched twice") }
                    launches[launch.worker] = launch
                    processes.insert(launch.worker)
                    spawned.append(launch.worker)
                case .answerActivation(let id, let answer):
                    answers[id, default: []].append(answer)
                case .shutdownCompleted:
                    shutdownCompletions += 1
                case .terminate, .kill, .publish:
                    break
                }
            }
            batch = []
            if reportsLaunches {
                for worker in spawned {
                    let pid = makePID()
                    pids[worker] = pid
                    batch += machine.workerLaunched(worker, pid: pid, now: now)
                }
            }
        }
        return all
    }
}

/// `readyWorker(of:)` got no ready worker.
struct NoReadyWorker: Error, CustomStringConvertible {
    var tenant: String
    var answers: [ActivationAnswer]
    var description: String { "no ready worker for \(tenant): \(answers)" }
}

// MARK: - Reading actions

extension Array where Element == ClusterAction {
    var launches: [WorkerLaunch] {
        compactMap { if case .launch(let launch) = $0 { launch } else { nil } }
    }

    var terminated: [WorkerID] {
        compactMap { if case .terminate(let id) = $0 { id } else { nil } }
    }

    var killed: [WorkerID] {
        compactMap { if case .kill(let id) = $0 { id } else { nil } }
    }

    var published: [ClusterEvent] {
        compactMap { if case .publish(let event) = $0 { event } else { nil } }
    }

    var answers: [(ActivationID, ActivationAnswer)] {
        compactMap { if case .answerActivation(let id, let answer) = $0 { (id, answer) } else { nil } }
    }

    func answers(for id: ActivationID) -> [ActivationAnswer] {
        answers.filter { $0.0 == id }.map(\.1)
    }

    var drained: [WorkerID: StopReason] {
        var result: [WorkerID: StopReason] = [:]
        for case .workerDraining(let id, let reason) in published { result[id] = reason }
        return result
    }

    var gone: [WorkerID] {
        published.compactMap { if case .workerGone(let id, _, _) = $0 { id } else { nil } }
    }

    /// True when no action concerns `tenant`'s workers or activations by worker id.
    func mentions(tenant: String) -> Bool {
        contains { action in
            switch action {
            case .launch(let launch): launch.worker.tenant == tenant
            case .terminate(let id), .kill(let id): id.tenant == tenant
            case .publish(let event): event.tenant == tenant
            case .answerActivation, .shutdownCompleted: false
            }
        }
    }
}

extension ClusterEvent {
    var tenant: String? {
        switch self {
        case .workerStarting(let id, _, _), .workerReady(let id, _), .workerDraining(let id, _),
            .workerGone(let id, _, _):
            id.tenant
        case .tenantFailed(let name, _, _), .tenantRecovered(let name): name
        case .configurationReloaded: nil
        }
    }
}

extension ActivationAnswer {
    /// The worker ids of a `.ready` answer; nil for a failure.
    var readyWorkers: [WorkerID]? {
        if case .ready(let workers) = self { workers.map(\.id) } else { nil }
    }

    var failure: ActivationFailure? {
        if case .failed(let failure) = self { failure } else { nil }
    }
}

extension Result where Failure == CommandRejection {
    var rejection: CommandRejection? {
        if case .failure(let rejection) = self { rejection } else { nil }
    }
}

extension WorkerID {
    static func acme(_ serial: Int) -> WorkerID { WorkerID(tenant: "acme", serial: serial) }
    static func beta(_ serial: Int) -> WorkerID { WorkerID(tenant: "beta", serial: serial) }
}
