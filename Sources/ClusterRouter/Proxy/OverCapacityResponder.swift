import NIOCore

/// The only handler of a connection beyond ``ProxyConfiguration/maxClientConnections``: writes a `503` and closes.
final class OverCapacityResponder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private var answered = false

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { self.answer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        self.answer(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // Whatever the client sent is not read.
    }

    private func answer(context: ChannelHandlerContext) {
        guard !self.answered else { return }
        self.answered = true
        let bytes = LocalResponse.overCapacityBytes(allocator: context.channel.allocator)
        let loopBound = context.loopBound
        context.writeAndFlush(NIOAny(bytes)).whenComplete { _ in
            loopBound.value.close(promise: nil)
        }
    }
}
