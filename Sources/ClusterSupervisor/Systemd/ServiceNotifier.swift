import CSystemd
import ClusterCore
import Glibc
import Synchronization

/// clusterd's side of the systemd notify protocol (`sd_notify`): READY, STATUS, RELOADING, STOPPING, WATCHDOG.
/// Every call is a no-op when clusterd is not run by systemd (no `NOTIFY_SOCKET`).
public final class ServiceNotifier: Sendable {
    /// Half of `WATCHDOG_USEC` when systemd set up a watchdog for this process, else nil.
    public let watchdogInterval: Duration?
    private let lastStatus = Mutex<String?>(nil)

    public init() {
        var microseconds: UInt64 = 0
        watchdogInterval =
            sd_watchdog_enabled(0, &microseconds) > 0 ? .microseconds(Int64(microseconds / 2)) : nil
    }

    /// Whether systemd listens (`NOTIFY_SOCKET` is set).
    public var isActive: Bool { getenv("NOTIFY_SOCKET") != nil }

    public func ready(status: String? = nil) {
        send("READY=1" + (status.map { "\nSTATUS=\($0)" } ?? ""))
    }

    /// Around a reload: RELOADING=1 first, `ready()` after (with `MONOTONIC_USEC`, which newer systemd wants).
    public func reloading() {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        let microseconds = UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(microseconds)")
    }

    public func stopping() {
        send("STOPPING=1")
    }

    public func watchdog() {
        send("WATCHDOG=1")
    }

    /// STATUS=…, only when it changed.
    public func status(_ text: String) {
        let changed = lastStatus.withLock { last in
            defer { last = text }
            return last != text
        }
        if changed { send("STATUS=\(text)") }
    }

    /// Keeps `fd` in systemd's fd store under `name` (FDSTORE=1; FDPOLL=0: kept even once the pipe's other
    /// end is closed): it survives a crash of clusterd and comes back with the sockets, named.
    public func store(fd: Int32, name: String) {
        guard isActive else { return }
        var descriptor = fd
        _ = sd_pid_notify_with_fds(0, 0, "FDSTORE=1\nFDNAME=\(name)\nFDPOLL=0", &descriptor, 1)
    }

    /// Drops what the fd store holds under `name`.
    public func removeStored(name: String) {
        send("FDSTOREREMOVE=1\nFDNAME=\(name)")
    }

    private func send(_ state: String) {
        _ = sd_notify(0, state)
    }
}

/// fd-store names of a worker's output pipes (no ':', which separates names in LISTEN_FDNAMES).
public enum OutputFDNames {
    public static func stdout(_ worker: WorkerID) -> String { "stdout-\(worker)" }
    public static func stderr(_ worker: WorkerID) -> String { "stderr-\(worker)" }
}
