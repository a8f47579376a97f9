import NIOCore
import NIOPosix

/// One ``UpstreamConnectionPool`` per event loop of the server's group, looked up by a connection's own loop.
///
/// Built before the first connection is accepted and never changed after, so the lookup needs no lock.
struct UpstreamPools: Sendable {
    private let pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]

    private init(pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>]) {
        self.pools = pools
    }

    /// Creates a pool on each loop of `group`.
    static func make(group: MultiThreadedEventLoopGroup, configuration: ProxyConfiguration) async throws -> Self {
        var pools: [ObjectIdentifier: NIOLoopBound<UpstreamConnectionPool>] = [:]
        for loop in group.makeIterator() {
            pools[ObjectIdentifier(loop)] = try await loop.submit {
                NIOLoopBound(UpstreamConnectionPool(eventLoop: loop, configuration: configuration), eventLoop: loop)
            }.get()
        }
        return Self(pools: pools)
    }

    /// The pool of `eventLoop`; call on that loop.
    func pool(for eventLoop: any EventLoop) -> UpstreamConnectionPool? {
        self.pools[ObjectIdentifier(eventLoop)]?.value
    }

    /// Closes every idle connection of every pool.
    func shutDown(group: MultiThreadedEventLoopGroup) async {
        for loop in group.makeIterator() {
            guard let pool = self.pools[ObjectIdentifier(loop)] else { continue }
            try? await loop.submit { pool.value.shutDown() }.get()
        }
    }
}
