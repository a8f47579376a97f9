/// One tenant's workers and the decisions about them: how many it wants, when to start, drain, stop,
/// restart after a failure, or refuse to start because it is crash-looping.
///
/// Host-wide concerns (the worker cap, eviction, ports) belong to ``ClusterStateMachine``, which asks a pool
/// how many workers it needs and hands it ports.
struct TenantPool: Sendable {
    var config: TenantConfiguration
    /// Bumped when the tenant must be rolled (restart, or a reload that launches differently).
    var generation = 0
    /// In serial order.
    var workers: [Worker] = []
    var nextSerial = 1
    var mode: TenantMode = .onDemand
    /// Set by `clusterctl scale N` (N > 0): that many workers run and are never idled out below it.
    var scale: Int?
    /// Workers wanted because requests asked for them (activations), beyond the floor.
    var demand = 0
    var pending: [PendingActivation] = []
    var restarts = RestartHistory()
    var lastError: String?
    /// When this pool first needed a worker it could not get: the host cap admits needs in this order.
    var needSince: Instant?

    init(config: TenantConfiguration) {
        self.config = config
    }

    var name: String { config.name }

    /// Workers that always run: the scale, or `min_workers`.
    var floor: Int { scale ?? config.minWorkers }

    /// Workers wanted now.
    var target: Int {
        switch mode {
        case .onDemand, .failed: max(floor, demand)
        case .stopped, .removed: 0
        }
    }

    /// Most workers on-demand activation may ask for.
    var demandLimit: Int { max(config.maxWorkers, scale ?? 0) }

    var liveCurrent: Int { workers.count { $0.isLive && $0.generation == generation } }
    var readyCurrent: Int { workers.count { $0.isReady && $0.generation == generation } }
    var live: Int { workers.count(where: \.isLive) }
    /// Live workers, but no more than the tenant may run: what a roll replaces.
    var liveWithinLimit: Int { min(live, demandLimit) }
    /// What activations still waiting ask for: one worker, or none.
    var waitingDemand: Int { pending.isEmpty ? 0 : 1 }
    var readyWorkers: [ReadyWorker] {
        workers.filter(\.isReady).map { ReadyWorker(id: $0.id, port: $0.port) }
    }

    func index(of id: WorkerID) -> Int? { workers.firstIndex { $0.id == id } }

    /// How many workers to launch now (before the host cap is applied).
    func launchesNeeded(now: Instant) -> Int {
        guard mode == .onDemand, now >= restarts.notBefore else { return 0 }
        return max(0, target - liveCurrent)
    }

    /// A pool with nothing left to decide: no workers, nobody waiting, nothing wanted.
    var isQuiet: Bool { workers.isEmpty && pending.isEmpty && target == 0 }

    // MARK: - Launching

    mutating func addWorker(port: Int, now: Instant) -> WorkerLaunch {
        let id = WorkerID(tenant: name, serial: nextSerial)
        nextSerial += 1
        let worker = Worker(
            id: id,
            port: port,
            generation: generation,
            now: now,
            startDeadline: now + config.startTimeout
        )
        workers.append(worker)
        var environment = config.environment
        environment["PORT"] = String(port)
        environment["CLUSTERD_TENANT"] = name
        environment["CLUSTERD_WORKER"] = id.description
        if config.watchdog > .zero {
            environment["WATCHDOG_USEC"] = String(config.watchdog.nanoseconds / 1000)
        }
        return WorkerLaunch(
            worker: id,
            port: port,
            arguments: CommandTemplate.substitute(config.command, port: port, tenant: name),
            environment: environment,
            workingDirectory: config.workingDirectory,
            readiness: config.readiness
        )
    }

    mutating func launched(_ index: Int, pid: Int32, now: Instant) -> [ClusterAction] {
        workers[index].pid = pid
        let worker = workers[index]
        var actions: [ClusterAction] = [.publish(.workerStarting(worker.id, port: worker.port, pid: pid))]
        if config.readiness == .listenFDs, worker.isStarting {
            actions += becameReady(index, now: now)
        }
        return actions
    }

