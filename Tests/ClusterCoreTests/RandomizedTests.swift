import Testing

@testable import ClusterCore

/// Throws thousands of random (seeded, deterministic) events at the machine and checks after each one what
/// must always hold; then shuts down and checks that every activation got exactly one answer.
@Suite("Randomized event sequences")
struct RandomizedTests {
    static let seeds: [UInt64] = Array(1...12)

    /// A tight host cap (evictions and waits everywhere) and a usual one.
    @Test("invariants hold after every random event", arguments: seeds, [2, 6])
    func invariants(seed: UInt64, hostCap: Int) throws {
        var run = ChaosRun(seed: seed, hostCap: hostCap)
        try run.play(events: 3000)
        try run.shutDownAndSettle()
    }

    @Test("the same seed gives the same run")
    func deterministic() throws {
        var first = ChaosRun(seed: 99, hostCap: 6)
        var second = ChaosRun(seed: 99, hostCap: 6)
        try first.play(events: 500)
        try second.play(events: 500)
        #expect(first.shell.log == second.shell.log)
    }
}

/// Stops a run at its first broken invariant (after recording it).
private struct InvariantBroken: Error {}

private struct ChaosRun {
    static let tenants: [TenantConfiguration] = [
        .fixture(
            "acme",
            idleTimeout: .seconds(5),
            startTimeout: .seconds(3),
            stopTimeout: .seconds(2),
            drainTimeout: .seconds(4),
            maxWorkers: 2
        ),
        .fixture(
            "beta",
            readiness: .notify,
            idleTimeout: .seconds(8),
            startTimeout: .seconds(2),
            stopTimeout: .seconds(1),
            drainTimeout: .seconds(3),
            watchdog: .seconds(3),
            minWorkers: 1,
            maxWorkers: 3
        ),
        .fixture("gamma", readiness: .tcp, idleTimeout: .zero, startTimeout: .seconds(2), maxWorkers: 1),
        .fixture(
            "delta",
            idleTimeout: .seconds(2),
            startTimeout: .seconds(1),
            stopTimeout: .seconds(1),
            drainTimeout: .seconds(1),
            maxWorkers: 4
        ),
    ]

    /// What a reload may switch to: the same, a changed command, a tenant removed, one added, a timeout changed.
    static func configurations(hostCap: Int) -> [ClusterConfiguration] {
        var variants: [[TenantConfiguration]] = [tenants]
        var changedCommand = tenants
        changedCommand[0].command = ["/usr/bin/app2", "{port}"]
        variants.append(changedCommand)
        variants.append(tenants.filter { $0.name != "delta" })
        variants.append(tenants + [.fixture("epsilon", idleTimeout: .seconds(3), minWorkers: 1, maxWorkers: 2)])
        var changedIdle = tenants
        changedIdle[1].idleTimeout = .seconds(1)
        changedIdle[3].maxWorkers = 1
        variants.append(changedIdle)
        return variants.map { .fixture($0, maxWorkers: hostCap, ports: 20000...(20000 + 2 * hostCap - 1)) }
    }

    var shell: SimulatedShell
    var rng: SeededGenerator
    let seed: UInt64
    let configurations: [ClusterConfiguration]
    var eventNumber = 0
    var activations: [ActivationID] = []
    var cancelled: Set<ActivationID> = []
    /// The last events and their actions, shown when an invariant breaks.
    var trace: [String] = []
    /// Workers subscribers have heard of (starting, ready, draining) and not yet heard are gone.
    var announced: Set<WorkerID> = []

    init(seed: UInt64, hostCap: Int) {
        self.seed = seed
        self.rng = SeededGenerator(seed: seed)
        self.configurations = Self.configurations(hostCap: hostCap)
        self.shell = SimulatedShell(configurations[0], reportsLaunches: false)
    }

    // MARK: - Playing

    mutating func play(events: Int) throws {
        try event("startup") { $0.advance(by: .zero) }
        for _ in 0..<events {
            try randomEvent()
        }
    }

