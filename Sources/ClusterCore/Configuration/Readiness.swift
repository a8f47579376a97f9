/// How clusterd learns that a worker can take requests.
public enum Readiness: String, Sendable, Hashable, CaseIterable, Codable {
    /// clusterd binds 127.0.0.1:PORT and passes it as fd 3 (systemd socket activation):
    /// the worker is routable as soon as it is spawned, the kernel queues connections until it accepts.
    case listenFDs = "listen-fds"
    /// The worker sends `READY=1` to `NOTIFY_SOCKET` (the systemd notify protocol).
    case notify
    /// The worker is ready when 127.0.0.1:PORT accepts a TCP connection.
    case tcp
}