    mutating func becameReady(_ index: Int, now: Instant) -> [ClusterAction] {
        guard workers[index].isStarting else { return [] }
        workers[index].state = .ready
        workers[index].readyAt = now
        workers[index].lastActivity = now
        // As systemd does, the watchdog runs from the end of the start-up (start_timeout covers the start).
        if config.watchdog > .zero { workers[index].watchdogDeadline = now + config.watchdog }
        let worker = workers[index]
        var actions: [ClusterAction] = [.publish(.workerReady(worker.id, port: worker.port))]
        if !pending.isEmpty {
            let answer = ActivationAnswer.ready(readyWorkers)
            actions += pending.map { .answerActivation($0.id, answer) }
            pending.removeAll()
        }
        return actions
    }

    // MARK: - Activation

    mutating func activate(
        _ id: ActivationID,
        additional: Bool,
        pendingLimit: Int,
        now: Instant
    ) -> [ClusterAction] {
        // The failed period may have ended a moment before the shell's timer fired.
        let recovered = recoverIfDue(now: now)
        switch mode {
        case .stopped:
            return [.answerActivation(id, .failed(.tenantStopped))]
        case .removed:
            return [.answerActivation(id, .failed(.unknownTenant(name)))]
        case .onDemand, .failed:
            break
        }
        return recovered + activateRunning(id, additional: additional, pendingLimit: pendingLimit, now: now)
    }

    /// Leaves `failed` once its period is over.
    mutating func recoverIfDue(now: Instant) -> [ClusterAction] {
        guard case .failed(let until, _) = mode, now >= until else { return [] }
        mode = .onDemand
        return [.publish(.tenantRecovered(name))]
    }

    private mutating func activateRunning(
        _ id: ActivationID,
        additional: Bool,
        pendingLimit: Int,
        now: Instant
    ) -> [ClusterAction] {
        let ready = readyWorkers
        if !ready.isEmpty {
            for index in workers.indices where workers[index].isReady {
                workers[index].lastActivity = now
            }
            if additional, mode == .onDemand, live < demandLimit {
                // One more than run now; asking again while that one starts adds no other.
                demand = max(demand, live + 1)
            }
            return [.answerActivation(id, .ready(ready))]
        }
        if case .failed(let until, let reason) = mode {
            return [.answerActivation(id, .failed(.tenantFailed(reason: reason, retryAfter: until - now)))]
        }
        guard pending.count < pendingLimit else {
            return [.answerActivation(id, .failed(.tooManyWaiting(pendingLimit)))]
        }
        demand = max(demand, 1)
        let waitFrom = max(now, restarts.notBefore)
        pending.append(PendingActivation(id: id, deadline: waitFrom + config.startTimeout))
        return []
    }

    mutating func cancelActivation(_ id: ActivationID) {
        pending.removeAll { $0.id == id }
    }

    // MARK: - Failures and exits

    /// A start or a run failed: answer waiters if no other start can satisfy them, back off, detect a crash loop.
    mutating func recordFailure(
        _ reason: String,
        uptime: Duration?,
        failedStart: ActivationFailure?,
        policy: RestartPolicy,
        now: Instant
    ) -> [ClusterAction] {
        var actions: [ClusterAction] = []
        lastError = reason
        if let uptime, uptime >= policy.stableAfter {
            restarts.consecutiveFailures = 0
        }
        restarts.consecutiveFailures += 1
        restarts.failureTimes.append(now)
        restarts.failureTimes.removeAll { $0 <= now - policy.crashLoopWindow }
        let delay = policy.delay(afterConsecutiveFailures: restarts.consecutiveFailures)
        restarts.notBefore = now + delay

        if let failedStart, !pending.isEmpty, !workers.contains(where: \.isStarting) {
            actions += pending.map { .answerActivation($0.id, .failed(failedStart)) }
            pending.removeAll()
            demand = max(0, min(demand - 1, live))
        }
        if restarts.failureTimes.count >= policy.crashLoopFailures, mode == .onDemand {
            mode = .failed(until: now + delay, reason: reason)
            // No more starts; the workers still running keep serving (activation offers them).
            demand = min(demand, live)
            let failure = ActivationFailure.tenantFailed(reason: reason, retryAfter: delay)
            actions += pending.map { .answerActivation($0.id, .failed(failure)) }
            pending.removeAll()
            actions.append(.publish(.tenantFailed(name, reason: reason, retryAfter: delay)))
        }
        return actions
    }

