import NIOCore

/// The only handler of a connection beyond ``ProxyConfiguration/maxClientConnections``: writes a `503` and closes.
///
/// With a `linger` time it closes as ``ChannelHandlerContext/shutOutputAndLinger(for:)`` says, so that a client
/// still sending its request reads the 503 rather than a reset.
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
            self.lingerTimer = context.shutOutputAndLinger(for: TimeAmount(linger))
        }
    }
}
