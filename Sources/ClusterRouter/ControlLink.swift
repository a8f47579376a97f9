import ClusterControl
import ClusterCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The router's connection to clusterd's control channel, like any other router's: hello, subscribe, keep
/// the routing's table from the snapshot and events, send `activate` and `activity`. When the connection
/// drops, the router keeps serving the workers it knows and reconnects with backoff, then resynchronizes
/// from the new snapshot. Runs until cancelled (not on graceful shutdown: a draining router still reports).
public final class ControlLink: Sendable {
    let socketPath: String
    let routing: ClusterRouting
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    private let current = NIOLockedValueBox<(channel: any Channel, handler: NIOLoopBound<ControlClientHandler>)?>(nil)

    public init(
        socketPath: String,
        routing: ClusterRouting,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.socketPath = socketPath
        self.routing = routing
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    public func run() async {
        var backoff = ReconnectBackoff()
        while !Task.isCancelled {
            let connected = ContinuousClock.now
            var failure: (any Error)?
            do {
                try await session()
            } catch {
                failure = error
            }
            // Only a connection that was made and then lasted starts the backoff over; a failed one never does.
            let wait = backoff.ended(after: failure == nil ? ContinuousClock.now - connected : .zero)
            if let failure {
                logger.warning(
                    "control channel unavailable; serving known workers, retrying",
                    metadata: [
                        "socket": "\(socketPath)", "error": "\(failure)", "retry_in": "\(wait.formattedForHumans)",
                    ]
                )
            }
            routing.controlChannelLost()
            guard (try? await Task.sleep(for: wait)) != nil else { break }
        }
    }

    /// One connection, until it closes (or graceful shutdown closes it).
    private func session() async throws {
        let routing = self.routing
        let logger = self.logger
        let current = self.current
        defer { current.withLockedValue { $0 = nil } }
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ControlClientHandler(routing: routing, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(ControlLineDecoder(maximumLength: ControlCodec.maximumReplyLineLength))
                    )
                    try channel.pipeline.syncOperations.addHandler(handler)
                    // Known before `hello` goes out: the subscription's answer may ask for activations at once.
                    current.withLockedValue { $0 = (channel, NIOLoopBound(handler, eventLoop: channel.eventLoop)) }
                }
            }
            .connect(unixDomainSocketPath: socketPath)
            .get()
        try await withTaskCancellationHandler {
            try await channel.closeFuture.get()
        } onCancel: {
            channel.close(promise: nil)
        }
    }

    /// Asks clusterd for a worker of `tenant`; dropped when disconnected (asked again after resynchronizing).
    func activate(tenant: String, additional: Bool) {
        guard let (channel, handler) = current.withLockedValue({ $0 }) else { return }
        channel.eventLoop.execute { handler.value.activate(tenant: tenant, additional: additional) }
    }

    /// Sends in-flight counts of workers with traffic.
    func report(_ activity: [WorkerActivity]) {
        guard !activity.isEmpty, let (channel, handler) = current.withLockedValue({ $0 }) else { return }
        channel.eventLoop.execute { handler.value.report(activity) }
    }
}

/// The router's conversation on one connection (event-loop confined): subscribed, it feeds the routing, and
/// sends its `activate` and `activity` requests.
final class ControlClientHandler: ChannelInboundHandler {
    typealias InboundIn = ControlLine
    typealias OutboundOut = ByteBuffer

    private let routing: ClusterRouting
    private let logger: Logger
    private var conversation = ControlConversation(client: .router, subscribes: true)
    private var activations: [RequestID: String] = [:]
    private var context: ChannelHandlerContext?

    init(routing: ClusterRouting, logger: Logger) {
        self.routing = routing
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        send(conversation.hello())
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .line(let buffer) = unwrapInboundIn(data) else {
            logger.error("a line on the control channel is too long; reconnecting")
            context.close(promise: nil)
            return
        }
        switch conversation.received(buffer.readableBytesView) {
        case .greeted(_, let subscribe):
            if let subscribe { send(subscribe) }
        case .subscribed(let snapshot):
            routing.resynchronize(snapshot)
            logger.info(
                "control channel connected",
                metadata: ["tenants": "\(snapshot.tenants.count)", "workers": "\(snapshot.workersTotal)"]
            )
        case .event(let event) where event.event == .overflow:
            logger.warning(
                "control channel dropped this router as too slow; resubscribing",
                metadata: ["reason": "\(event.reason ?? "")"]
            )
            context.close(promise: nil)
        case .event(let event):
            routing.apply(event)
        case .reply(let id?, let result):
            guard let tenant = activations.removeValue(forKey: id) else { return }  // activity acknowledgements
            routing.activationAnswered(
                tenant: tenant,
                result.flatMap { value in
                    Result { try value.decode(as: ActivateReply.self).workers }
                        .mapError { _ in ControlError(.internalError, "unreadable activate reply") }
                }
            )
        case .reply(nil, .failure(let error)), .refused(let error):
            logger.error(
                "control channel refused this router",
                metadata: ["code": "\(error.code)", "error": "\(error.message)"]
            )
            context.close(promise: nil)
        case .unreadable(let reason):
            logger.error("unreadable line on the control channel; reconnecting", metadata: ["error": "\(reason)"])
            context.close(promise: nil)
        case .reply(nil, .success), .nothing:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Activations in flight are lost with the connection; the routing asks again after resynchronizing.
        activations.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("control channel error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func activate(tenant: String, additional: Bool) {
        guard conversation.phase == .ready else { return }
        let (id, line) = conversation.request(.activate(tenant: tenant, additional: additional))
        activations[id] = tenant
        send(line)
    }

    func report(_ activity: [WorkerActivity]) {
        guard conversation.phase == .ready else { return }
        send(conversation.request(.activity(activity)).line)
    }

    private func send(_ line: [UInt8]) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: line)), promise: nil)
    }
}
