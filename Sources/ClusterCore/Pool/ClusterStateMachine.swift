/// The supervisor's brain: every tenant's pool plus the host-wide rules (the worker cap, eviction, ports).
///
/// Pure: events come in with `now`, actions come out for the shell to execute; no I/O, no clock.
/// Every event ends with a reconcile pass that launches what pools need (within the cap, evicting
/// the least-recently-used idle worker of another tenant when full) and drains what they do not.
///
/// An event costs what it touches, not the number of tenants: reconcile looks only at the pools changed since the
/// last one and at those still waiting for room; every other pool has, by construction, nothing to launch or drain
/// (a reconcile left it so, and only an event on it, or the passing of one of its deadlines, changes that). Each
/// pool's earliest deadline is kept, so `nextDeadline` and `timeElapsed` visit only pools with something scheduled.
public struct ClusterStateMachine: Sendable {
    public private(set) var configuration: ClusterConfiguration
    public let policy: RestartPolicy
    var pools: [String: TenantPool]
    var ports: PortAllocator
    var shuttingDown = false
    private var shutdownAnnounced = false
    /// The next serial of each forgotten tenant, so that a tenant added back never reuses a worker id.
    private var retiredSerials: [String: Int] = [:]
    /// Set when the last reconcile found no free port: a port skipped after `portUnavailable` frees up then.
    private var portUnblocksAt: Instant?
    /// Pools changed since the last reconcile (the only ones, with `waitingForRoom`, it needs to look at).
    private var changed: Set<String> = []
    /// Pools with launches the host cap or the port range did not allow yet: looked at on every reconcile.
    private var waitingForRoom: Set<String> = []
    /// Each pool's earliest deadline (`TenantPool.nextDeadline`); pools with none are absent.
    private var deadlines: [String: Instant] = [:]
    /// Each pool's worker count (absent when 0) and their sum, kept current by reconcile.
    private var workerCounts: [String: Int] = [:]
    private var workerTotal = 0

    /// Activations waiting per tenant before more are refused (a bound against runaway clients,
    /// far above what one router sends: it activates once per cold tenant, not once per request).
    public static let pendingActivationLimit = 4096

    public init(configuration: ClusterConfiguration, policy: RestartPolicy = .standard) {
        self.configuration = configuration
        self.policy = policy
        self.pools = configuration.tenants.mapValues(TenantPool.init(config:))
        self.ports = PortAllocator(range: configuration.ports)
        self.changed = Set(self.pools.keys)
        for name in self.pools.keys { refreshDeadline(of: name) }
    }

    // MARK: - Queries

    /// A worker by id, if it exists.
    public func worker(_ id: WorkerID) -> Worker? {
        pools[id.tenant].flatMap { pool in pool.index(of: id).map { pool.workers[$0] } }
    }

    /// Every worker process the machine knows, in any state.
    public var workerCount: Int { pools.values.reduce(0) { $0 + $1.workers.count } }

    /// The operator's scale per tenant (what must survive reload and restart).
    public var scales: [String: Int] { pools.compactMapValues(\.scale) }

    /// The earliest instant at which `timeElapsed` has something to do; nil when nothing is scheduled.
    public func nextDeadline() -> Instant? {
        var earliest = portUnblocksAt
        for deadline in deadlines.values where earliest.map({ deadline < $0 }) ?? true {
            earliest = deadline
        }
        return earliest
    }

    // MARK: - Activation

    /// A router (or anyone) wants a ready worker of `tenant`. The answer comes now if one is ready,
    /// otherwise once one is (or cannot be). `additional` asks for one more worker even if some are
    /// ready (all are saturated), up to the tenant's `max_workers`.
    public mutating func activationRequested(
        _ id: ActivationID,
        tenant: String,
        additional: Bool = false,
        now: Instant
    ) -> [ClusterAction] {
        if shuttingDown { return [.answerActivation(id, .failed(.shuttingDown))] }
        guard pools[tenant] != nil else { return [.answerActivation(id, .failed(.unknownTenant(tenant)))] }
        changed.insert(tenant)
        var actions = pools[tenant]!.activate(
            id,
            additional: additional,
            pendingLimit: Self.pendingActivationLimit,
            now: now
        )
        actions += reconcile(now: now)
        return actions
    }

    /// The asker went away; drop its wait. (The worker it caused to start keeps starting.)
    public mutating func activationCancelled(_ id: ActivationID, tenant: String) {
        pools[tenant]?.cancelActivation(id)
        refreshDeadline(of: tenant)
    }

    // MARK: - Worker events

