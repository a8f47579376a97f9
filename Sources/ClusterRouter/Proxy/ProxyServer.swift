import ClusterCore
import Glibc
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The router's HTTP front: accepts client connections and proxies each request to the worker the
/// ``RequestRouting`` picks.
///
/// A ServiceLifecycle `Service`: ``run()`` listens until a graceful shutdown (or ``triggerGracefulShutdown()``), then
/// stops accepting, lets in-flight requests finish within ``ProxyConfiguration/drainTimeout`` (idle keep-alive
/// connections close at once, busy ones after their response), and returns. Cancelling `run()` skips the drain.
public final class ProxyServer: Service, Sendable {
    private struct State {
        var addresses: Result<[SocketAddress], any Error>?
        var addressWaiters: [CheckedContinuation<[SocketAddress], any Error>] = []
        var stopRequested = false
        var stopWaiter: CheckedContinuation<Void, Never>?
    }

    private let listeners: [ProxyListener]
    private let routing: any RequestRouting
    private let configuration: ProxyConfiguration
    private let group: MultiThreadedEventLoopGroup
    private let logger: Logger
    private let connections: ClientConnectionTracker
    private let state = Mutex(State())

    /// - Parameters:
    ///   - listeners: addresses to bind and sockets to adopt; at least one.
    ///   - eventLoopGroup: client connections and their worker connections share a loop; defaults to one per core.
    public init(
        listeners: [ProxyListener],
        routing: any RequestRouting,
        configuration: ProxyConfiguration = ProxyConfiguration(),
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton,
        logger: Logger = Logger(label: "clusterd.router.proxy")
    ) {
        self.listeners = listeners
        self.routing = routing
        self.configuration = configuration
        self.group = eventLoopGroup
        self.logger = logger
        self.connections = ClientConnectionTracker(limit: configuration.maxClientConnections)
    }

    /// The addresses listened on, once ``run()`` has bound them (in the order of the listeners); throws if binding
    /// failed.
    public func listeningAddresses() async throws -> [SocketAddress] {
        try await withCheckedThrowingContinuation { continuation in
            let ready = self.state.withLock { state -> Result<[SocketAddress], any Error>? in
                if let addresses = state.addresses { return addresses }
                state.addressWaiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }

    /// Client connections open now.
    public var openConnections: Int { self.connections.openConnections }

    /// Starts the graceful stop, as a ServiceLifecycle graceful shutdown would.
    public func triggerGracefulShutdown() {
        let waiter = self.state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.stopRequested = true
            defer { state.stopWaiter = nil }
            return state.stopWaiter
        }
        waiter?.resume()
    }

    /// Listens and serves until stopped; see the type's documentation.
    public func run() async throws {
        let pools = try await UpstreamPools.make(group: self.group, configuration: self.configuration)
        var channels: [any Channel] = []
        do {
            let bootstrap = self.makeBootstrap(pools: pools)
            for listener in self.listeners {
                channels.append(try await self.open(listener, with: bootstrap))
            }
        } catch {
            for channel in channels { try? await channel.close() }
            await pools.shutDown(group: self.group)
            self.publishAddresses(.failure(error))
            throw error
        }
        let addresses = channels.compactMap(\.localAddress)
        self.publishAddresses(.success(addresses))
        self.logger.info("router listening", metadata: ["addresses": "\(addresses.map(\.description))"])

        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                await self.waitForStop()
            } onCancel: {
                self.triggerGracefulShutdown()
            }
        } onGracefulShutdown: {
            self.triggerGracefulShutdown()
        }

