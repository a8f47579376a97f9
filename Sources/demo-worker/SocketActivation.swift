import Glibc

/// The listening socket passed in by systemd socket activation (or by clusterd, which passes
/// it the same way): `LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`, fds from 3 on.
///
/// Mirrors `sd_listen_fds(1)`: the fds count only when `LISTEN_PID` is this process; the
/// variables are removed from the environment either way, and the fds are marked close-on-exec.
enum SocketActivation {
    /// `SD_LISTEN_FDS_START`: the first passed descriptor.
    static let firstDescriptor: CInt = 3

    /// The backlog re-applied after NIO adopted the socket (NIO lowers it to 128).
    static let backlog: CInt = 4096

    /// What the environment says about passed sockets.
    enum Detection: Equatable {
        /// No `LISTEN_FDS`/`LISTEN_PID`: bind our own socket.
        case none
        /// Variables present but not for us (or malformed); `reason` says why.
        case ignored(reason: String)
        /// Serve on `descriptor`; `count` fds were passed in all.
        case inherited(descriptor: CInt, count: Int)
    }

    /// Reads the variables, then unsets them as `sd_listen_fds(1)` does.
    static func detect(pid: pid_t) -> Detection {
        let fdsText = Environment.value("LISTEN_FDS")
        let pidText = Environment.value("LISTEN_PID")
        defer {
            Environment.unset("LISTEN_FDS")
            Environment.unset("LISTEN_PID")
            Environment.unset("LISTEN_FDNAMES")
        }
        guard fdsText != nil || pidText != nil else { return .none }
        guard let pidText, let listenPID = Int32(pidText) else {
            return .ignored(reason: "LISTEN_FDS is set but LISTEN_PID is not a pid ('\(pidText ?? "")')")
        }
        guard listenPID == pid else {
            return .ignored(
                reason: "LISTEN_PID=\(listenPID) is not this process (pid \(pid)); the fds are for someone else"
            )
        }
        guard let fdsText, let count = Int(fdsText), count >= 0 else {
            return .ignored(reason: "LISTEN_FDS='\(fdsText ?? "")' is not a count")
        }
        guard count >= 1 else { return .ignored(reason: "LISTEN_FDS=0: no socket passed") }
        for descriptor in firstDescriptor..<(firstDescriptor + CInt(count)) {
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
        }
        return .inherited(descriptor: firstDescriptor, count: count)
    }

    /// Checks that `descriptor` is a listening stream socket; returns why not, or `nil` if it is.
    static func problem(with descriptor: CInt) -> String? {
        var type: CInt = 0
        var accepting: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
            return "fd \(descriptor) is not a socket (\(String(cString: strerror(errno))))"
        }
        guard type == CInt(SOCK_STREAM.rawValue) else {
            return "fd \(descriptor) is not a stream socket"
        }
        length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &length) == 0, accepting != 0 else {
            return "fd \(descriptor) is a socket but not listening"
        }
        return nil
    }

    /// Re-applies a deep accept queue after NIO's `withBoundSocket` set 128.
    static func deepenBacklog(of descriptor: CInt) -> String? {
        guard listen(descriptor, Self.backlog) == 0 else {
            return "listen(\(descriptor), \(Self.backlog)) failed: \(String(cString: strerror(errno)))"
        }
        return nil
    }
}
