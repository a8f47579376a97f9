import NIOCore
import NIOHTTP1

/// One keep-alive HTTP/1.1 connection to a worker: the last handler of its channel.
///
/// Either idle in its event loop's ``UpstreamConnectionPool`` or attached to one ``ClientConnectionHandler`` for the
/// span of one exchange; it forwards what the worker sends to that client handler and stops reading while the client
/// cannot take more (backpressure). Everything happens on the channel's event loop, which is the client's.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// The worker's port (set by the pool once connected).
    var port = 0
    /// The HTTP handlers before this one, removed when the connection becomes a tunnel.
    let encoder: HTTPRequestEncoder
    let decoder: ByteToMessageHandler<HTTPResponseDecoder>
    /// Set by the pool once connected.
    var pool: UpstreamConnectionPool?
    /// When it was put back into the pool (for the idle timeout).
    var idleSince = NIODeadline.uptimeNanoseconds(0)
    /// Whether it sits in the pool now.
    var isPooled = false
    /// How many exchanges it has carried (0 for a fresh connection).
    private(set) var exchanges = 0

    private var context: ChannelHandlerContext?
    private var client: ClientConnectionHandler?
    private var readPending = false
    private var closed = false

    init(encoder: HTTPRequestEncoder, decoder: ByteToMessageHandler<HTTPResponseDecoder>) {
        self.encoder = encoder
        self.decoder = decoder
    }

    /// Open and not closing.
    var isUsable: Bool { !self.closed && (self.context?.channel.isActive ?? false) }

    var isWritable: Bool { self.context?.channel.isWritable ?? false }

    var channel: (any Channel)? { self.context?.channel }

    /// Hands the connection to `client` for one exchange.
    func attach(_ client: ClientConnectionHandler) {
        self.client = client
        self.exchanges += 1
    }

    /// Ends the exchange; the connection no longer reports to anyone.
    func detach() {
        self.client = nil
    }

    func write(_ part: HTTPClientRequestPart) {
        self.context?.write(Self.wrapOutboundOut(part), promise: nil)
    }

    func flush() {
        self.context?.flush()
    }

    /// Closes the connection (after detaching: nobody hears of it).
    func close() {
        guard !self.closed else { return }
        self.closed = true
        self.client = nil
        self.context?.close(promise: nil)
    }

    /// The client can take more: read again if a read was held back.
    func resumeReading() {
        if self.readPending, let context = self.context {
            self.readPending = false
            context.read()
        }
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let client = self.client else {
            // Nothing was asked: a worker talking out of turn on an idle connection cannot be trusted with the next.
            self.close()
            return
        }
        client.upstreamReceived(Self.unwrapInboundIn(data), from: self)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        self.client?.upstreamReadComplete(from: self)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        self.client?.upstreamWritabilityChanged(from: self)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.closed = true
        if let client = self.client {
            self.client = nil
            client.upstreamClosed(self)
        }
        if self.isPooled {
            self.pool?.remove(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Reset, broken pipe, or a malformed response: the connection is done; channelInactive reports it.
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func read(context: ChannelHandlerContext) {
        if let client = self.client, !client.canTakeResponseBytes {
            self.readPending = true
        } else {
            context.read()
        }
    }
}