        // Stop accepting without closing the listeners yet: NIO closes (resets) a connection it accepted just
        // before its listener closed, while the connections still in the kernel's queue are the next router's to
        // take (systemd, or clusterd, holds the socket). Connections accepted meanwhile finish setting up first.
        for channel in channels { try? await channel.setOption(.autoRead, value: false).get() }
        for _ in 0..<2 {
            for loop in self.group.makeIterator() { try? await loop.submit {}.get() }
        }
        // A listener of our own is closed now: new clients are refused (and can go elsewhere) rather than
        // queued for nobody. An adopted one stays open until the end: its queue is the next router's.
        for (listener, channel) in zip(self.listeners, channels) {
            if case .address = listener { try? await channel.close() }
        }
        let drainTimeout = Task.isCancelled ? TimeAmount.zero : TimeAmount(self.configuration.drainTimeout)
        self.logger.info("router draining", metadata: ["connections": "\(self.connections.openConnections)"])
        await self.connections.drain(on: self.group.any(), timeout: drainTimeout)
        for channel in channels { try? await channel.close() }
        await pools.shutDown(group: self.group)
        self.logger.info("router stopped")
    }

    private func waitForStop() async {
        await withCheckedContinuation { continuation in
            let stopped = self.state.withLock { state -> Bool in
                if state.stopRequested { return true }
                state.stopWaiter = continuation
                return false
            }
            if stopped { continuation.resume() }
        }
    }

    private func publishAddresses(_ result: Result<[SocketAddress], any Error>) {
        let waiters = self.state.withLock { state in
            state.addresses = result
            defer { state.addressWaiters = [] }
            return state.addressWaiters
        }
        for waiter in waiters { waiter.resume(with: result) }
    }

    private func open(_ listener: ProxyListener, with bootstrap: ServerBootstrap) async throws -> any Channel {
        switch listener {
        case .address(let address):
            return try await bootstrap.bind(host: address.host, port: address.port).get()
        case .socket(let descriptor):
            // NIO re-listens with a backlog of 128 when adopting: restore the socket's own (systemd's Backlog=),
            // read before adoption, or the configured deep queue when it cannot be read.
            let backlog = AdoptedSocket.backlog(of: descriptor) ?? self.configuration.listenBacklog
            let channel = try await bootstrap.withBoundSocket(descriptor).get()
            if Glibc.listen(descriptor, backlog) != 0 {
                self.logger.warning(
                    "could not restore the listen backlog of an adopted socket",
                    metadata: ["fd": "\(descriptor)", "errno": "\(errno)"]
                )
            }
            return channel
        }
    }

    private func makeBootstrap(pools: UpstreamPools) -> ServerBootstrap {
        let configuration = self.configuration
        let routing = self.routing
        let connections = self.connections
        let logger = self.logger
        return ServerBootstrap(group: self.group)
            .serverChannelOption(.backlog, value: configuration.listenBacklog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // One accept per readiness: a passed-in listening socket is shared with other processes, and one of
            // them may make it blocking (systemd does, for the sockets of a unit it starts, unless NonBlocking=yes:
            // after a clusterd crash, for the router that survived it). A second accept on an empty queue would
            // then block this event loop, and every connection on it, until the next client connects.
            .serverChannelOption(.maxMessagesPerRead, value: 1)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try Self.setUpConnection(
                        channel,
                        configuration: configuration,
                        routing: routing,
                        pools: pools,
                        connections: connections,
                        logger: logger
                    )
                }
            }
    }

    private static func setUpConnection(
        _ channel: any Channel,
        configuration: ProxyConfiguration,
        routing: any RequestRouting,
        pools: UpstreamPools,
        connections: ClientConnectionTracker,
        logger: Logger
    ) throws {
        let pipeline = channel.pipeline.syncOperations
        guard let pool = pools.pool(for: channel.eventLoop) else {
            try pipeline.addHandler(OverCapacityResponder(linger: nil))
            return
        }
        let draining: Bool
        switch connections.admit(channel) {
        case .admitted(let drainingNow):
            draining = drainingNow
        case .rejected(let linger):
            try pipeline.addHandler(OverCapacityResponder(linger: linger ? configuration.lingerTimeout : nil))
            return
        }
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = configuration.maxHeaderBytes
        limits.maxHeaderFieldSize = configuration.maxHeaderBytes
        var encoderConfiguration = HTTPResponseEncoder.Configuration()
        encoderConfiguration.automaticallySetFramingHeaders = false
        let headGuard = RequestHeadGuard(configuration: configuration)
        let decoder = ByteToMessageHandler(
            HTTPRequestDecoder(leftOverBytesStrategy: .forwardBytes, limitConfiguration: limits)
        )
        let encoder = HTTPResponseEncoder(configuration: encoderConfiguration)
        let handler = ClientConnectionHandler(
            environment: .init(
                configuration: configuration,
                routing: routing,
                pool: pool,
                headGuard: headGuard,
                requestDecoder: decoder,
                responseEncoder: encoder,
                clientAddress: channel.remoteAddress?.ipAddress ?? "unknown",
                logger: logger
            )
        )
        try pipeline.addHandlers([headGuard, decoder, encoder, handler])
        if draining {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }
}

/// What an adopted listening socket was set up with.
enum AdoptedSocket {
    /// The accept-queue length a TCP socket listens with (Linux reports it in `tcpi_sacked` of TCP_INFO for a
    /// listening socket); nil for other sockets.
    static func backlog(of descriptor: CInt) -> Int32? {
        var info = tcp_info()
        var length = socklen_t(MemoryLayout<tcp_info>.size)
        guard getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0,
            info.tcpi_state == 10  // TCP_LISTEN
        else { return nil }
        return Int32(clamping: info.tcpi_sacked)
    }
}
