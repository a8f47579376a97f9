/// The whole of tenants.conf, validated: host-wide settings and every tenant's resolved settings.
public struct ClusterConfiguration: Sendable, Equatable {
    /// Router listen addresses (`HOST:PORT`, IPv6 as `[::1]:8080`) when not socket-activated.
    public var listen: [ListenAddress]
    /// Path of the control channel's Unix socket.
    public var controlSocket: String
    /// What must survive a restart (scales, adopted workers) lives here.
    public var stateDirectory: String
    /// Worker ports are taken from here.
    public var ports: PortRange
    /// Host-wide cap on worker processes; at the cap, idle workers of other tenants are evicted first.
    public var maxWorkers: Int
    /// `TENANT.domain` routes to the tenant; nil when only `hosts` lists route.
    public var domain: String?
    /// Members of this group may use the control channel (besides root and clusterd's own uid).
    public var controlGroup: String?
    /// Tenants by name.
    public var tenants: [String: TenantConfiguration]

    public init(
        listen: [ListenAddress] = [Self.defaultListen],
        controlSocket: String = Self.defaultControlSocket,
        stateDirectory: String = Self.defaultStateDirectory,
        ports: PortRange = Self.defaultPorts,
        maxWorkers: Int = Self.defaultMaxWorkers,
        domain: String? = nil,
        controlGroup: String? = nil,
        tenants: [String: TenantConfiguration] = [:]
    ) {
        self.listen = listen
        self.controlSocket = controlSocket
        self.stateDirectory = stateDirectory
        self.ports = ports
        self.maxWorkers = maxWorkers
        self.domain = domain
        self.controlGroup = controlGroup
        self.tenants = tenants
    }

    public static let defaultListen = ListenAddress(host: "127.0.0.1", port: 8080)
    public static let defaultControlSocket = "/run/clusterd/control.sock"
    public static let defaultStateDirectory = "/var/lib/clusterd"
    public static let defaultPorts = PortRange(20000...29999)
    public static let defaultMaxWorkers = 512

    /// Tenant names in a stable order.
    public var tenantNames: [String] { tenants.keys.sorted() }
}

/// One tenant's settings, with `[defaults]` already applied.
public struct TenantConfiguration: Sendable, Equatable {
    public var name: String
    /// Host names routed to this tenant (lower-cased), besides `NAME.domain`.
    public var hosts: [String]
    /// argv; `{port}` and `{tenant}` are substituted at spawn.
    public var command: [String]
    public var environment: [String: String]
    public var workingDirectory: String?
    /// No request for this long (and none in flight): the worker is stopped. `.zero` = never.
    public var idleTimeout: Duration
    public var startTimeout: Duration
    public var stopTimeout: Duration
    /// How long a draining worker may finish its in-flight requests before it is told to stop.
    public var drainTimeout: Duration
    /// A worker that does not send `WATCHDOG=1` for this long is killed and restarted. `.zero` = off.
    public var watchdog: Duration
    public var minWorkers: Int
    public var maxWorkers: Int
    public var readiness: Readiness
    /// Requests held at the router per tenant while no worker is free.
    public var queueLimit: Int
    /// Per-worker in-flight cap at the router; 0 = none.
    public var maxConcurrency: Int

    public init(
        name: String,
        hosts: [String] = [],
        command: [String],
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        idleTimeout: Duration = TenantDefaults.idleTimeout,
        startTimeout: Duration = TenantDefaults.startTimeout,
        stopTimeout: Duration = TenantDefaults.stopTimeout,
        drainTimeout: Duration = TenantDefaults.drainTimeout,
        watchdog: Duration = .zero,
        minWorkers: Int = 0,
        maxWorkers: Int = 1,
        readiness: Readiness = .listenFDs,
        queueLimit: Int = TenantDefaults.queueLimit,
        maxConcurrency: Int = 0
    ) {
        self.name = name
        self.hosts = hosts
        self.command = command
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.idleTimeout = idleTimeout
        self.startTimeout = startTimeout
        self.stopTimeout = stopTimeout
        self.drainTimeout = drainTimeout
        self.watchdog = watchdog
        self.minWorkers = minWorkers
        self.maxWorkers = maxWorkers
        self.readiness = readiness
        self.queueLimit = queueLimit
        self.maxConcurrency = maxConcurrency
    }

    /// True when `other` would launch a different process: workers must be rolled to apply it.
    public func launchesDifferently(from other: TenantConfiguration) -> Bool {
        command != other.command || environment != other.environment
            || workingDirectory != other.workingDirectory || readiness != other.readiness
            || watchdog != other.watchdog
    }
}

/// Built-in values of the `[defaults]` keys.
public enum TenantDefaults {
    public static let idleTimeout: Duration = .seconds(300)
    public static let startTimeout: Duration = .seconds(30)
    public static let stopTimeout: Duration = .seconds(10)
    public static let drainTimeout: Duration = .seconds(30)
    public static let queueLimit = 100
}
