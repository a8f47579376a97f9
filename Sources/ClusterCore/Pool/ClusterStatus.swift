/// A snapshot of every tenant and worker, for `clusterctl status` and control-channel subscribers.
public struct ClusterStatus: Sendable, Equatable {
    public var tenants: [TenantStatus]
    /// Worker processes on the host, in any state.
    public var workerCount: Int
    public var maxWorkers: Int
    public var shuttingDown: Bool

    /// "3 tenants, 2 workers ready, 0 failed": clusterd's one-line STATUS= for systemd.
    public var summary: String {
        let ready = tenants.reduce(0) { $0 + $1.workers.count { $0.state == .ready } }
        let failed = tenants.count { $0.state == .failed }
        return "\(tenants.count) tenants, \(ready) workers ready, \(failed) failed"
    }
}

public struct TenantStatus: Sendable, Equatable {
    /// What a tenant is doing, as status and the control protocol name it. Open to new values in later
    /// versions (clients show an unknown one as it is), so a struct of names rather than an enum.
    public struct State: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// No workers, none wanted.
        public static let idle = State(rawValue: "idle")
        public static let starting = State(rawValue: "starting")
        /// At least one worker is ready.
        public static let running = State(rawValue: "running")
        /// Crash-looping: no starts until `retryIn` has passed.
        public static let failed = State(rawValue: "failed")
        /// `clusterctl stop`.
        public static let stopped = State(rawValue: "stopped")
        /// Gone from tenants.conf; its workers are leaving.
        public static let removed = State(rawValue: "removed")

        public var description: String { rawValue }
    }

    public var name: String
    public var state: State
    public var scale: Int?
    /// Workers that always run (scale or `min_workers`).
    public var floor: Int
    /// Workers wanted now.
    public var target: Int
    public var maxWorkers: Int
    public var workers: [WorkerStatus]
    /// Activations waiting for a ready worker.
    public var waiting: Int
    public var lastError: String?
    /// While `failed`: how long until starts are allowed again.
    public var retryIn: Duration?
}

public struct WorkerStatus: Sendable, Equatable {
    /// A worker's state without its deadlines, as status and the control protocol name it. Open to new values
    /// in later versions, like ``TenantStatus/State``.
    public struct State: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let starting = State(rawValue: "starting")
        public static let ready = State(rawValue: "ready")
        public static let draining = State(rawValue: "draining")
        public static let stopping = State(rawValue: "stopping")
        public static let killed = State(rawValue: "killed")

        public var description: String { rawValue }
    }

    public var id: WorkerID
    public var pid: Int32?
    public var port: Int
    public var state: State
    public var stopReason: StopReason?
    public var inFlight: Int
    /// Since it became ready.
    public var uptime: Duration?
    /// Until it is idled out, if it would be.
    public var idleIn: Duration?
    /// The worker's last `STATUS=`.
    public var statusText: String?
}

extension ClusterStateMachine {
    /// Every tenant (sorted by name) and its workers as of `now`.
    public func status(now: Instant) -> ClusterStatus {
        ClusterStatus(
            tenants: pools.keys.sorted().map { tenantStatus(pools[$0]!, now: now) },
            workerCount: workerCount,
            maxWorkers: configuration.maxWorkers,
            shuttingDown: shuttingDown
        )
    }

    /// One tenant's status, or nil if there is no such tenant.
    public func status(ofTenant name: String, now: Instant) -> TenantStatus? {
        pools[name].map { tenantStatus($0, now: now) }
    }

    private func tenantStatus(_ pool: TenantPool, now: Instant) -> TenantStatus {
        let state: TenantStatus.State
        var retryIn: Duration?
        switch pool.mode {
        case .failed(let until, _):
            state = .failed
            retryIn = until - now
        case .stopped: state = .stopped
        case .removed: state = .removed
        case .onDemand:
            if pool.workers.contains(where: \.isReady) {
                state = .running
            } else if pool.workers.contains(where: \.isStarting) || !pool.pending.isEmpty {
                state = .starting
            } else {
                state = .idle
            }
        }
        let canIdle = pool.canIdleOut
        return TenantStatus(
            name: pool.name,
            state: state,
            scale: pool.scale,
            floor: pool.floor,
            target: pool.target,
            maxWorkers: pool.demandLimit,
            workers: pool.workers.map { worker in
                WorkerStatus(
                    id: worker.id,
                    pid: worker.pid,
                    port: worker.port,
                    state: worker.state.name,
                    stopReason: worker.state.stopReason,
                    inFlight: worker.inFlight,
                    uptime: worker.readyAt.map { now - $0 },
                    idleIn: canIdle ? pool.idleDeadline(of: worker).map { max(.zero, $0 - now) } : nil,
                    statusText: worker.statusText
                )
            },
            waiting: pool.pending.count,
            lastError: pool.lastError,
            retryIn: retryIn
        )
    }
}
