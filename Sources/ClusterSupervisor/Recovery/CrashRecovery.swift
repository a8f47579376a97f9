import CSpawn
import ClusterCore
import Glibc
import Logging

/// After a crash of clusterd: what the previous one left running, verified against its runtime record.
public struct CrashRecovery: Sendable {
    /// The workers to adopt (with their output pipes, when systemd's fd store kept them).
    public var takeover: Takeover
    /// The router still running, to adopt rather than start a second one.
    public var routerPID: Int32?
    /// Copies of that router's listening sockets, taken from it (`pidfd_getfd`) when systemd did not pass them.
    public var routerListeners: [Int32]

    /// The plan from `state_dir/runtime.json`; nil when there is nothing to adopt. `stored` are the fds systemd's
    /// fd store passed back (worker output pipes by name); those not used are closed. `needListeners`: clusterd
    /// has no listening sockets of its own for the router (not socket-activated).
    public static func plan(
        stateDirectory: String,
        stored: [(name: String, fd: Int32)],
        needListeners: Bool,
        logger: Logger
    ) -> CrashRecovery? {
        var unused = Dictionary(stored.map { ($0.name, $0.fd) }, uniquingKeysWith: { first, _ in first })
        defer { for fd in unused.values { close(fd) } }
        guard let record = RuntimeRecord.load(from: stateDirectory) else { return nil }
        guard record.clusterdPID != getpid() else { return nil }
        var workers: [Takeover.Worker] = []
        for entry in record.workers {
            let id = entry.worker.id
            guard ProcessIdentity.isSame(entry.worker.pid, startTime: entry.startTime) else {
                logger.notice(
                    "a worker of the previous clusterd is gone",
                    metadata: ["tenant": "\(id.tenant)", "worker": "\(id)", "pid": "\(entry.worker.pid)"]
                )
                continue
            }
            workers.append(
                Takeover.Worker(
                    worker: entry.worker,
                    stdoutFD: unused.removeValue(forKey: OutputFDNames.stdout(id)),
                    stderrFD: unused.removeValue(forKey: OutputFDNames.stderr(id)),
                    isChild: false
                )
            )
        }
        var routerPID: Int32?
        var listeners: [Int32] = []
        if let router = record.router, ProcessIdentity.isSame(router.pid, startTime: router.startTime) {
            routerPID = router.pid
            if needListeners {
                let pidfd = cspawn_pidfd_open(router.pid)
                defer { if pidfd >= 0 { close(pidfd) } }
                for target in router.listenerFDs {
                    let copy = pidfd >= 0 ? cspawn_pidfd_getfd(pidfd, target) : -1
                    guard copy >= 0 else {
                        // Without its sockets the old router cannot be adopted: stop it, bind afresh.
                        logger.warning(
                            "cannot take the old router's sockets; stopping it",
                            metadata: ["pid": "\(router.pid)"]
                        )
                        for fd in listeners { close(fd) }
                        listeners = []
                        routerPID = nil
                        kill(-router.pid, SIGKILL)
                        if pidfd >= 0 {
                            var poll = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
                            _ = Glibc.poll(&poll, 1, 2000)
                        }
                        break
                    }
                    listeners.append(copy)
                }
            }
        }
        guard !workers.isEmpty || routerPID != nil else {
            RuntimeRecord.remove(from: stateDirectory)
            return nil
        }
        return CrashRecovery(
            takeover: Takeover(
                source: .crashRecovery,
                notifySocketPath: record.notifySocketPath,
                notifyFD: nil,
                workers: workers,
                nextSerials: record.nextSerials
            ),
            routerPID: routerPID,
            routerListeners: listeners
        )
    }
}