    /// Shutdown, then behave like a shell whose workers all obey: spawns complete, every process exits.
    mutating func shutDownAndSettle() throws {
        try event("shutdown") { $0.shutdown() }
        for _ in 0..<200 where shell.shutdownCompletions == 0 {
            if let worker = unreported.first {
                try event("launched \(worker)") { $0.reportLaunched(worker) }
            } else if let worker = reported.first {
                try event("exit \(worker)") { $0.exit(worker, .signaled(15)) }
            } else if shell.machine.nextDeadline() != nil {
                try event("deadline") { $0.advanceToNextDeadline() }
            } else {
                break
            }
        }
        try check(shell.shutdownCompletions == 1, "shutdown never completed; workers: \(shell.processes.sorted())")
        for id in activations {
            let count = shell.answers(for: id).count
            if cancelled.contains(id) {
                try check(count == 0, "cancelled \(id) answered \(count) times")
            } else {
                try check(count == 1, "\(id) answered \(count) times")
            }
        }
        // Nothing starts again.
        for tenant in ["acme", "beta", "gamma"] {
            try event("late activation") { shell in
                shell.activate(tenant)
                return shell.lastActions
            }
            try check(shell.lastActions.launches.isEmpty, "launch after shutdown")
        }
        try event("late time") { $0.advance(by: .seconds(3600)) }
        try check(shell.shutdownCompletions == 1, "shutdownCompleted more than once")
    }

    private var unreported: [WorkerID] {
        shell.processes.filter { shell.pids[$0] == nil }.sorted()
    }

    private var reported: [WorkerID] {
        shell.processes.filter { shell.pids[$0] != nil }.sorted()
    }

    private var tenantNames: [String] {
        shell.machine.configuration.tenantNames + ["ghost"]
    }

    private mutating func pick<T>(_ items: [T]) -> T? {
        items.randomElement(using: &rng)
    }

