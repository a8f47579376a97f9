import NIOCore
import NIOHTTP1
import NIOPosix

/// The keep-alive connections to workers of one event loop, used only from that loop (no locks, no hops).
///
/// Idle connections are kept per worker port, most recently used first out (so the rest age out), at most
/// ``ProxyConfiguration/maxIdleUpstreamConnectionsPerWorker`` per worker, each closed after
/// ``ProxyConfiguration/upstreamIdleTimeout`` unused. A connection is only put back after a complete exchange.
final class UpstreamConnectionPool {
    let eventLoop: any EventLoop
    private let maxIdlePerWorker: Int
    private let idleTimeout: TimeAmount
    private let bootstrap: ClientBootstrap
    /// Per worker port. A class, so taking and putting back a connection mutates the stack in place without
    /// touching the dictionary (a keep-alive request does both).
    private final class IdleStack {
        var connections: [UpstreamConnection] = []
    }

    private var idle: [Int: IdleStack] = [:]
    private var idleCount = 0
    private var sweeper: Scheduled<Void>?
    private var isShutDown = false

    init(eventLoop: any EventLoop, configuration: ProxyConfiguration) {
        self.eventLoop = eventLoop
        self.maxIdlePerWorker = configuration.maxIdleUpstreamConnectionsPerWorker
        self.idleTimeout = TimeAmount(configuration.upstreamIdleTimeout)
        self.bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(TimeAmount(configuration.upstreamConnectTimeout))
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.addHandlers(to: channel)
                }
            }
    }

    /// Connections idle in the pool now.
    var idleConnections: Int { self.idleCount }

    /// An idle connection to `port`, most recently used first; nil when there is none.
    func takeIdle(port: Int) -> UpstreamConnection? {
        // An emptied stack stays, so that a connection put back does not allocate a new one (sweeps drop it).
        guard let stack = self.idle[port] else { return nil }
        while let connection = stack.connections.popLast() {
            self.idleCount -= 1
            connection.isPooled = false
            if connection.isUsable { return connection }
            connection.close()
        }
        return nil
    }

    /// A new connection to 127.0.0.1:`port`, on this pool's event loop.
    func connect(port: Int) -> EventLoopFuture<UpstreamConnection>.Isolated {
        let address: SocketAddress
        do {
            address = try SocketAddress(ipAddress: "127.0.0.1", port: port)
        } catch {
            let failed: EventLoopFuture<UpstreamConnection> = self.eventLoop.makeFailedFuture(error)
            return failed.assumeIsolated()
        }
        return self.bootstrap.connect(to: address).assumeIsolated().flatMapThrowing { channel in
            let connection = try channel.pipeline.syncOperations.handler(type: UpstreamConnection.self)
            connection.pool = self
            connection.port = port
            return connection
        }
    }

    /// Takes back a connection after a complete exchange; closes it when the pool for its worker is full.
    func release(_ connection: UpstreamConnection) {
        connection.detach()
        guard !self.isShutDown, connection.isUsable,
            (self.idle[connection.port]?.connections.count ?? 0) < self.maxIdlePerWorker
        else {
            connection.close()
            return
        }
        connection.isPooled = true
        connection.idleSince = .now()
        if let stack = self.idle[connection.port] {
            stack.connections.append(connection)
        } else {
            let stack = IdleStack()
            stack.connections.append(connection)
            self.idle[connection.port] = stack
        }
        self.idleCount += 1
        if self.sweeper == nil {
            self.scheduleSweep()
        }
    }

    /// Forgets a pooled connection that closed.
    func remove(_ connection: UpstreamConnection) {
        guard connection.isPooled, let stack = self.idle[connection.port],
            let index = stack.connections.firstIndex(where: { $0 === connection })
        else { return }
        stack.connections.remove(at: index)
        self.idleCount -= 1
        connection.isPooled = false
    }

    /// Closes every idle connection and pools nothing from now on.
    func shutDown() {
        self.isShutDown = true
        self.sweeper?.cancel()
        self.sweeper = nil
        let all = self.idle.values.flatMap(\.connections)
        self.idle = [:]
        self.idleCount = 0
        for connection in all {
            connection.isPooled = false
            connection.close()
        }
    }

    private func scheduleSweep() {
        let interval = TimeAmount.nanoseconds(max(self.idleTimeout.nanoseconds / 2, 10_000_000))
        self.sweeper = self.eventLoop.assumeIsolated().scheduleTask(in: interval) { [weak self] in
            self?.sweep()
        }
    }

    /// Closes connections idle for longer than the timeout; they sit at the bottom of each stack.
    private func sweep() {
        self.sweeper = nil
        let cutoff = NIODeadline.now() - self.idleTimeout
        for (port, stack) in self.idle {
            let expired = Array(stack.connections.prefix { $0.idleSince <= cutoff })
            stack.connections.removeFirst(expired.count)
            if stack.connections.isEmpty { self.idle[port] = nil }
            guard !expired.isEmpty else { continue }
            self.idleCount -= expired.count
            for connection in expired {
                connection.isPooled = false
                connection.close()
            }
        }
        if self.idleCount > 0 {
            self.scheduleSweep()
        }
    }

    private static func addHandlers(to channel: any Channel) throws {
        var encoderConfiguration = HTTPRequestEncoder.Configuration()
        encoderConfiguration.automaticallySetFramingHeaders = false
        let encoder = HTTPRequestEncoder(configuration: encoderConfiguration)
        let decoder = ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .forwardBytes))
        let connection = UpstreamConnection(encoder: encoder, decoder: decoder)
        try channel.pipeline.syncOperations.addHandlers([encoder, decoder, connection])
    }
}
