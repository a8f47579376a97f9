import CSpawn
import ClusterCore
import Glibc
import Logging
import ServiceLifecycle

/// `clusterd start`'s router: `clusterd router` as a supervised child that talks to clusterd over the control
/// channel like any external router. clusterd holds the public listening sockets and passes them as fds 3…
/// (`LISTEN_FDS`, `LISTEN_FDNAMES=http:…`, `LISTEN_PID`), so a router restart loses no connection: they queue
/// in the kernel meanwhile. Restarted with backoff when it dies; on graceful shutdown told to stop (SIGTERM:
/// it finishes in-flight requests) before the supervisor stops the workers.
public struct RouterProcess: Service {
    let executable: String
    let arguments: [String]
    let listeners: [Int32]
    let stopTimeout: Duration
    let logger: Logger

    /// `arguments` follow the executable (e.g. `router --control-socket …`); `listeners` are passed as fds 3….
    public init(executable: String, arguments: [String], listeners: [Int32], stopTimeout: Duration, logger: Logger) {
        self.executable = executable
        self.arguments = arguments
        self.listeners = listeners
        self.stopTimeout = stopTimeout
        self.logger = logger
    }

    public func run() async throws {
        let policy = RestartPolicy.standard
        var failures = 0
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let child: cspawn_child
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
