import ClusterCore
import Glibc

/// The router's public listening sockets, bound by clusterd so they outlive a router restart: connections
/// queue in the kernel while a new router starts, exactly as systemd socket activation does it.
public enum PublicListeners {
    /// Binds and listens (backlog 4096) on every address; close-on-exec, to be passed on explicitly.
    public static func bind(_ addresses: [ListenAddress]) throws(SupervisorError) -> [Int32] {
        var bound: [Int32] = []
        for address in addresses {
            switch bindOne(address) {
            case .success(let fd): bound.append(fd)
            case .failure(let error):
                for fd in bound { close(fd) }
                throw SupervisorError(.listen, "cannot listen on \(address)", cause: error)
            }
        }
        return bound
    }

    /// The port a bound socket got (for `--listen 127.0.0.1:0`).
    public static func port(of fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                    Int(UInt16(bigEndian: $0.pointee.sin6_port))
                }
            }
        default: return nil
        }
    }

    private static func bindOne(_ address: ListenAddress) -> Result<Int32, SystemError> {
        var hints = addrinfo()
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let host = address.host == "*" ? nil : address.host
        let status = getaddrinfo(host, String(address.port), &hints, &list)
        guard status == 0, let first = list else {
            return .failure(
                SystemError("getaddrinfo \(address.host): \(String(cString: gai_strerror(status)))", errno: 0)
            )
        }
        defer { freeaddrinfo(list) }
        let info = first.pointee
        let fd = socket(info.ai_family, info.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.ai_protocol)
        guard fd >= 0 else { return .failure(SystemError("socket")) }
        var on: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        if info.ai_family == AF_INET6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &on, socklen_t(MemoryLayout<Int32>.size))
        }
        guard Glibc.bind(fd, info.ai_addr, info.ai_addrlen) == 0, listen(fd, 4096) == 0 else {
            let error = SystemError("bind/listen \(address)")
            close(fd)
            return .failure(error)
        }
        return .success(fd)
    }
}