    public mutating func workerLaunched(_ id: WorkerID, pid: Int32, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        return pools[id.tenant]!.launched(index, pid: pid, now: now) + reconcile(now: now)
    }

    public mutating func workerLaunchFailed(_ id: WorkerID, _ failure: LaunchFailure, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        let worker = pools[id.tenant]!.workers.remove(at: index)
        var actions: [ClusterAction] = []
        switch failure {
        case .portUnavailable:
            ports.block(worker.port, until: now + .seconds(60))
            // Unannounced as a rule; but one told to stop meanwhile was published as draining.
            if let reason = worker.state.stopReason {
                actions.append(.publish(.workerGone(id, exit: nil, reason: reason)))
            }
        case .failed(let reason):
            ports.release(worker.port)
            actions.append(.publish(.workerGone(id, exit: nil, reason: nil)))
            actions += pools[id.tenant]!.recordFailure(
                reason,
                uptime: nil,
                failedStart: .startFailed(reason),
                policy: policy,
                now: now
            )
        }
        return actions + reconcile(now: now)
    }

    /// A `tcp` worker accepted a probe connection.
    public mutating func workerBecameReady(_ id: WorkerID, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        return pools[id.tenant]!.becameReady(index, now: now) + reconcile(now: now)
    }

    /// A worker spoke the notify protocol.
    public mutating func workerNotified(_ id: WorkerID, _ message: NotifyMessage, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        var actions: [ClusterAction] = []
        let config = pools[id.tenant]!.config
        if let status = message.status {
            pools[id.tenant]!.workers[index].statusText = status
        }
        if message.watchdogPing, config.watchdog > .zero {
            pools[id.tenant]!.workers[index].watchdogDeadline = now + config.watchdog
        }
        let worker = pools[id.tenant]!.workers[index]
        if message.watchdogTrigger, worker.isLive {
            actions += pools[id.tenant]!.kill(index, reason: .watchdog)
            actions += pools[id.tenant]!.recordFailure(
                "the worker triggered its watchdog",
                uptime: worker.readyAt.map { now - $0 },
                failedStart: worker.isStarting ? .startFailed("the worker triggered its watchdog") : nil,
                policy: policy,
                now: now
            )
        } else if message.stopping, worker.isLive {
            pools[id.tenant]!.workers[index].state = .stopping(
                reason: .workerRequested,
                killAt: now + config.stopTimeout
            )
            actions.append(.publish(.workerDraining(id, reason: .workerRequested)))
        } else if message.ready, config.readiness == .notify {
            actions += pools[id.tenant]!.becameReady(index, now: now)
        }
        return actions + reconcile(now: now)
    }

    public mutating func workerExited(_ id: WorkerID, _ status: ExitStatus, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        ports.release(pools[id.tenant]!.workers[index].port)
        return pools[id.tenant]!.exited(index, status: status, policy: policy, now: now) + reconcile(now: now)
    }

    /// The router's view of a worker: requests (and open WebSockets) in flight, activity just now.
    public mutating func activityReported(_ id: WorkerID, inFlight: Int, now: Instant) -> [ClusterAction] {
        guard let index = pools[id.tenant]?.index(of: id) else { return [] }
        changed.insert(id.tenant)
        pools[id.tenant]!.workers[index].inFlight = max(0, inFlight)
        pools[id.tenant]!.workers[index].lastActivity = now
        var actions: [ClusterAction] = []
        if case .draining(let reason, _) = pools[id.tenant]!.workers[index].state, inFlight <= 0 {
            actions = pools[id.tenant]!.terminate(index, reason: reason, now: now)
        }
        // A worker that just went idle may be what a tenant waiting at the host cap can evict.
        return actions + reconcile(now: now)
    }

    /// Deadlines may have passed: start timeouts, idle-out, drain and kill deadlines, backoff, waits.
    public mutating func timeElapsed(now: Instant) -> [ClusterAction] {
        var actions: [ClusterAction] = []
        // A pool whose earliest deadline is still ahead has nothing due (every instant its `timeElapsed` acts on
        // is one its `nextDeadline` reports).
        for name in deadlines.compactMap({ $0.value <= now ? $0.key : nil }).sorted() {
            actions += pools[name]!.timeElapsed(now: now, policy: policy, hostCap: configuration.maxWorkers)
            changed.insert(name)
        }
        return actions + reconcile(now: now)
    }

    // MARK: - Operator commands

