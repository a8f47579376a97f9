import ClusterCore

/// Reply to `hello`: the version this connection speaks from now on.
public struct HelloReply: Sendable, Hashable, Codable {
    public var version: Int
    public var server: String
    public var pid: Int32
    /// In-place upgrades this clusterd process has been through.
    public var upgrades: Int?
    /// How the last one went: `upgraded`, or `rolled back: …`.
    public var lastUpgrade: String?

    public init(version: Int, server: String = "clusterd", pid: Int32, upgrades: Int? = nil, lastUpgrade: String? = nil)
    {
        self.version = version
        self.server = server
        self.pid = pid
        self.upgrades = upgrades
        self.lastUpgrade = lastUpgrade
    }

    enum CodingKeys: String, CodingKey {
        case version
        case server
        case pid
        case upgrades
        case lastUpgrade = "last_upgrade"
    }
}

/// Reply of operations that only succeed or fail: `{}`.
public struct EmptyReply: Sendable, Hashable, Codable {
    public init() {}
}

/// Reply to `scale`: every tenant's operator scale after the change (tenants without one are absent).
public struct ScaleReply: Sendable, Hashable, Codable {
    public var scales: [String: Int]

    public init(scales: [String: Int]) {
        self.scales = scales
    }
}

/// Reply to `reload`.
public struct ReloadReply: Sendable, Hashable, Codable {
    public var tenants: Int

    public init(tenants: Int) {
        self.tenants = tenants
    }
}

/// A ready worker, where to send its requests.
public struct WorkerEndpoint: Sendable, Hashable, Codable {
    public var id: WorkerID
    public var port: Int

    public init(id: WorkerID, port: Int) {
        self.id = id
        self.port = port
    }
}

/// Reply to `activate`: the tenant's ready workers (at least one).
public struct ActivateReply: Sendable, Hashable, Codable {
    public var workers: [WorkerEndpoint]

    public init(workers: [WorkerEndpoint]) {
        self.workers = workers
    }
}

/// Reply to `subscribe`; events follow it on the same connection.
public struct SubscribeReply: Sendable, Hashable, Codable {
    public var snapshot: ClusterSnapshot

    public init(snapshot: ClusterSnapshot) {
        self.snapshot = snapshot
    }
}

/// Everything a router or an operator needs to know, at one moment: routing (hosts, domain, limits)
/// and every tenant's workers. The reply to `status` and the start of a subscription.
public struct ClusterSnapshot: Sendable, Hashable, Codable {
    /// `TENANT.domain` routes to the tenant, besides its `hosts`.
    public var domain: String?
    public var maxWorkers: Int
    /// Worker processes on the host, in any state.
    public var workersTotal: Int
    public var shuttingDown: Bool
    public var tenants: [TenantSnapshot]

    public init(domain: String?, maxWorkers: Int, workersTotal: Int, shuttingDown: Bool, tenants: [TenantSnapshot]) {
        self.domain = domain
        self.maxWorkers = maxWorkers
        self.workersTotal = workersTotal
        self.shuttingDown = shuttingDown
        self.tenants = tenants
    }

    enum CodingKeys: String, CodingKey {
        case domain
        case maxWorkers = "max_workers"
        case workersTotal = "workers_total"
        case shuttingDown = "shutting_down"
        case tenants
    }
}

public struct TenantSnapshot: Sendable, Hashable, Codable {
    public var name: String
    public var state: TenantStatus.State
    public var hosts: [String]
    /// The operator's `clusterctl scale`, if set.
    public var scale: Int?
    /// Workers that always run (scale or min_workers).
    public var floor: Int
    /// Workers wanted now.
    public var target: Int
    /// Most workers the tenant may have (max_workers, or a higher scale): above 1, sessions are sticky.
    public var maxWorkers: Int
    public var queueLimit: Int
    public var maxConcurrency: Int
    /// Activations waiting for a worker.
    public var waiting: Int
    public var lastError: String?
    /// While `failed`: milliseconds until starts are allowed again.
    public var retryInMilliseconds: Int?
    public var workers: [WorkerSnapshot]

