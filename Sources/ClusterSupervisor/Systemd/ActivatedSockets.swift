import CSystemd
import Glibc

/// The sockets systemd passed (socket activation, `sd_listen_fds_with_names`), sorted by name and checked:
/// `http` must be listening TCP sockets (the router's), `control` a listening Unix stream socket. The one reader
/// of `LISTEN_FDS`, for clusterd and for its router.
public struct ActivatedSockets: Sendable {
    public var http: [Int32] = []
    public var control: Int32?
    /// Passed fds with other names (`name`, fd), for whoever knows them (the fd store).
    public var others: [(name: String, fd: Int32)] = []

    /// None: not socket-activated.
    public init() {}

    /// Takes the passed fds (and unsets `LISTEN_*`, as a child must not inherit them); nothing when not activated.
    public static func take() throws(SupervisorError) -> ActivatedSockets {
        var sockets = ActivatedSockets()
        var problems: [String] = []
        for (name, fd) in try passed() {
            switch name {
            case "http":
                if isListeningTCP(fd) {
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

    /// The router's listening sockets: every passed fd, whatever its name (clusterd names them `http`, a socket
    /// unit of the operator's may not), must be a listening TCP socket. Empty when not activated.
    public static func takeListeners() throws(SupervisorError) -> [Int32] {
        let fds = try passed()
        let wrong = fds.filter { !isListeningTCP($0.fd) }.map { "fd \($0.fd) (\($0.name))" }
        guard wrong.isEmpty else {
            throw SupervisorError(
                .socketActivation,
                "passed sockets that are not listening TCP sockets: " + wrong.joined(separator: ", ")
            )
        }
        return fds.map(\.fd)
    }

    /// Every passed fd with its name (`unknown` without `LISTEN_FDNAMES`), made close-on-exec.
    private static func passed() throws(SupervisorError) -> [(name: String, fd: Int32)] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else {
            if count < 0 {
                throw SupervisorError(.socketActivation, "cannot read LISTEN_FDS: \(String(cString: strerror(-count)))")
            }
            return []
        }
        defer {
            for index in 0..<Int(count) { free(names?[index]) }
            free(names)
        }
        return (0..<Int(count)).map { index in
            let fd = SD_LISTEN_FDS_START + Int32(index)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            return (names?[index].map { String(cString: $0) } ?? "unknown", fd)
        }
    }

    private static func isListeningTCP(_ fd: Int32) -> Bool {
        sd_is_socket_inet(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1, 0) > 0
    }
}

private let SD_LISTEN_FDS_START: Int32 = 3
