import CSpawn
import ClusterCore
import Glibc
import Logging
import ServiceLifecycle
import Synchronization

/// `clusterd start`'s router: `clusterd router` as a supervised child that talks to clusterd over the control
/// channel like any external router. clusterd holds the public listening sockets and passes them as fds 3…
/// (`LISTEN_FDS`, `LISTEN_FDNAMES=http:…`, `LISTEN_PID`), so a router restart loses no connection: they queue
/// in the kernel meanwhile. Restarted with backoff when it dies; on graceful shutdown told to stop (SIGTERM:
/// it finishes in-flight requests) before the supervisor stops the workers.
public struct RouterProcess: Service {
    let executable: String
    let arguments: [String]
    /// The public listeners, passed to every router started.
    public let listeners: [Int32]
    let stopTimeout: Duration
    let logger: Logger
    /// A router already running (handed over by an in-place upgrade): waited for before any is started.
    let adopted: Int32?
    /// The router running now, for an upgrade to hand over.
    public let current = RouterPID()

    /// `arguments` follow the executable (e.g. `router --control-socket …`); `listeners` are passed as fds 3….
    public init(
        executable: String,
        arguments: [String],
        listeners: [Int32],
        stopTimeout: Duration,
        logger: Logger,
        adopting adopted: Int32? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.listeners = listeners
        self.stopTimeout = stopTimeout
        self.logger = logger
        self.adopted = adopted
    }

    public func run() async throws {
        let policy = RestartPolicy.standard
        var failures = 0
        var adopting = adopted
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let child: cspawn_child
            if let pid = adopting, case let pidfd = cspawn_pidfd_open(pid), pidfd >= 0 {
                child = cspawn_child(pid: pid, pidfd: pidfd)
                logger.info("router adopted", metadata: ["pid": "\(pid)"])
            } else {
                switch spawn() {
                case .success(let spawned): child = spawned
                case .failure(let failure):
                    throw SupervisorError(
                        .router,
                        "cannot start the router (\(executable))",
                        cause: SystemError("spawn stage \(failure.stage.rawValue)", errno: failure.error)
                    )
                }
                logger.info("router started", metadata: ["pid": "\(child.pid)"])
            }
            adopting = nil
            current.value.store(child.pid, ordering: .relaxed)
            defer { current.value.store(0, ordering: .relaxed) }
            let started = ContinuousClock.now
            let status = await stopOnGracefulShutdown(child)
            close(child.pidfd)
            if Task.isShuttingDownGracefully {
                logger.info("router stopped", metadata: ["exit": "\(status)"])
                return
            }
            failures = ContinuousClock.now - started > policy.stableAfter ? 1 : failures + 1
            let delay = policy.delay(afterConsecutiveFailures: failures)
            logger.error(
                "router exited; restarting",
                metadata: ["exit": "\(status)", "retry_in": "\(delay.formattedForHumans)"]
            )
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) }
        }
    }

    /// Waits for the child's exit; on graceful shutdown sends SIGTERM (it finishes its in-flight requests),
    /// then SIGKILL after `stopTimeout`. Signals go through the pidfd: never to a reused pid.
    private func stopOnGracefulShutdown(_ child: cspawn_child) async -> ExitStatus {
        await withTaskGroup(of: ExitStatus?.self) { group in
            group.addTask { await ChildProcess.exit(of: child) }
            group.addTask { [stopTimeout, logger] in
                guard (try? await gracefulShutdown()) != nil else { return nil }
                cspawn_pidfd_signal(child.pidfd, SIGTERM)
                guard (try? await Task.sleep(for: stopTimeout)) != nil else { return nil }
                logger.warning("router did not stop within \(stopTimeout.formattedForHumans); killing it")
                cspawn_pidfd_signal(child.pidfd, SIGKILL)
                return nil
            }
            while let result = await group.next() {
                if let status = result {
                    group.cancelAll()
                    return status
                }
            }
            return .exited(-1)
        }
    }

    private func spawn() -> Result<cspawn_child, ChildProcess.SpawnFailure> {
        var environment: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        environment["LISTEN_FDS"] = String(listeners.count)
        environment["LISTEN_FDNAMES"] = Array(repeating: "http", count: listeners.count).joined(separator: ":")
        // systemd's notify socket and watchdog are clusterd's own, not the router's.
        for name in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] { environment[name] = nil }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(devNull) }
        return ChildProcess.spawn(
            program: executable,
            arguments: [executable] + arguments,
            environment: environment,
            pidVariables: ["LISTEN_PID"],
            standardIO: (devNull, STDOUT_FILENO, STDERR_FILENO),
            passing: listeners
        )
    }
}

/// The pid of the router running now (0 when none).
public final class RouterPID: Sendable {
    let value = Atomic<Int32>(0)

    public var pid: Int32? {
        let pid = value.load(ordering: .relaxed)
        return pid > 0 ? pid : nil
    }
}
