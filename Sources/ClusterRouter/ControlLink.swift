import ClusterControl
import ClusterCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The router's connection to clusterd's control channel, like any other router's: hello, subscribe, keep
/// the dispatcher's table from the snapshot and events, send `activate` and `activity`. When the connection
/// drops, the router keeps serving the workers it knows and reconnects with backoff, then resynchronizes
/// from the new snapshot. Runs until cancelled (not on graceful shutdown: a draining router still reports).
public final class ControlLink: Sendable {
    let socketPath: String
    let dispatcher: Dispatcher
    let logger: Logger
    let eventLoopGroup: any EventLoopGroup
    private let current = NIOLockedValueBox<(channel: any Channel, handler: NIOLoopBound<ControlClientHandler>)?>(nil)

    public init(
        socketPath: String,
        dispatcher: Dispatcher,
        logger: Logger,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.socketPath = socketPath
        self.dispatcher = dispatcher
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
    }

    public func run() async {
        var backoff: Duration = .milliseconds(100)
        while !Task.isCancelled {
            do {
                let connected = ContinuousClock.now
                try await session()
                if ContinuousClock.now - connected > .seconds(5) { backoff = .milliseconds(100) }
            } catch {
                logger.warning(
                    "control channel unavailable; serving known workers, retrying",
                    metadata: [
                        "socket": "\(socketPath)", "error": "\(error)", "retry_in": "\(backoff.formattedForHumans)",
                    ]
                )
            }
            dispatcher.controlChannelLost()
            guard (try? await Task.sleep(for: backoff)) != nil else { break }
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    /// One connection, until it closes (or graceful shutdown closes it).
    private func session() async throws {
        let dispatcher = self.dispatcher
        let logger = self.logger
        let current = self.current
        defer { current.withLockedValue { $0 = nil } }
        let channel = try await ClientBootstrap(group: eventLoopGroup)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = ControlClientHandler(dispatcher: dispatcher, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlLineDecoder(maximumLength: ControlCodec.maximumReplyLineLength)))
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

/// The protocol conversation on one connection (event-loop confined).
final class ControlClientHandler: ChannelInboundHandler {
    typealias InboundIn = ControlLine
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case greeting
        case subscribing
        case live
    }

    private let dispatcher: Dispatcher
    private let logger: Logger
    private var phase = Phase.greeting
    private var nextID = 3
    private var activations: [RequestID: String] = [:]
    private var context: ChannelHandlerContext?

    init(dispatcher: Dispatcher, logger: Logger) {
        self.dispatcher = dispatcher
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        send(
            ControlRequestLine.encode(
                id: .number(1),
                op: "hello",
                [
                    "versions": .array(ControlCodec.supportedVersions.map { .number(Double($0)) }),
                    "client": .string("clusterd-router"),
                ]
            )
        )
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .line(let buffer) = unwrapInboundIn(data), let line = IncomingLine(buffer.readableBytesView) else {
            logger.error("unreadable line on the control channel; reconnecting")
            context.close(promise: nil)
            return
        }
        switch (phase, line) {
        case (.greeting, .reply(.number(1), .success)):
            phase = .subscribing
            send(ControlRequestLine.encode(id: .number(2), op: "subscribe"))
        case (.subscribing, .reply(.number(2), .success(let value))):
            do {
                let reply = try value.decode(as: SubscribeReply.self)
                phase = .live
                dispatcher.resynchronize(reply.snapshot)
                logger.info(
                    "control channel connected",
                    metadata: [
                        "tenants": "\(reply.snapshot.tenants.count)", "workers": "\(reply.snapshot.workersTotal)",
                    ]
                )
            } catch {
                logger.error("unreadable snapshot; reconnecting", metadata: ["error": "\(error)"])
                context.close(promise: nil)
            }
        case (.live, .event(let event)):
            if event.event == .overflow {
                logger.warning(
                    "control channel dropped this router as too slow; resubscribing",
                    metadata: ["reason": "\(event.reason ?? "")"]
                )
                context.close(promise: nil)
            } else {
                dispatcher.apply(event)
            }
        case (.live, .reply(let id?, let result)):
            guard let tenant = activations.removeValue(forKey: id) else { return }  // activity acknowledgements
            dispatcher.activationAnswered(
                tenant: tenant,
                result.flatMap { value in
                    Result { try value.decode(as: ActivateReply.self).workers }
                        .mapError { _ in ControlError(.internalError, "unreadable activate reply") }
                }
            )
        case (_, .reply(_, .failure(let error))):
            logger.error(
                "control channel refused this router",
                metadata: ["code": "\(error.code)", "error": "\(error.message)"]
            )
            context.close(promise: nil)
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Activations in flight are lost with the connection; the dispatcher asks again after resynchronizing.
        activations.removeAll()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.warning("control channel error", metadata: ["error": "\(error)"])
        context.close(promise: nil)
    }

    func activate(tenant: String, additional: Bool) {
        guard phase == .live else { return }
        let id = RequestID.number(nextID)
        nextID += 1
        activations[id] = tenant
        send(
            ControlRequestLine.encode(
                id: id,
                op: "activate",
                ["tenant": .string(tenant), "additional": .bool(additional)]
            )
        )
    }

    func report(_ activity: [WorkerActivity]) {
        guard phase == .live else { return }
        let workers = activity.map {
            JSONValue.object(["worker": .string($0.worker), "in_flight": .number(Double($0.inFlight))])
        }
        send(ControlRequestLine.encode(id: .number(nextID), op: "activity", ["workers": .array(workers)]))
        nextID += 1
    }

    private func send(_ line: [UInt8]) {
        guard let context else { return }
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: line)), promise: nil)
    }
}
