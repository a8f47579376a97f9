/// Identifies one activation request so its answer can find the asker.
public struct ActivationID: Hashable, Sendable, CustomStringConvertible {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }

    public var description: String { "activation-\(value)" }
}

/// A ready worker an activation can use.
public struct ReadyWorker: Sendable, Hashable {
    public var id: WorkerID
    public var port: Int

    public init(id: WorkerID, port: Int) {
        self.id = id
        self.port = port
    }
}

/// The answer to an activation: the tenant's ready workers, or why there are none.
public enum ActivationAnswer: Sendable, Equatable {
    case ready([ReadyWorker])
    case failed(ActivationFailure)
}

/// Why an activation could not produce a ready worker. The router maps these to HTTP statuses.
public enum ActivationFailure: Sendable, Equatable, CustomStringConvertible {
    case unknownTenant(String)
    /// The worker could not be started (spawn failed, or it exited before becoming ready).
    case startFailed(String)
    /// No worker became ready within `start_timeout`.
    case startTimedOut(Duration)
    /// The host is at `cluster.max_workers` and nothing could be evicted in time.
    case hostAtCapacity(Int)
    /// The tenant is crash-looping; activation is refused until `retryAfter` has passed.
    case tenantFailed(reason: String, retryAfter: Duration)
    /// `clusterctl stop`; `clusterctl start` undoes it.
    case tenantStopped
    /// Too many activations are already waiting for this tenant.
    case tooManyWaiting(Int)
    case shuttingDown

    public var description: String {
        switch self {
        case .unknownTenant(let name): "no tenant named \"\(name)\""
        case .startFailed(let reason): "worker failed to start: \(reason)"
        case .startTimedOut(let timeout): "no worker became ready within start_timeout (\(timeout.formattedForHumans))"
        case .hostAtCapacity(let cap): "host is at max_workers (\(cap)) and no idle worker could be evicted"
        case .tenantFailed(let reason, let retryAfter):
            "tenant is failing (\(reason)); retrying in \(retryAfter.formattedForHumans)"
        case .tenantStopped: "tenant is stopped (clusterctl start to resume)"
        case .tooManyWaiting(let limit): "more than \(limit) activations already waiting"
        case .shuttingDown: "clusterd is shutting down"
        }
    }

    /// What kind of failure, named as the control protocol's error codes name it.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case unknownTenant = "unknown-tenant"
        case startFailed = "start-failed"
        case startTimedOut = "start-timeout"
        case hostAtCapacity = "host-at-capacity"
        case tenantFailed = "tenant-failed"
        case tenantStopped = "tenant-stopped"
        case tooManyWaiting = "too-many-waiting"
        case shuttingDown = "shutting-down"
    }

    public var kind: Kind {
        switch self {
        case .unknownTenant: .unknownTenant
        case .startFailed: .startFailed
        case .startTimedOut: .startTimedOut
        case .hostAtCapacity: .hostAtCapacity
        case .tenantFailed: .tenantFailed
        case .tenantStopped: .tenantStopped
        case .tooManyWaiting: .tooManyWaiting
        case .shuttingDown: .shuttingDown
        }
    }

    /// The failure as a router hears of it.
    public var refusal: ActivationRefusal {
        var retryAfter: Duration?
        if case .tenantFailed(_, let after) = self { retryAfter = max(.zero, after) }
        return ActivationRefusal(kind: kind, message: description, retryAfter: retryAfter)
    }
}

/// An activation failure as a router hears of it over the control channel: its kind, clusterd's message, and
/// for a failed tenant when it may be tried again. The one form a failure takes from clusterd to an HTTP answer.
public struct ActivationRefusal: Sendable, Hashable, CustomStringConvertible {
    /// nil: clusterd answered with an error that is not an activation failure (the router says "unavailable").
    public var kind: ActivationFailure.Kind?
    public var message: String
    public var retryAfter: Duration?

    public init(kind: ActivationFailure.Kind?, message: String, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { message }
}
