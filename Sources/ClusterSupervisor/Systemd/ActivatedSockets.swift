import CSystemd
import Glibc

/// The sockets systemd passed (socket activation, `sd_listen_fds_with_names`), sorted by name and checked:
/// `http` must be listening TCP sockets (the router's), `control` a listening Unix stream socket.
public struct ActivatedSockets: Sendable {
    public var http: [Int32] = []
    public var control: Int32?
    /// Passed fds with other names (`name`, fd), for whoever knows them (the fd store).
    public var others: [(name: String, fd: Int32)] = []

    /// None: not socket-activated.
    public init() {}

    /// Takes the passed fds (and unsets `LISTEN_*`, as a child must not inherit them); nothing when not activated.
    public static func take() throws(SupervisorError) -> ActivatedSockets {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else {
            if count < 0 {
                throw SupervisorError(.socketActivation, "cannot read LISTEN_FDS: \(String(cString: strerror(-count)))")
            }
            return ActivatedSockets()
        }
        defer {
            for index in 0..<Int(count) { free(names?[index]) }
            free(names)
        }
        var sockets = ActivatedSockets()
        var problems: [String] = []
        for index in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(index)
            let name = names?[index].map { String(cString: $0) } ?? "unknown"
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            switch name {
            case "http":
                if sd_is_socket_inet(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1, 0) > 0 {
                    sockets.http.append(fd)
                } else {
                    problems.append(
                        "fd \(fd) named http is not a listening TCP socket (ListenStream= in clusterd.socket)"
                    )
                }
            case "control":
                if sockets.control != nil {
                    problems.append("more than one fd is named control")
                } else if sd_is_socket_unix(fd, Int32(SOCK_STREAM.rawValue), 1, nil, 0) > 0 {
                    sockets.control = fd
                } else {
                    problems.append(
                        "fd \(fd) named control is not a listening Unix stream socket (the control socket unit)"
                    )
                }
            default:
                sockets.others.append((name, fd))
            }
        }
        guard problems.isEmpty else {
            throw SupervisorError(.socketActivation, "bad sockets from systemd: " + problems.joined(separator: "; "))
        }
        return sockets
    }
}

private let SD_LISTEN_FDS_START: Int32 = 3