    /// `clusterctl scale TENANT=N`: N > 0 runs N workers now and never idles below N; 0 returns the tenant
    /// to on-demand starting (its `min_workers` still apply).
    public mutating func scaleRequested(
        tenant: String,
        workers count: Int,
        now: Instant
    ) -> Result<[ClusterAction], CommandRejection> {
        if let rejection = rejection(for: tenant) { return .failure(rejection) }
        changed.insert(tenant)
        guard count >= 0 else {
            return .failure(CommandRejection(.invalidArgument, "scale must be ≥ 0, got \(count)"))
        }
        guard count <= configuration.maxWorkers else {
            return .failure(
                CommandRejection(
                    .invalidArgument,
                    "scale \(count) is above the host-wide cap cluster.max_workers (\(configuration.maxWorkers))"
                )
            )
        }
        pools[tenant]!.scale = count > 0 ? count : nil
        pools[tenant]!.demand = pools[tenant]!.waitingDemand
        if count > 0, pools[tenant]!.mode == .stopped { pools[tenant]!.mode = .onDemand }
        return .success(reconcile(now: now))
    }

    /// `clusterctl scale a=N b=M …`: every tenant's scale checked before any is applied, so one bad name or count
    /// changes nothing; applied in tenant-name order.
    public mutating func scaleRequested(
        _ counts: [String: Int],
        now: Instant
    ) -> Result<[ClusterAction], CommandRejection> {
        var trial = self
        var actions: [ClusterAction] = []
        for (tenant, count) in counts.sorted(by: { $0.key < $1.key }) {
            switch trial.scaleRequested(tenant: tenant, workers: count, now: now) {
            case .success(let more): actions += more
            case .failure(let rejection): return .failure(rejection)
            }
        }
        self = trial
        return .success(actions)
    }

    /// Restores a scale after a restart (from `state_dir`), without any other effect.
    public mutating func restoreScale(tenant: String, workers count: Int, now: Instant) -> [ClusterAction] {
        guard pools[tenant] != nil, count > 0, count <= configuration.maxWorkers else { return [] }
        changed.insert(tenant)
        pools[tenant]!.scale = count
        // A scale lower than one set before may not leave the tenant more workers than it now allows.
        pools[tenant]!.demand = min(pools[tenant]!.demand, pools[tenant]!.demandLimit)
        return reconcile(now: now)
    }

    /// `clusterctl start`: leave `failed` or `stopped`, forget past failures, and run a worker now.
    public mutating func startRequested(tenant: String, now: Instant) -> Result<[ClusterAction], CommandRejection> {
        if let rejection = rejection(for: tenant) { return .failure(rejection) }
        changed.insert(tenant)
        var actions: [ClusterAction] = []
        if case .failed = pools[tenant]!.mode { actions.append(.publish(.tenantRecovered(tenant))) }
        pools[tenant]!.mode = .onDemand
        pools[tenant]!.restarts.reset()
        pools[tenant]!.demand = max(pools[tenant]!.demand, 1)
        return .success(actions + reconcile(now: now))
    }

    /// `clusterctl stop`: SIGTERM every worker now; refuse activations until `start`.
    public mutating func stopRequested(tenant: String, now: Instant) -> Result<[ClusterAction], CommandRejection> {
        if let rejection = rejection(for: tenant) { return .failure(rejection) }
        changed.insert(tenant)
        pools[tenant]!.mode = .stopped
        pools[tenant]!.demand = 0
        var actions = pools[tenant]!.pending.map { ClusterAction.answerActivation($0.id, .failed(.tenantStopped)) }
        pools[tenant]!.pending.removeAll()
        for index in pools[tenant]!.workers.indices where pools[tenant]!.workers[index].isLive {
            actions.append(.publish(.workerDraining(pools[tenant]!.workers[index].id, reason: .stopped)))
            actions += pools[tenant]!.terminate(index, reason: .stopped, now: now)
        }
        return .success(actions + reconcile(now: now))
    }

    /// `clusterctl drain`: every current worker finishes its in-flight requests, takes no new ones, and stops.
    /// The tenant goes back to on-demand; a floor (scale, `min_workers`) is refilled with fresh workers.
    public mutating func drainRequested(tenant: String, now: Instant) -> Result<[ClusterAction], CommandRejection> {
        if let rejection = rejection(for: tenant) { return .failure(rejection) }
        changed.insert(tenant)
        pools[tenant]!.demand = pools[tenant]!.waitingDemand
        var actions: [ClusterAction] = []
        for index in pools[tenant]!.workers.indices where pools[tenant]!.workers[index].isLive {
            actions += pools[tenant]!.drain(index, reason: .drained, now: now)
        }
        return .success(actions + reconcile(now: now))
    }