    private mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &rng) < percent
    }

    private mutating func randomEvent() throws {
        let roll = Int.random(in: 0..<100, using: &rng)
        switch roll {
        case 0..<18:
            guard let tenant = pick(tenantNames) else { return }
            let additional = chance(30)
            var id: ActivationID?
            try event("activate \(tenant) additional: \(additional)") { shell in
                id = shell.activate(tenant, additional: additional)
                return shell.lastActions
            }
            if let id { activations.append(id) }
        case 18..<20:
            let waiting = activations.filter { shell.answers(for: $0).isEmpty && !cancelled.contains($0) }
            guard let id = pick(waiting) else { return }
            let tenant = shell.machine.pools.first { $0.value.pending.contains { $0.id == id } }?.key ?? "ghost"
            cancelled.insert(id)
            try event("cancel \(id)") { shell in
                shell.cancel(id, tenant: tenant)
                return []
            }
        case 20..<34:
            guard let worker = pick(unreported) else { return }
            let outcome = Int.random(in: 0..<100, using: &rng)
            if outcome < 85 {
                try event("launched \(worker)") { $0.reportLaunched(worker) }
            } else if outcome < 95 {
                try event("port unavailable \(worker)") { $0.reportLaunchFailed(worker, .portUnavailable) }
            } else {
                try event("launch failed \(worker)") { $0.reportLaunchFailed(worker, .failed("exec: no such file")) }
            }
        case 34..<38:
            let probing = reported.filter { shell.machine.worker($0)?.isStarting == true && $0.tenant == "gamma" }
            guard let worker = pick(probing) else { return }
            try event("tcp ready \(worker)") { $0.reportReady(worker) }
        case 38..<46:
            guard let worker = pick(reported) else { return }
            let messages = [
                "READY=1", "READY=1", "READY=1\nSTATUS=up", "STATUS=busy", "WATCHDOG=1", "WATCHDOG=1", "STOPPING=1",
                "WATCHDOG=trigger",
            ]
            let message = pick(messages)!
            try event("notify \(worker) \(message.debugDescription)") { $0.notify(worker, message) }
        case 46..<56:
            guard let worker = pick(reported) else { return }
            let statuses: [ExitStatus] = [.exited(0), .exited(1), .signaled(9), .signaled(11), .signaled(15)]
            let status = pick(statuses)!
            try event("exit \(worker) \(status)") { $0.exit(worker, status) }
        case 56..<66:
            guard let worker = pick(reported) else { return }
            let inFlight = Int.random(in: 0...3, using: &rng)
            try event("activity \(worker) \(inFlight)") { $0.activity(worker, inFlight: inFlight) }
        case 66..<76:
            let step = Duration.milliseconds(Int64.random(in: 0...1500, using: &rng))
            try advance(to: shell.now + step)
        case 76..<84:
            guard let deadline = shell.machine.nextDeadline() else {
                try advance(to: shell.now + .seconds(1))
                return
            }
            if chance(50) { try advance(to: deadline - .nanoseconds(1)) }
            try advance(to: deadline)
        case 84..<87:
            guard let tenant = pick(tenantNames) else { return }
            let count = Int.random(in: -1...4, using: &rng)
            try event("scale \(tenant)=\(count)") { $0.scale(tenant, to: count).actions }
        case 87..<89:
            guard let tenant = pick(tenantNames) else { return }
            if chance(50) {
                try event("stop \(tenant)") { $0.stop(tenant).actions }
            } else {
                try event("start \(tenant)") { $0.start(tenant).actions }
            }
        case 89..<91:
            guard let tenant = pick(tenantNames) else { return }
            if chance(50) {
                try event("drain \(tenant)") { $0.drain(tenant).actions }
            } else {
                try event("restart \(tenant)") { $0.restart(tenant).actions }
            }
        case 91..<93:
            let index = Int.random(in: 0..<configurations.count, using: &rng)
            let configuration = configurations[index]
            try event("reload #\(index)") { $0.reload(configuration) }
        case 93..<94:
            guard let tenant = pick(tenantNames) else { return }
            let count = Int.random(in: 0...3, using: &rng)
            try event("restore scale \(tenant)=\(count)") { $0.restoreScale(tenant, to: count) }
        default:
            // A well-behaved worker: it exits after SIGTERM or SIGKILL.
            let leaving = reported.filter { shell.machine.worker($0).map { !$0.isLive } ?? false }
            guard let worker = pick(leaving) else { return }
            try event("obedient exit \(worker)") { $0.exit(worker, .signaled(15)) }
        }
    }

    /// Moves time to `instant`; a `timeElapsed` before the next deadline must do nothing at all.
    private mutating func advance(to instant: Instant) throws {
        let target = max(instant, shell.now)
        let deadline = shell.machine.nextDeadline()
        try event("time \(target)") { $0.advance(to: target) }
        if deadline.map({ $0 > target }) ?? true {
            try check(
                shell.lastActions.isEmpty,
                "timeElapsed before the next deadline (\(String(describing: deadline))) acted: \(shell.lastActions)"
            )
        }
    }

    // MARK: - Checking

    private mutating func event(_ name: String, _ body: (inout SimulatedShell) -> [ClusterAction]) throws {
        eventNumber += 1
        let wasShuttingDown = shell.machine.shuttingDown
        let actions = body(&shell)
        trace.append("\(eventNumber) \(shell.now) \(name) → \(actions.map(Self.summary).joined(separator: ", "))")
        if trace.count > 40 { trace.removeFirst() }
        for case .publish(let published) in actions {
            switch published {
            case .workerStarting(let id, _, _), .workerReady(let id, _), .workerDraining(let id, _):
                announced.insert(id)
            case .workerGone(let id, _, _): announced.remove(id)
            case .tenantFailed, .tenantRecovered, .configurationReloaded: break
            }
        }
        try checkInvariants(after: name, actions: actions, wasShuttingDown: wasShuttingDown)
    }

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        guard condition else {
            Issue.record(
                "seed \(seed), cap \(shell.machine.configuration.maxWorkers), event \(eventNumber) at \(shell.now): \(message())\n\(diagnosis)"
            )
            throw InvariantBroken()
        }
    }

    /// The last events and every pool's state.
    private var diagnosis: String {
        var lines = ["last events:"] + trace + ["pools:"]
        for name in shell.machine.pools.keys.sorted() {
            let pool = shell.machine.pools[name]!
            let workers = pool.workers.map { "\($0.id) \($0.state.name) gen \($0.generation) in flight \($0.inFlight)" }
            let needSince = pool.needSince.map { "\($0)" } ?? "-"
            lines.append("  \(name) \(pool.mode) demand \(pool.demand) floor \(pool.floor) gen \(pool.generation)")
            lines.append("    needSince \(needSince) notBefore \(pool.restarts.notBefore) workers \(workers)")
        }
        return lines.joined(separator: "\n")
    }

    private func checkInvariants(after name: String, actions: [ClusterAction], wasShuttingDown: Bool) throws {
        let machine = shell.machine
        let context = "after \(name)"
        let workers = machine.pools.values.flatMap(\.workers)

        // The host cap, and each tenant's own.
        try check(machine.workerCount <= machine.configuration.maxWorkers, "\(context): \(machine.workerCount) workers")
        for (name, pool) in machine.pools {
            try check(
                pool.liveCurrent <= pool.demandLimit,
                "\(context): \(name) has \(pool.liveCurrent) current workers"
            )
            if pool.mode != .onDemand {
                try check(pool.pending.isEmpty, "\(context): \(name) is \(pool.mode) with waiters")
            }
            if pool.workers.contains(where: \.isReady) {
                try check(pool.pending.isEmpty, "\(context): \(name) has a ready worker and waiters")
            }
        }

        // The machine's workers are exactly the shell's processes, and their ports are distinct and allocated.
        try check(Set(workers.map(\.id)) == shell.processes, "\(context): machine and processes disagree")
        let ports = workers.map(\.port)
        try check(Set(ports).count == ports.count, "\(context): a port is shared: \(ports.sorted())")
        try check(ports.allSatisfy { machine.ports.isInUse($0) }, "\(context): a worker's port is not held")
        try check(machine.ports.inUseCount == ports.count, "\(context): a port leaked")

        // Subscribers hear of every worker that leaves: none they know of vanishes silently.
        let vanished = announced.subtracting(workers.map(\.id))
        try check(vanished.isEmpty, "\(context): \(vanished.sorted()) left without workerGone")

        // Launches only for tenants that may start workers.
        for launch in actions.launches {
            try check(!wasShuttingDown && !machine.shuttingDown, "\(context): launch during shutdown")
            try check(
                machine.pools[launch.worker.tenant]?.mode == .onDemand,
                "\(context): launch of a tenant not on demand"
            )
            try check(machine.configuration.ports.contains(launch.port), "\(context): port outside the range")
        }
        // Signals only to processes that exist.
        for id in actions.terminated + actions.killed {
            try check(shell.processes.contains(id), "\(context): signal to \(id), which is gone")
        }

        // Each activation answered at most once, and never after it was cancelled.
        for (id, _) in actions.answers {
            try check(shell.answers(for: id).count == 1, "\(context): \(id) answered again")
            try check(!cancelled.contains(id), "\(context): cancelled \(id) answered")
        }

        try check(shell.shutdownCompletions <= 1, "\(context): shutdownCompleted twice")
        if actions.contains(.shutdownCompleted) {
            try check(machine.workerCount == 0, "\(context): shutdown completed with workers left")
        }

        try checkDeadlines(context)
        try checkNothingMissed(context)
    }

    /// Looking only at the pools an event changed misses nothing: a reconcile of every pool (what each event did
    /// before pools were tracked) finds nothing more to do, and each pool's own next deadline is announced.
    private func checkNothingMissed(_ context: String) throws {
        let machine = shell.machine
        guard machine.nextDeadline().map({ $0 > shell.now }) ?? true else { return }
        var full = machine
        for name in full.pools.keys { full.markChanged(name) }
        let missed = full.reconcile(now: shell.now)
        try check(missed.isEmpty, "\(context): a reconcile of every pool still does \(missed.map(Self.summary))")
        let earliest = machine.pools.values.compactMap { $0.nextDeadline(startsAllowed: !machine.shuttingDown) }.min()
        if let earliest {
            try check(
                machine.nextDeadline().map { $0 <= earliest } ?? false,
                "\(context): a pool's deadline \(earliest) is not announced (nextDeadline \(String(describing: machine.nextDeadline())))"
            )
        }
    }

    /// `nextDeadline()` is honest: work due now is announced (the deadline is not after now); a deadline that
    /// is due never wakes the shell for nothing, and handling it settles within a few rounds; and nothing
    /// happens between now and the next deadline.
    private func checkDeadlines(_ context: String) throws {
        var probe = shell.machine
        for _ in 0..<4 {
            guard let deadline = probe.nextDeadline(), deadline <= shell.now else {
                var idle = probe
                let hidden = idle.timeElapsed(now: shell.now)
                try check(hidden.isEmpty, "\(context): work due now that nextDeadline does not announce: \(hidden)")
                if let deadline = probe.nextDeadline() {
                    var early = probe
                    let premature = early.timeElapsed(now: deadline - .nanoseconds(1))
                    try check(premature.isEmpty, "\(context): timeElapsed 1 ns before \(deadline) acts: \(premature)")
                }
                return
            }
            let handled = probe.timeElapsed(now: shell.now)
            try check(!handled.isEmpty, "\(context): deadline \(deadline) is due but timeElapsed does nothing (a spin)")
        }
        try check(false, "\(context): timeElapsed at \(shell.now) does not settle")
    }
}

extension ChaosRun {
    /// One action, short.
    fileprivate static func summary(_ action: ClusterAction) -> String {
        switch action {
        case .launch(let launch): "launch \(launch.worker):\(launch.port)"
        case .terminate(let id): "TERM \(id)"
        case .kill(let id): "KILL \(id)"
        case .answerActivation(let id, let answer):
            "answer \(id.value) \(answer.readyWorkers.map { "\($0)" } ?? "\(answer.failure!)")"
        case .publish(let event): "\(event)"
        case .shutdownCompleted: "shutdownCompleted"
        }
    }
}

extension Result where Success == [ClusterAction], Failure == CommandRejection {
    fileprivate var actions: [ClusterAction] {
        (try? get()) ?? []
    }
}
