import NIOCore

/// Relays raw bytes between a client and a worker after a `101 Switching Protocols`: NIO's glue-handler pattern.
///
/// One ``TunnelHandler`` sits at the end of each channel; each writes what it reads into its partner's channel and
/// reads only while the partner's channel is writable, so neither side can make the proxy buffer without bound.
/// When either side closes, the other is closed and the tunnel's `onClose` runs once.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Runs its action once, when the first side of the tunnel closes.
    final class Lifetime {
        private var onClose: (() -> Void)?

        init(onClose: @escaping () -> Void) {
            self.onClose = onClose
        }

        func ended() {
            let action = self.onClose
            self.onClose = nil
            action?()
        }
    }

    private let lifetime: Lifetime
    private var partner: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var needsFlush = false

    private init(lifetime: Lifetime) {
        self.lifetime = lifetime
    }

    /// Two handlers wired to each other: one for the client channel, one for the worker channel.
    static func pair(lifetime: Lifetime) -> (TunnelHandler, TunnelHandler) {
        let first = TunnelHandler(lifetime: lifetime)
        let second = TunnelHandler(lifetime: lifetime)
        first.partner = second
        second.partner = first
        return (first, second)
    }

    // MARK: Called by the partner

    private func partnerWrite(_ data: NIOAny) {
        self.context?.write(data, promise: nil)
        self.needsFlush = true
    }

    private func partnerFlush() {
        if self.needsFlush {
            self.needsFlush = false
            self.context?.flush()
        }
    }

    private func partnerClosed() {
        self.partner = nil
        self.context?.close(promise: nil)
    }

    private func partnerBecameWritable() {
        if self.readPending, let context = self.context {
            self.readPending = false
            context.read()
        }
    }

    private var isWritable: Bool { self.context?.channel.isWritable ?? false }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        self.partner = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.partner?.partnerWrite(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.partner?.partnerFlush()
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.lifetime.ended()
        let partner = self.partner
        self.partner = nil
        partner?.partnerFlush()
        partner?.partnerClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.partner?.partnerBecameWritable()
        }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if let partner = self.partner, !partner.isWritable {
            self.readPending = true
        } else {
            context.read()
        }
    }
}