    /// `clusterctl restart`: rolling — each worker is replaced, the new one ready before the old one drains.
    public mutating func restartRequested(tenant: String, now: Instant) -> Result<[ClusterAction], CommandRejection> {
        if let rejection = rejection(for: tenant) { return .failure(rejection) }
        changed.insert(tenant)
        var actions: [ClusterAction] = []
        if case .failed = pools[tenant]!.mode { actions.append(.publish(.tenantRecovered(tenant))) }
        if pools[tenant]!.mode != .onDemand { pools[tenant]!.mode = .onDemand }
        pools[tenant]!.restarts.reset()
        pools[tenant]!.demand = max(pools[tenant]!.demand, pools[tenant]!.liveWithinLimit, 1)
        pools[tenant]!.generation += 1
        return .success(actions + reconcile(now: now))
    }

    private func rejection(for tenant: String) -> CommandRejection? {
        if shuttingDown { return CommandRejection(.shuttingDown, "clusterd is shutting down") }
        guard let pool = pools[tenant], pool.mode != .removed else {
            return CommandRejection(.unknownTenant, "no tenant named \"\(tenant)\"")
        }
        return nil
    }

    // MARK: - Reload and shutdown

    /// A new, valid configuration: tenants whose settings did not change keep their workers; one that
    /// launches differently is rolled; a removed one is stopped; scales stay.
    public mutating func configurationReloaded(_ new: ClusterConfiguration, now: Instant) -> [ClusterAction] {
        var actions: [ClusterAction] = []
        for name in pools.keys.sorted() where new.tenants[name] == nil && pools[name]!.mode != .removed {
            pools[name]!.mode = .removed
            pools[name]!.demand = 0
            actions += pools[name]!.pending.map { .answerActivation($0.id, .failed(.unknownTenant(name))) }
            pools[name]!.pending.removeAll()
            for index in pools[name]!.workers.indices where pools[name]!.workers[index].isLive {
                actions += pools[name]!.drain(index, reason: .stopped, now: now)
            }
        }
        for name in new.tenantNames {
            let tenant = new.tenants[name]!
            guard var pool = pools[name] else {
                var fresh = TenantPool(config: tenant)
                fresh.nextSerial = retiredSerials.removeValue(forKey: name) ?? 1
                pools[name] = fresh
                continue
            }
            let old = pool.config
            if pool.mode == .removed {
                pool.mode = .onDemand
                pool.generation += 1
            }
            if old != tenant {
                pool.config = tenant
                // A lowered max_workers applies to the workers running now.
                pool.demand = min(pool.demand, pool.demandLimit)
                if tenant.launchesDifferently(from: old) {
                    pool.demand = max(pool.demand, pool.liveWithinLimit)
                    pool.generation += 1
                }
                if case .failed = pool.mode {
                    pool.mode = .onDemand
                    actions.append(.publish(.tenantRecovered(name)))
                }
                pool.restarts.reset()
            }
            pools[name] = pool
        }
        configuration = new
        ports.changeRange(to: new.ports)
        changed.formUnion(pools.keys)
        actions.append(.publish(.configurationReloaded))
        return actions + reconcile(now: now)
    }

    /// Stop everything: waits are refused, every worker drains and stops; `.shutdownCompleted` follows
    /// once the last one is gone.
    public mutating func shutdownRequested(now: Instant) -> [ClusterAction] {
        guard !shuttingDown else { return [] }
        shuttingDown = true
        changed.formUnion(pools.keys)
        var actions: [ClusterAction] = []
        for name in pools.keys.sorted() {
            actions += pools[name]!.pending.map { .answerActivation($0.id, .failed(.shuttingDown)) }
            pools[name]!.pending.removeAll()
            pools[name]!.demand = 0
            for index in pools[name]!.workers.indices {
                actions += pools[name]!.drain(index, reason: .shutdown, now: now)
            }
        }
        return actions + reconcile(now: now)
    }

    // MARK: - Reconcile