    public init(
        name: String,
        state: TenantStatus.State,
        hosts: [String],
        scale: Int?,
        floor: Int,
        target: Int,
        maxWorkers: Int,
        queueLimit: Int,
        maxConcurrency: Int,
        waiting: Int,
        lastError: String?,
        retryInMilliseconds: Int?,
        workers: [WorkerSnapshot]
    ) {
        self.name = name
        self.state = state
        self.hosts = hosts
        self.scale = scale
        self.floor = floor
        self.target = target
        self.maxWorkers = maxWorkers
        self.queueLimit = queueLimit
        self.maxConcurrency = maxConcurrency
        self.waiting = waiting
        self.lastError = lastError
        self.retryInMilliseconds = retryInMilliseconds
        self.workers = workers
    }

    enum CodingKeys: String, CodingKey {
        case name
        case state
        case hosts
        case scale
        case floor
        case target
        case maxWorkers = "max_workers"
        case queueLimit = "queue_limit"
        case maxConcurrency = "max_concurrency"
        case waiting
        case lastError = "last_error"
        case retryInMilliseconds = "retry_in_ms"
        case workers
    }
}

public struct WorkerSnapshot: Sendable, Hashable, Codable {
    public var id: WorkerID
    public var pid: Int32?
    public var port: Int
    public var state: WorkerStatus.State
    public var stopReason: String?
    public var inFlight: Int
    public var uptimeMilliseconds: Int?
    public var idleInMilliseconds: Int?
    /// The worker's last `STATUS=`.
    public var status: String?

    public init(
        id: WorkerID,
        pid: Int32?,
        port: Int,
        state: WorkerStatus.State,
        stopReason: String?,
        inFlight: Int,
        uptimeMilliseconds: Int?,
        idleInMilliseconds: Int?,
        status: String?
    ) {
        self.id = id
        self.pid = pid
        self.port = port
        self.state = state
        self.stopReason = stopReason
        self.inFlight = inFlight
        self.uptimeMilliseconds = uptimeMilliseconds
        self.idleInMilliseconds = idleInMilliseconds
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case id
        case pid
        case port
        case state
        case stopReason = "stop_reason"
        case inFlight = "in_flight"
        case uptimeMilliseconds = "uptime_ms"
        case idleInMilliseconds = "idle_in_ms"
        case status
    }
}

extension ClusterSnapshot {
    /// The snapshot of a supervisor's status; `tenant` narrows it to one.
    public init(status: ClusterStatus, configuration: ClusterConfiguration, tenant: String? = nil) {
        self.init(
            domain: configuration.domain,
            maxWorkers: status.maxWorkers,
            workersTotal: status.workerCount,
            shuttingDown: status.shuttingDown,
            tenants: status.tenants.filter { tenant == nil || $0.name == tenant }.map { tenantStatus in
                let config = configuration.tenants[tenantStatus.name]
                return TenantSnapshot(
                    name: tenantStatus.name,
                    state: tenantStatus.state,
                    hosts: config?.hosts ?? [],
                    scale: tenantStatus.scale,
                    floor: tenantStatus.floor,
                    target: tenantStatus.target,
                    maxWorkers: tenantStatus.maxWorkers,
                    queueLimit: config?.queueLimit ?? 0,
                    maxConcurrency: config?.maxConcurrency ?? 0,
                    waiting: tenantStatus.waiting,
                    lastError: tenantStatus.lastError,
                    retryInMilliseconds: tenantStatus.retryIn.map { Int($0.milliseconds) },
                    workers: tenantStatus.workers.map { worker in
                        WorkerSnapshot(
                            id: worker.id,
                            pid: worker.pid,
                            port: worker.port,
                            state: worker.state,
                            stopReason: worker.stopReason?.rawValue,
                            inFlight: worker.inFlight,
                            uptimeMilliseconds: worker.uptime.map { Int($0.milliseconds) },
                            idleInMilliseconds: worker.idleIn.map { Int($0.milliseconds) },
                            status: worker.statusText
                        )
                    }
                )
            }
        )
    }
}
