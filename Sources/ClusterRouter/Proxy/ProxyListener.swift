import ClusterCore

/// Where ``ProxyServer`` accepts client connections.
public enum ProxyListener: Sendable, Hashable, CustomStringConvertible {
    /// Bind and listen on a `HOST:PORT` (IPv4 or IPv6; port 0 picks a free port).
    case address(ListenAddress)
    /// Adopt an already bound, listening stream socket (socket activation). The proxy owns the descriptor from
    /// then on and closes it on stop; its accept queue is set to ``ProxyConfiguration/listenBacklog`` again.
    case socket(descriptor: CInt)

    public var description: String {
        switch self {
        case .address(let address): address.description
        case .socket(let descriptor): "fd \(descriptor)"
        }
    }
}
