import NIOCore

/// The only handler of a connection beyond ``ProxyConfiguration/maxClientConnections``: writes a `503` and closes.
///
/// With a `linger` time it first shuts its output and reads and drops what the client still sends, until the client
/// closes or the time is up. Closing with the request unread would send a reset, and a client still sending its
/// request would see "connection reset" instead of the 503.
final class OverCapacityResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let linger: Duration?
    private var answered = false
    private var lingerTimer: Scheduled<Void>?

    init(linger: Duration?) {
        self.linger = linger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.answer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.answer(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the client sent is dropped.
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client closed first: the timer need not keep the channel alive.
        self.lingerTimer?.cancel()
        self.lingerTimer = nil
        context.fireChannelInactive()
    }

    private func answer(context: ChannelHandlerContext) {
        guard !self.answered else { return }
        self.answered = true
        let bytes = LocalResponse.overCapacityBytes(allocator: context.channel.allocator)
        let loopBound = context.loopBound
        context.writeAndFlush(NIOAny(bytes)).assumeIsolated().whenComplete { result in
            let context = loopBound.value
            guard let linger = self.linger, case .success = result, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            // The client's EOF closes the channel (remote half-closure is off); the timer ends a client that
            // keeps sending.
            context.close(mode: .output, promise: nil)
            guard context.channel.isActive else { return }
            self.lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(linger)) {
                loopBound.value.close(promise: nil)
            }
        }
    }
}
