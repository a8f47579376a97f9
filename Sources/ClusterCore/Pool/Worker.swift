/// What the core knows about one worker process.
public struct Worker: Sendable, Equatable {
    public let id: WorkerID
    /// 127.0.0.1:port is where the worker serves.
    public let port: Int
    /// nil until the shell reports the spawn.
    public internal(set) var pid: Int32?
    public internal(set) var state: WorkerState
    /// Requests (and open WebSockets) in flight at the router, as last reported.
    public internal(set) var inFlight: Int
    public internal(set) var lastActivity: Instant
    public let launchedAt: Instant
    public internal(set) var readyAt: Instant?
    /// The last `STATUS=` the worker sent over the notify protocol.
    public internal(set) var statusText: String?
    /// Which configuration of its tenant launched it; older generations are rolled.
    let generation: Int
    var watchdogDeadline: Instant?

    init(id: WorkerID, port: Int, generation: Int, now: Instant, startDeadline: Instant) {
        self.id = id
        self.port = port
        self.pid = nil
        self.state = .starting(deadline: startDeadline)
        self.inFlight = 0
        self.lastActivity = now
        self.launchedAt = now
        self.generation = generation
    }

    /// Starting or ready: counts toward the tenant's wanted workers.
    var isLive: Bool {
        switch state {
        case .starting, .ready: true
        case .draining, .stopping, .killed: false
        }
    }

    var isReady: Bool { state == .ready }

    var isStarting: Bool {
        if case .starting = state { return true }
        return false
    }
}

/// A worker's lifecycle: starting → ready → draining → stopping → (killed) → gone.
public enum WorkerState: Sendable, Equatable {
    /// Spawned (or being spawned); not yet ready. Killed at `deadline` (start timeout).
    case starting(deadline: Instant)
    /// Takes requests.
    case ready
    /// Takes no new requests; told to stop when its in-flight requests finish or at `deadline`.
    case draining(reason: StopReason, deadline: Instant)
    /// Sent SIGTERM (or said `STOPPING=1`); SIGKILL at `killAt`.
    case stopping(reason: StopReason, killAt: Instant)
    /// Sent SIGKILL; waiting for the exit.
    case killed(reason: StopReason)

    /// The state as status shows it, without deadlines.
    public var name: WorkerStatus.State {
        switch self {
        case .starting: .starting
        case .ready: .ready
        case .draining: .draining
        case .stopping: .stopping
        case .killed: .killed
        }
    }

    /// Why the worker is leaving, when it is.
    public var stopReason: StopReason? {
        switch self {
        case .starting, .ready: nil
        case .draining(let reason, _), .stopping(let reason, _), .killed(let reason): reason
        }
    }
}

/// Why clusterd stopped (or is stopping) a worker.
public enum StopReason: String, Sendable, Hashable, Codable {
    /// No request for `idle_timeout`.
    case idle
    /// The host was at `cluster.max_workers` and another tenant needed the slot.
    case evicted
    /// More workers than wanted (a lower scale, or a rolled generation being replaced).
    case surplus
    /// Replaced by a worker of a newer configuration (restart or reload).
    case replaced
    /// `clusterctl drain`.
    case drained
    /// `clusterctl stop`, or the tenant was removed from tenants.conf.
    case stopped
    /// Not ready within `start_timeout`.
    case startTimedOut = "start-timeout"
    /// No `WATCHDOG=1` within `watchdog`.
    case watchdog
    /// The worker said `STOPPING=1`.
    case workerRequested = "worker-requested"
    /// clusterd is shutting down.
    case shutdown
}

/// How a worker process ended.
public enum ExitStatus: Sendable, Hashable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// A worker adopted after a clusterd restart is not clusterd's child: its exit is seen, its status is not.
    case unknown

    public var isSuccess: Bool { self == .exited(0) }

    public var description: String {
        switch self {
        case .exited(let code): "exited with status \(code)"
        case .signaled(let signal): "killed by signal \(signal)\(Self.signalNames[signal].map { " (\($0))" } ?? "")"
        case .unknown: "exited (status unknown: adopted, not clusterd's child)"
        }
    }

    private static let signalNames: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS", 8: "SIGFPE",
        9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM",
    ]
}
