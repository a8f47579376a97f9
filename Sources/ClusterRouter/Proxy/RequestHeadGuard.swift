import NIOCore

/// Watches the raw bytes of request heads, before the HTTP decoder: caps their size and times them.
///
/// While a head is awaited it counts bytes (a head over ``ProxyConfiguration/maxHeaderBytes`` would otherwise sit in
/// the decoder's buffer unbounded) and runs one timer: the keep-alive timeout until the first byte, then the head
/// timeout. The ``ClientConnectionHandler`` tells it when a head was decoded and when the next may start, and hears
/// about violations as inbound ``Violation`` events.
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// What the guard reports, as a user inbound event.
    enum Violation {
        /// The head grew past the byte limit.
        case headTooLarge
        /// Head bytes arrived but the head did not complete in time.
        case headTimedOut
        /// No byte of a next request arrived within the keep-alive timeout.
        case idleTimedOut
    }

    private enum Phase {
        /// Waiting for a request head; `bytes` seen so far.
        case awaitingHead(bytes: Int)
        /// A request is being handled: bytes are its body or a pipelined next request.
        case inRequest
        /// A violation was reported, or the guard was removed.
        case stopped
    }

    private let maxHeaderBytes: Int
    private let headTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private var phase = Phase.awaitingHead(bytes: 0)
    private var headsReceived = 0
    /// The head timeout runs (rather than the keep-alive timeout): from a connection's start, or its first byte.
    private var headTimerRunning = true
    private var timer: ConnectionTimer?
    private var context: ChannelHandlerContext?

    init(configuration: ProxyConfiguration) {
        self.maxHeaderBytes = configuration.maxHeaderBytes
        self.headTimeout = TimeAmount(configuration.requestHeadTimeout)
        self.idleTimeout = TimeAmount(configuration.keepAliveTimeout)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.timer = ConnectionTimer(eventLoop: context.eventLoop) { [weak self] in self?.timerExpired() }
        // A new connection gets the head timeout from the start: connecting and sending nothing is slowloris too.
        self.timer?.expire(in: self.headTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.phase = .stopped
        self.timer?.cancel()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.phase = .stopped
        self.timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .awaitingHead(let before) = self.phase else {
            context.fireChannelRead(data)
            return
        }
        let count = Self.unwrapInboundIn(data).readableBytes
        if before == 0 && count > 0 && !self.headTimerRunning {
            self.headTimerRunning = true
            self.timer?.expire(in: self.headTimeout)
        }
        self.phase = .awaitingHead(bytes: before + count)
        let headsBefore = self.headsReceived
        context.fireChannelRead(data)
        // A head decoded from this buffer resets the count; what else the buffer held is not counted (at most one
        // read's worth of slack, and the decoder caps the header fields themselves at the same limit).
        if self.headsReceived == headsBefore, case .awaitingHead(let bytes) = self.phase, bytes > self.maxHeaderBytes {
            self.report(.headTooLarge)
        }
    }

    /// The decoder produced a request head: stop counting and timing.
    func headReceived() {
        self.headsReceived &+= 1
        guard case .awaitingHead = self.phase else { return }
        self.phase = .inRequest
        self.timer?.disarm()
    }

    /// The exchange is over; the next request head may come, within the keep-alive timeout.
    func awaitNextHead() {
        guard case .inRequest = self.phase else { return }
        self.phase = .awaitingHead(bytes: 0)
        self.headTimerRunning = false
        self.timer?.expire(in: self.idleTimeout)
    }

    private func timerExpired() {
        guard case .awaitingHead(let bytes) = self.phase else { return }
        self.report(bytes == 0 ? .idleTimedOut : .headTimedOut)
    }

    private func report(_ violation: Violation) {
        self.phase = .stopped
        self.timer?.cancel()
        self.context?.fireUserInboundEventTriggered(violation)
    }
}