    /// Launches what pools need within the host cap, evicting idle workers of other tenants when full,
    /// and drains what pools no longer want. Looks at the pools changed since the last reconcile and those waiting
    /// for room; see the type's documentation.
    mutating func reconcile(now: Instant) -> [ClusterAction] {
        portUnblocksAt = nil
        let examined = changed.union(waitingForRoom).sorted()
        changed.removeAll(keepingCapacity: true)
        for name in examined { recount(name) }
        if shuttingDown {
            for name in examined { refreshDeadline(of: name) }
            guard !shutdownAnnounced, workerTotal == 0 else { return [] }
            shutdownAnnounced = true
            return [.shutdownCompleted]
        }
        var actions: [ClusterAction] = []
        var needs: [(name: String, count: Int, since: Instant)] = []
        for name in examined where pools[name] != nil {
            actions += pools[name]!.drainSurplus(now: now)
            let count = pools[name]!.launchesNeeded(now: now)
            if count > 0 {
                let since = pools[name]!.needSince ?? now
                pools[name]!.needSince = since
                needs.append((name, count, since))
            } else {
                pools[name]!.needSince = nil
            }
        }
        needs.sort { ($0.since, $0.name) < ($1.since, $1.name) }

        var capacity = configuration.maxWorkers - workerTotal
        var unmet = 0
        var needy: Set<String> = []
        for need in needs {
            var launched = 0
            while launched < need.count, capacity > 0 {
                guard let port = ports.allocate(now: now) else {
                    pools[need.name]!.lastError = "no free port in cluster.ports (\(ports.range))"
                    portUnblocksAt = ports.nextUnblocked(after: now)
                    break
                }
                actions.append(.launch(pools[need.name]!.addWorker(port: port, now: now)))
                launched += 1
                capacity -= 1
            }
            if launched > 0 { recount(need.name) }
            if launched == need.count {
                pools[need.name]!.needSince = nil
            } else {
                unmet += need.count - launched
                needy.insert(need.name)
            }
        }
        for name in examined { waitingForRoom.remove(name) }
        waitingForRoom.formUnion(needy)
        var touched = examined
        if unmet > 0 {
            let leaving = pools.values.reduce(0) { $0 + $1.workers.count { !$0.isLive } }
            let (evictions, evicted) = evict(count: unmet - leaving, sparing: needy, now: now)
            actions += evictions
            // Looked at again by the next reconcile, as every pool was before pools were tracked.
            changed.formUnion(evicted)
            touched += evicted
        }
        for name in examined where pools[name]?.mode == .removed && pools[name]!.workers.isEmpty {
            retiredSerials[name] = pools[name]!.nextSerial
            pools[name] = nil
            recount(name)
        }
        for name in touched { refreshDeadline(of: name) }
        return actions
    }

    /// The pool `name` changed outside the events above (adoption): the next reconcile looks at it.
    mutating func markChanged(_ name: String) {
        changed.insert(name)
    }

    /// Keeps `workerTotal` current after the workers of `name` changed.
    private mutating func recount(_ name: String) {
        let count = pools[name]?.workers.count ?? 0
        workerTotal += count - (workerCounts[name] ?? 0)
        workerCounts[name] = count > 0 ? count : nil
    }

    /// Keeps `deadlines` current after the pool `name` changed.
    private mutating func refreshDeadline(of name: String) {
        deadlines[name] = pools[name]?.nextDeadline(startsAllowed: !shuttingDown)
    }

    /// Drains up to `count` idle ready workers of tenants other than `sparing`, least recently used first,
    /// never taking a tenant below its floor.
    private mutating func evict(
        count: Int,
        sparing: Set<String>,
        now: Instant
    ) -> (actions: [ClusterAction], tenants: [String]) {
        guard count > 0 else { return ([], []) }
        var candidates: [(lastActivity: Instant, id: WorkerID)] = []
        for (name, pool) in pools where !sparing.contains(name) {
            for worker in pool.workers where worker.isReady && worker.inFlight == 0 {
                candidates.append((worker.lastActivity, worker.id))
            }
        }
        candidates.sort { ($0.lastActivity, $0.id) < ($1.lastActivity, $1.id) }
        var actions: [ClusterAction] = []
        var tenants: [String] = []
        var evicted = 0
        for candidate in candidates where evicted < count {
            let name = candidate.id.tenant
            guard let index = pools[name]!.index(of: candidate.id) else { continue }
            // A worker of an older generation is on its way out anyway; a current one may go only above the
            // floor, and must not be replaced (counting outdated workers here would evict, then relaunch).
            let outdated = pools[name]!.workers[index].generation != pools[name]!.generation
            guard outdated || pools[name]!.liveCurrent > pools[name]!.floor else { continue }
            actions += pools[name]!.drain(index, reason: .evicted, now: now)
            if !outdated { pools[name]!.demand = min(pools[name]!.demand, pools[name]!.liveCurrent) }
            evicted += 1
            tenants.append(name)
        }
        return (actions, tenants)
    }
}

/// Why an operator command was refused.
public struct CommandRejection: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, RawRepresentable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public static let unknownTenant = Code(rawValue: "unknown-tenant")
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        public static let shuttingDown = Code(rawValue: "shutting-down")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
