import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP listener of demo-worker: adopts the socket-activation fd or binds its own,
/// serves ``RequestHandler`` on every connection, and drains gracefully on stop.
final class WorkerServer: Sendable {
    /// Where the listening socket comes from.
    enum Listener: Sendable {
        /// An already bound and listening fd (socket activation).
        case inherited(descriptor: CInt)
        /// Bind and listen ourselves.
        case bind(host: String, port: Int)

        /// How the start line names it.
        var mode: String {
            switch self {
            case .inherited: "listen-fds"
            case .bind: "bound"
            }
        }
    }

    /// Why the server could not start; printed as is.
    struct StartError: Error, CustomStringConvertible {
        var description: String
    }

    /// The shared state the connection handlers read, published once the port is known.
    ///
    /// The listener accepts nothing before it is set (auto-read is off until then), so every
    /// connection finds it.
    private final class PublishedContext: Sendable {
        let value = Mutex<WorkerContext?>(nil)
    }

    let listener: Listener
    let serverChannel: any Channel
    let connections: ConnectionTracker
    let context: WorkerContext

    private init(listener: Listener, serverChannel: any Channel, connections: ConnectionTracker, context: WorkerContext)
    {
        self.listener = listener
        self.serverChannel = serverChannel
        self.connections = connections
        self.context = context
    }

    /// The address served, as `host:port` (`[v6]:port` for IPv6).
    var addressDescription: String {
        guard let address = self.serverChannel.localAddress, let ip = address.ipAddress, let port = address.port else {
            return "\(self.serverChannel.localAddress.map { "\($0)" } ?? "?")"
        }
        if case .v6 = address { return "[\(ip)]:\(port)" }
        return "\(ip):\(port)"
    }

    /// Opens the listener and starts accepting. Connections queued in an inherited socket
    /// are accepted from here on.
    static func start(
        listener: Listener,
        group: MultiThreadedEventLoopGroup,
        sessions: SessionCounters,
        crashTrigger: CrashTrigger?
    ) throws(StartError) -> WorkerServer {
        let connections = ConnectionTracker()
        let published = PublishedContext()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: Int32(SocketActivation.backlog))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.autoRead, value: false)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let shared = published.value.withLock({ $0 }) else {
                        throw StartError(description: "connection accepted before the worker context was set")
                    }
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(RequestHandler(shared: shared))
                    connections.track(channel)
                }
            }

        let serverChannel: any Channel
        switch listener {
        case .inherited(let descriptor):
            if let problem = SocketActivation.problem(with: descriptor) {
                throw StartError(description: "cannot serve the passed socket: \(problem)")
            }
            do {
                serverChannel = try bootstrap.withBoundSocket(descriptor).wait()
            } catch {
                throw StartError(description: "cannot adopt listening fd \(descriptor): \(error)")
            }
            if let problem = SocketActivation.deepenBacklog(of: descriptor) {
                Console.error("demo-worker: warning: \(problem); keeping NIO's backlog of 128")
            }
        case .bind(let host, let port):
            do {
                serverChannel = try bootstrap.bind(host: host, port: port).wait()
            } catch {
                throw StartError(description: "cannot listen on \(host):\(port): \(error)")
            }
        }

        let identity = WorkerIdentity.fromEnvironment(port: serverChannel.localAddress?.port ?? 0)
        let context = WorkerContext(identity: identity, sessions: sessions, crashTrigger: crashTrigger)
        published.value.withLock { $0 = context }
        do {
            try serverChannel.setOption(.autoRead, value: true).wait()
        } catch {
            throw StartError(description: "cannot start accepting connections: \(error)")
        }
        return WorkerServer(
            listener: listener,
            serverChannel: serverChannel,
            connections: connections,
            context: context
        )
    }

    /// Stops accepting and lets every connection finish its in-flight request.
    ///
    /// Succeeds when all connections have closed, or after `deadline` with the stragglers
    /// closed by force; the value is the number closed by force.
    func stop(deadline: TimeAmount) -> EventLoopFuture<Int> {
        let eventLoop = self.serverChannel.eventLoop
        // Closing our copy of an inherited fd leaves connections still queued in the kernel to
        // whoever else holds the socket (systemd, clusterd) for the next worker.
        self.serverChannel.close(promise: nil)
        let finished = eventLoop.makePromise(of: Int.self)
        let connections = self.connections
        let timeout = eventLoop.scheduleTask(in: deadline) {
            let stragglers = connections.openConnections
            connections.closeAll()
            finished.succeed(stragglers)
        }
        connections.drain(on: eventLoop).whenComplete { _ in
            timeout.cancel()
            finished.succeed(0)
        }
        return finished.futureResult
    }
}