    /// The worker at `index` exited; returns the actions and removes it.
    mutating func exited(_ index: Int, status: ExitStatus, policy: RestartPolicy, now: Instant) -> [ClusterAction] {
        let worker = workers.remove(at: index)
        var actions: [ClusterAction] = [
            .publish(.workerGone(worker.id, exit: status, reason: worker.state.stopReason))
        ]
        switch worker.state {
        case .starting:
            let reason = "\(status) before becoming ready"
            actions += recordFailure(reason, uptime: nil, failedStart: .startFailed(reason), policy: policy, now: now)
        case .ready where status.isSuccess:
            // It left by itself, cleanly: not a failure, and not wanted back unless the floor needs it.
            demand = min(demand, live)
        case .ready:
            let uptime = worker.readyAt.map { now - $0 }
            actions += recordFailure("\(status)", uptime: uptime, failedStart: nil, policy: policy, now: now)
        case .draining, .stopping, .killed:
            break
        }
        return actions
    }

    // MARK: - Draining and stopping

    /// Stops routing to the worker; tells it to stop now if nothing is in flight.
    mutating func drain(_ index: Int, reason: StopReason, now: Instant) -> [ClusterAction] {
        switch workers[index].state {
        case .starting, .ready: break
        case .draining, .stopping, .killed: return []
        }
        let id = workers[index].id
        if workers[index].isStarting || workers[index].inFlight == 0 {
            return [.publish(.workerDraining(id, reason: reason))] + terminate(index, reason: reason, now: now)
        }
        workers[index].state = .draining(reason: reason, deadline: now + config.drainTimeout)
        return [.publish(.workerDraining(id, reason: reason))]
    }

    mutating func terminate(_ index: Int, reason: StopReason, now: Instant) -> [ClusterAction] {
        workers[index].state = .stopping(reason: reason, killAt: now + config.stopTimeout)
        return [.terminate(workers[index].id)]
    }

    mutating func kill(_ index: Int, reason: StopReason) -> [ClusterAction] {
        workers[index].state = .killed(reason: reason)
        return [.kill(workers[index].id)]
    }

    /// Drains workers beyond what the pool wants: outdated generations once replacements are ready,
    /// and current ones above the target (starting ones first, then the least busy, newest first).
    mutating func drainSurplus(now: Instant) -> [ClusterAction] {
        var actions: [ClusterAction] = []
        let outdated = workers.indices.filter { workers[$0].isLive && workers[$0].generation != generation }
        let keepOutdated = max(0, target - readyCurrent)
        for index in outdated.sorted(by: surplusOrder).prefix(max(0, outdated.count - keepOutdated)) {
            actions += drain(index, reason: .replaced, now: now)
        }
        let current = workers.indices.filter { workers[$0].isLive && workers[$0].generation == generation }
        if current.count > target {
            for index in current.sorted(by: surplusOrder).prefix(current.count - target) {
                actions += drain(index, reason: mode == .stopped || mode == .removed ? .stopped : .surplus, now: now)
            }
        }
        return actions
    }

    /// Which worker to give up first: starting before ready, then fewer in flight, then newer.
    private func surplusOrder(_ a: Int, _ b: Int) -> Bool {
        let wa = workers[a]
        let wb = workers[b]
        if wa.isStarting != wb.isStarting { return wa.isStarting }
        if wa.inFlight != wb.inFlight { return wa.inFlight < wb.inFlight }
        return wa.id.serial > wb.id.serial
    }

    // MARK: - Time

    /// Everything due at `now`: start timeouts, watchdogs, drain and kill deadlines, idle-out,
    /// expired waits, the end of a failed period.
    mutating func timeElapsed(now: Instant, policy: RestartPolicy, hostCap: Int) -> [ClusterAction] {
        var actions = recoverIfDue(now: now)
        var index = 0
        while index < workers.count {
            let worker = workers[index]
            switch worker.state {
            case .starting(let deadline) where now >= deadline:
                actions += kill(index, reason: .startTimedOut)
                actions += recordFailure(
                    "not ready within start_timeout (\(config.startTimeout.formattedForHumans))",
                    uptime: nil,
                    failedStart: .startTimedOut(config.startTimeout),
                    policy: policy,
                    now: now
                )
            case .starting, .ready:
                if let deadline = worker.watchdogDeadline, now >= deadline {
                    actions += kill(index, reason: .watchdog)
                    actions += recordFailure(
                        "no WATCHDOG=1 within \(config.watchdog.formattedForHumans)",
                        uptime: worker.readyAt.map { now - $0 },
                        failedStart: worker.isStarting ? .startFailed("watchdog timeout") : nil,
                        policy: policy,
                        now: now
                    )
                }
            case .draining(let reason, let deadline) where now >= deadline:
                actions += terminate(index, reason: reason, now: now)
            case .stopping(let reason, let killAt) where now >= killAt:
                actions += kill(index, reason: reason)
            case .draining, .stopping, .killed:
                break
            }
            index += 1
        }
        actions += idleOut(now: now)
        var expired: [PendingActivation] = []
        pending.removeAll { waiting in
            if now >= waiting.deadline {
                expired.append(waiting)
                return true
            }
            return false
        }
        if !expired.isEmpty {
            let failure: ActivationFailure =
                workers.contains(where: \.isStarting) || now < restarts.notBefore
                ? .startTimedOut(config.startTimeout) : .hostAtCapacity(hostCap)
            actions += expired.map { .answerActivation($0.id, .failed(failure)) }
            if pending.isEmpty, readyCurrent == 0 {
                demand = min(demand, live)
            }
        }
        return actions
    }

