import ClusterCore

/// One event line to a subscriber: `{"event": "worker-ready", "tenant": "acme", "worker": "acme#1", "port": 20001}`.
public struct ControlEvent: Sendable, Hashable, Codable {
    public struct Kind: ProtocolName {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let workerStarting = Kind(rawValue: "worker-starting")
        public static let workerReady = Kind(rawValue: "worker-ready")
        public static let workerDraining = Kind(rawValue: "worker-draining")
        public static let workerGone = Kind(rawValue: "worker-gone")
        public static let tenantFailed = Kind(rawValue: "tenant-failed")
        public static let tenantRecovered = Kind(rawValue: "tenant-recovered")
        /// Carries a fresh snapshot: routing may have changed.
        public static let configurationReloaded = Kind(rawValue: "config-reloaded")
        /// The subscriber read too slowly and is disconnected after this line (`reason` says why);
        /// reconnect and subscribe again for a fresh snapshot.
        public static let overflow = Kind(rawValue: "overflow")
    }

    public var event: Kind
    public var tenant: String?
    public var worker: WorkerID?
    public var port: Int?
    public var pid: Int32?
    /// Why a worker drains or went, or why a tenant failed.
    public var reason: String?
    /// How a worker process ended: `exited with status 3`, `killed by signal 9 (SIGKILL)`.
    public var exit: String?
    public var exitCode: Int32?
    public var signal: Int32?
    public var retryAfterMilliseconds: Int?
    public var snapshot: ClusterSnapshot?

    public init(event: Kind, tenant: String? = nil, worker: WorkerID? = nil) {
        self.event = event
        self.tenant = tenant
        self.worker = worker
    }

    /// Every field as written; a `worker` that is not a worker id reads as none (an event kind of a later
    /// version may use the field otherwise), so one odd field never makes the whole line unreadable.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        event = try container.decode(Kind.self, forKey: .event)
        tenant = try container.decodeIfPresent(String.self, forKey: .tenant)
        worker = try? container.decodeIfPresent(WorkerID.self, forKey: .worker)
        port = try container.decodeIfPresent(Int.self, forKey: .port)
        pid = try container.decodeIfPresent(Int32.self, forKey: .pid)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        exit = try container.decodeIfPresent(String.self, forKey: .exit)
        exitCode = try container.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try container.decodeIfPresent(Int32.self, forKey: .signal)
        retryAfterMilliseconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterMilliseconds)
        snapshot = try container.decodeIfPresent(ClusterSnapshot.self, forKey: .snapshot)
    }

    enum CodingKeys: String, CodingKey {
        case event
        case tenant
        case worker
        case port
        case pid
        case reason
        case exit
        case exitCode = "exit_code"
        case signal
        case retryAfterMilliseconds = "retry_after_ms"
        case snapshot
    }
}

extension ControlEvent {
    /// The line for a published event; `snapshot` is attached to `config-reloaded`.
    public init(_ event: ClusterEvent, snapshot: @autoclosure () -> ClusterSnapshot) {
        switch event {
        case .workerStarting(let id, let port, let pid):
            self.init(event: .workerStarting, tenant: id.tenant, worker: id)
            self.port = port
            self.pid = pid
        case .workerReady(let id, let port):
            self.init(event: .workerReady, tenant: id.tenant, worker: id)
            self.port = port
        case .workerDraining(let id, let reason):
            self.init(event: .workerDraining, tenant: id.tenant, worker: id)
            self.reason = reason.rawValue
        case .workerGone(let id, let exit, let reason):
            self.init(event: .workerGone, tenant: id.tenant, worker: id)
            self.reason = reason?.rawValue ?? (exit?.isSuccess == true ? "exited" : "failed")
            self.exit = exit?.description ?? "never started"
            switch exit {
            case .exited(let code): exitCode = code
            case .signaled(let number): signal = number
            case .unknown, nil: break
            }
        case .tenantFailed(let tenant, let reason, let retryAfter):
            self.init(event: .tenantFailed, tenant: tenant)
            self.reason = reason
            retryAfterMilliseconds = Int(retryAfter.milliseconds)
        case .tenantRecovered(let tenant):
            self.init(event: .tenantRecovered, tenant: tenant)
        case .configurationReloaded:
            self.init(event: .configurationReloaded)
            self.snapshot = snapshot()
        }
    }
}
