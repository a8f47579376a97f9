import ClusterControl
import Glibc
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// Serves the control channel (docs/control-protocol.md) on a Unix stream socket: peers checked with
/// SO_PEERCRED, one JSON request per line, each answered by a ``ControlSession``.
///
/// Put it before the supervisor in a ServiceGroup: graceful shutdown runs in reverse order, so the channel
/// keeps answering (status, a router's activity) while the supervisor drains its workers.
public struct ControlServer: Service {
    public static let connectionLimit = 256
    /// A refused connection stays open until the client's first line, EOF or ``refusalLinger``, so that the
    /// client's hello does not fail with EPIPE before it reads why; at most this many such at a time.
    static let lingeringRefusalLimit = 64
    static let refusalLinger = Duration.seconds(10)

    let path: String
    /// The listening socket: from systemd, or made by ``ControlSocketFile/open(_:groupName:)``.
    let socket: Int32
    /// clusterd made the socket file (else systemd did): it is removed when clusterd stops for good.
    let ownsFile: Bool
    let supervisor: Supervisor
    let access: ControlAccess
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup

    public init(
        path: String,
        socket: Int32,
        ownsFile: Bool,
        supervisor: Supervisor,
        controlGroup: String?,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.path = path
        self.socket = socket
        self.ownsFile = ownsFile
        self.supervisor = supervisor
        self.access = ControlAccess(groupName: controlGroup)
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    public func run() async throws {
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(.backlog, value: 256)
            // A client may send its requests and shut its side down (printf … | socat): it still gets its replies.
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ControlLine, ByteBuffer>> = {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlLineDecoder()))
                return try NIOAsyncChannel<ControlLine, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
        let server = try await bootstrap.bind(socket, childChannelInitializer: initializer)
        // NIO re-listens with 128 when adopting; systemd's default Backlog= is SOMAXCONN.
        listen(socket, SOMAXCONN)
        // Removed on a real stop only: an upgrade's exec skips this, and the next image serves the same socket.
        defer { if ownsFile { unlink(path) } }
        logger.info(
            "control channel listening",
            metadata: ["socket": "\(path)", "from": "\(ownsFile ? "config" : "systemd")"]
        )
        await supervisor.controlChannelListening()

        let open = ConnectionCount()
        let lingering = ConnectionCount()
        var accepted = 0
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { sessions in
                try await server.executeThenClose { connections in
                    for try await connection in connections {
                        let count = open.value.add(1, ordering: .relaxed).newValue
                        accepted += 1
                        let reporter = accepted
                        sessions.addTask {
                            await admit(
                                connection,
                                counted: open,
                                over: count > Self.connectionLimit,
                                lingering: lingering,
                                reporter: reporter
                            )
                        }
                    }
                }
                sessions.cancelAll()
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
    }

    /// Serves the connection, or refuses it. It holds a place in `open` until it ends, except a refused one,
    /// which gives its place back before it lingers: refused peers never crowd out the ones allowed in.
    private func admit(
        _ connection: NIOAsyncChannel<ControlLine, ByteBuffer>,
        counted open: ConnectionCount,
        over limit: Bool,
        lingering: ConnectionCount,
        reporter: Int
    ) async {
        var holdsPlace = true
        defer { if holdsPlace { open.value.subtract(1, ordering: .relaxed) } }
        let peer =
            try? await (connection.channel as? any SocketOptionProvider)?
            .unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
            .get() as PeerCredentials?
        var refusal: ControlError?
        if limit {
            refusal = ControlError(
                .tooManyConnections,
                "more than \(Self.connectionLimit) control connections are open"
            )
        } else if let peer {
            refusal = access.refusal(for: peer).map { ControlError(.permissionDenied, $0) }
        } else {
            refusal = ControlError(.permissionDenied, "cannot read the peer's credentials (SO_PEERCRED)")
        }
        if peer == nil, !connection.channel.isActive {
            logger.debug("control connection closed before it could be checked")
            return
        }
        if let refusal {
            logger.warning(
                "control connection refused",
                metadata: [
                    "uid": "\(peer.map { "\($0.uid)" } ?? "?")", "pid": "\(peer.map { "\($0.pid)" } ?? "?")",
                    "reason": "\(refusal.message)",
                ]
            )
            holdsPlace = false
            open.value.subtract(1, ordering: .relaxed)
            let linger = lingering.value.add(1, ordering: .relaxed).newValue <= Self.lingeringRefusalLimit
            defer { lingering.value.subtract(1, ordering: .relaxed) }
            try? await connection.executeThenClose { inbound, outbound in
                try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: nil, error: refusal)))
                // Closing at once races the client's hello: sent after the close it fails with EPIPE, and a
                // client that stops at a failed send never reads the reason. So wait for that first line (or
                // EOF) before closing, briefly, and only for a bounded number of refused peers at a time.
                guard linger else { return }
                try await withThrowingTaskGroup { group in
                    group.addTask {
                        var lines = inbound.makeAsyncIterator()
                        _ = try await lines.next()
                    }
                    group.addTask { try await Task.sleep(for: Self.refusalLinger) }
                    try await group.next()
                    group.cancelAll()
                }
            }
            return
        }
        var sessionLogger = logger
        sessionLogger[metadataKey: "peer_uid"] = "\(peer!.uid)"
        sessionLogger[metadataKey: "peer_pid"] = "\(peer!.pid)"
        await ControlSession(supervisor: supervisor, logger: sessionLogger, reporter: reporter).run(connection)
    }
}

private final class ConnectionCount: Sendable {
    let value = Atomic<Int>(0)
}
