import Glibc

/// TCP sockets on 127.0.0.1: a worker's listening socket (`listen-fds`), a port check, a readiness probe.
enum LoopbackSocket {
    enum BindFailure: Error {
        case inUse
        case other(SystemError)
    }

    /// A close-on-exec socket bound to 127.0.0.1:port and listening with a deep backlog, so the router can
    /// connect before the worker accepts.
    static func listen(port: Int, backlog: Int32 = 4096) -> Result<Int32, BindFailure> {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failure(.other(SystemError("socket"))) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = loopback(port: port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if bound != 0 {
            let code = errno
            close(fd)
            return .failure(code == EADDRINUSE ? .inUse : .other(SystemError("bind 127.0.0.1:\(port)", errno: code)))
        }
        if Glibc.listen(fd, backlog) != 0 {
            let error = SystemError("listen 127.0.0.1:\(port)")
            close(fd)
            return .failure(.other(error))
        }
        return .success(fd)
    }

    /// True when nothing listens on, or holds, 127.0.0.1:port (a worker that binds it itself will succeed).
    static func isFree(port: Int) -> Bool {
        switch listen(port: port, backlog: 1) {
        case .success(let fd):
            close(fd)
            return true
        case .failure:
            return false
        }
    }

    enum ConnectResult {
        case connected
        /// `fd` is connecting; wait for it to become writable.
        case inProgress(Int32)
        case refused
    }

    /// Starts a non-blocking connect to 127.0.0.1:port.
    static func connect(port: Int) -> ConnectResult {
        let fd = socket(
            AF_INET,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
            0
        )
        guard fd >= 0 else { return .refused }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result == 0 {
            close(fd)
            return .connected
        }
        if errno == EINPROGRESS { return .inProgress(fd) }
        close(fd)
        return .refused
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        return address
    }
}