    /// When a ready worker's idle period ends, or nil if it is never idled out. Workers of an older
    /// generation are not idled out: a rolling replacement drains them once their successors are ready.
    func idleDeadline(of worker: Worker) -> Instant? {
        guard worker.isReady, worker.inFlight == 0, config.idleTimeout > .zero, worker.generation == generation
        else { return nil }
        return worker.lastActivity + config.idleTimeout
    }

    /// Idle-out may stop a worker: more current workers run than the floor. (Replacements still starting
    /// in a roll count here, outdated ones do not, so a roll never idles out the workers it relies on.)
    var canIdleOut: Bool { liveCurrent > floor }

    /// Drains ready workers idle for `idle_timeout`, oldest first, never below the floor.
    private mutating func idleOut(now: Instant) -> [ClusterAction] {
        guard canIdleOut else { return [] }
        let idle = workers.indices
            .filter { index in idleDeadline(of: workers[index]).map { now >= $0 } ?? false }
            .sorted { workers[$0].lastActivity < workers[$1].lastActivity }
        var actions: [ClusterAction] = []
        for index in idle where canIdleOut {
            actions += drain(index, reason: .idle, now: now)
            demand = min(demand, liveCurrent)
        }
        return actions
    }

    /// The earliest instant at which `timeElapsed` has something to do; `startsAllowed` is false while
    /// clusterd shuts down (then the end of a backoff is nothing to wait for).
    func nextDeadline(startsAllowed: Bool) -> Instant? {
        var earliest: Instant?
        func consider(_ instant: Instant?) {
            guard let instant else { return }
            if earliest.map({ instant < $0 }) ?? true { earliest = instant }
        }
        if case .failed(let until, _) = mode { consider(until) }
        for worker in workers {
            switch worker.state {
            case .starting(let deadline): consider(deadline)
            case .draining(_, let deadline): consider(deadline)
            case .stopping(_, let killAt): consider(killAt)
            case .ready, .killed: break
            }
            if worker.isLive { consider(worker.watchdogDeadline) }
            if canIdleOut { consider(idleDeadline(of: worker)) }
        }
        for waiting in pending { consider(waiting.deadline) }
        // The end of a backoff, unless launches already wait for room under the host cap or a port (needSince):
        // then the deadline has passed and only an exit can help; reporting it would make the shell spin.
        if startsAllowed, mode == .onDemand, target > liveCurrent, needSince == nil { consider(restarts.notBefore) }
        return earliest
    }
}

/// Whether a tenant starts workers.
enum TenantMode: Sendable, Equatable {
    /// Normal: workers start on demand and to keep the floor.
    case onDemand
    /// Crash-looping: no starts until `until`; activations without a ready worker fail at once.
    case failed(until: Instant, reason: String)
    /// `clusterctl stop`: no workers, activations refused, until `clusterctl start`.
    case stopped
    /// Gone from tenants.conf; kept only until its workers have exited.
    case removed
}

struct PendingActivation: Sendable, Equatable {
    var id: ActivationID
    var deadline: Instant
}

/// Recent failures of a tenant's workers, for backoff and crash-loop detection.
struct RestartHistory: Sendable, Equatable {
    var consecutiveFailures = 0
    var failureTimes: [Instant] = []
    /// No start before this instant (backoff).
    var notBefore = Instant(nanoseconds: .min)

    mutating func reset() {
        self = RestartHistory()
    }
}
