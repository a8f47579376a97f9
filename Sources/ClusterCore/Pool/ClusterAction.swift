/// What the shell must do after an event. Executed in order.
public enum ClusterAction: Sendable, Equatable {
    /// Spawn a worker; report back `workerLaunched` or `workerLaunchFailed`.
    case launch(WorkerLaunch)
    /// SIGTERM to the worker's process group.
    case terminate(WorkerID)
    /// SIGKILL to the worker's process group.
    case kill(WorkerID)
    case answerActivation(ActivationID, ActivationAnswer)
    /// Tell subscribers (and the log) what changed.
    case publish(ClusterEvent)
    /// Shutdown requested and every worker is gone.
    case shutdownCompleted
}

/// Everything the shell needs to spawn one worker.
public struct WorkerLaunch: Sendable, Equatable {
    public var worker: WorkerID
    public var port: Int
    /// argv with `{port}` and `{tenant}` substituted.
    public var arguments: [String]
    /// The tenant's `env` plus `PORT`, `CLUSTERD_TENANT`, `CLUSTERD_WORKER` (and `WATCHDOG_USEC`);
    /// the shell adds what only it knows (`LISTEN_*`, `NOTIFY_SOCKET`).
    public var environment: [String: String]
    public var workingDirectory: String?
    public var readiness: Readiness
}

/// Why the shell could not spawn a worker.
public enum LaunchFailure: Error, Sendable, Equatable {
    /// 127.0.0.1:port is taken by something else; the core tries another port (not a worker failure).
    case portUnavailable
    /// The program could not be started (not found, not executable, bad working directory…).
    case failed(String)
}

/// Something subscribers of the control channel (and the log) hear about.
public enum ClusterEvent: Sendable, Equatable {
    case workerStarting(WorkerID, port: Int, pid: Int32)
    case workerReady(WorkerID, port: Int)
    case workerDraining(WorkerID, reason: StopReason)
    /// `reason` is nil when the worker went away unasked (a crash, or it exited by itself).
    case workerGone(WorkerID, exit: ExitStatus?, reason: StopReason?)
    case tenantFailed(String, reason: String, retryAfter: Duration)
    case tenantRecovered(String)
    case configurationReloaded
}
