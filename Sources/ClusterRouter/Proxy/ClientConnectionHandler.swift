import Logging
import NIOCore
import NIOHTTP1

/// Serves one client connection: validates each request, routes it through the ``RequestRouting``, forwards it
/// to a worker over a pooled connection of the same event loop, and streams the response back.
///
/// One request at a time: parts of a pipelined next request that the decoder already produced wait in
/// `pendingInput`, and the socket is not read meanwhile. Reading stops too while a request waits for routing or for
/// a worker connection, and while the worker cannot take more body (backpressure); the worker's connection stops
/// reading while this client cannot take more response.
final class ClientConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// What a connection is given by the server.
    struct Environment {
        let configuration: ProxyConfiguration
        let routing: any RequestRouting
        let pool: UpstreamConnectionPool
        let headGuard: RequestHeadGuard
        let requestDecoder: ByteToMessageHandler<HTTPRequestDecoder>
        let responseEncoder: HTTPResponseEncoder
        /// For `X-Forwarded-For`.
        let clientAddress: String
        let logger: Logger
    }

    enum State {
        /// Between requests.
        case awaitingHead
        /// The routing has the request.
        case routing
        /// A worker is chosen; its connection is being opened.
        case connecting
        /// The request goes to the worker (body still streaming, or waiting for the response).
        case forwarding
        /// The proxy answered; the rest of the request body is read and dropped.
        case respondingLocally
        /// A 101 went out; the HTTP handlers are being replaced by a tunnel.
        case tunnelling
        /// Closing or closed: input is dropped.
        case closing
    }

    /// Decoded input not handled yet, in order.
    enum PendingInput {
        case part(HTTPServerRequestPart)
        case parseError(HTTPParserError)
    }

    let environment: Environment
    var context: ChannelHandlerContext?
    var state = State.awaitingHead
    var exchange: ProxyExchange?
    var pendingInput = CircularBuffer<PendingInput>(initialCapacity: 0)
    var nextExchangeID: UInt64 = 0
    /// A `read()` was held back.
    var readPending = false
    /// The server is stopping: close after the current response.
    var quiescing = false
    /// Body written to the worker since the last flush.
    var upstreamNeedsFlush = false
    /// Response bytes written to the client since the last flush.
    var clientNeedsFlush = false
    /// Closing after an early answer: keep reading (and dropping) for a while so the client sees the answer.
    var lingering = false
    var lingerTimer: Scheduled<Void>?
    private var drainingInput = false
    /// The body read timeout.
    var bodyTimer: ConnectionTimer?
    /// The worker's time to begin its response.
    var responseTimer: ConnectionTimer?

    init(environment: Environment) {
        self.environment = environment
    }

    var configuration: ProxyConfiguration { self.environment.configuration }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.bodyTimer = ConnectionTimer(eventLoop: context.eventLoop) { [weak self] in self?.bodyReadTimedOut() }
        self.responseTimer = ConnectionTimer(eventLoop: context.eventLoop) { [weak self] in
            self?.upstreamResponseTimedOut()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.bodyTimer?.cancel()
        self.responseTimer?.cancel()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        self.enqueueOrHandle(.part(Self.unwrapInboundIn(data)))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.upstreamNeedsFlush {
            self.upstreamNeedsFlush = false
            self.exchange?.upstream?.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            self.exchange?.upstream?.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        self.state = .closing
        self.bodyTimer?.cancel()
        self.responseTimer?.cancel()
        self.lingerTimer?.cancel()
        self.pendingInput.removeAll()
        if var exchange = self.exchange {
            if let ticket = exchange.ticket {
                exchange.ticket = nil
                self.environment.routing.cancel(ticket)
            }
            self.exchange = exchange
            self.abortUpstream()
            self.finishTarget()
            self.exchange = nil
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parseError = error as? HTTPParserError {
            self.enqueueOrHandle(.parseError(parseError))
        } else if error is ByteToMessageDecoderError {
            // Bytes after a parse error: the connection is already being answered and closed.
        } else {
            self.environment.logger.debug("client connection failed", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let violation as RequestHeadGuard.Violation:
            self.headGuardReported(violation)
        case is ChannelShouldQuiesceEvent:
            self.quiesce()
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func read(context: ChannelHandlerContext) {
        if self.wantsClientInput {
            if self.isReadingBody {
                self.bodyTimer?.expire(in: TimeAmount(self.configuration.bodyReadTimeout))
            }
            context.read()
        } else {
            self.readPending = true
            self.bodyTimer?.disarm()
        }
    }

    // MARK: Input

    /// Whether more bytes from the client are wanted now.
    var wantsClientInput: Bool {
        guard self.pendingInput.isEmpty else { return false }
        switch self.state {
        case .awaitingHead:
            return true
        case .forwarding:
            guard let exchange = self.exchange else { return false }
            if exchange.requestEnded { return self.mayReadAhead(exchange) }
            return exchange.upstream?.isWritable ?? false
        case .routing, .connecting:
            return self.exchange.map { $0.requestEnded && self.mayReadAhead($0) } ?? false
        case .respondingLocally:
            return !(self.exchange?.requestEnded ?? true)
        case .closing:
            return self.lingering
        case .tunnelling:
            return false
        }
    }

    /// Whether the socket may stay readable while a whole request waits for its response: what can come then is a
    /// pipelined next request (decoded into `pendingInput`, which stops reading again: one read's worth at most) or
    /// the end of the connection. Keeping the read registered saves two `epoll_ctl` calls per keep-alive request
    /// (one to stop reading when the request ends, one to resume after the response). Not after an upgrade request
    /// (the bytes after it belong to the tunnel) nor when the connection closes after this response anyway.
    private func mayReadAhead(_ exchange: ProxyExchange) -> Bool {
        !exchange.inspected.isUpgrade && !exchange.closeAfter
    }

    /// A request body is being read from the client (the body timeout applies).
    private var isReadingBody: Bool {
        switch self.state {
        case .forwarding, .respondingLocally: !(self.exchange?.requestEnded ?? true)
        default: false
        }
    }

    /// Issues a held-back read when input is wanted again.
    func resumeReadingIfWanted() {
        guard self.readPending, self.wantsClientInput, let context = self.context else { return }
        self.readPending = false
        if self.isReadingBody {
            self.bodyTimer?.expire(in: TimeAmount(self.configuration.bodyReadTimeout))
        }
        context.read()
    }

    private func canHandleNow(_ input: PendingInput) -> Bool {
        switch input {
        case .part(.head):
            return self.state == .awaitingHead
        case .part(.body), .part(.end), .parseError:
            switch self.state {
            case .awaitingHead: return true
            case .forwarding, .respondingLocally: return !(self.exchange?.requestEnded ?? true)
            default: return false
            }
        }
    }

    private func enqueueOrHandle(_ input: PendingInput) {
        if self.state == .closing { return }
        if self.pendingInput.isEmpty && self.canHandleNow(input) {
            self.handle(input)
        } else {
            self.pendingInput.append(input)
        }
    }

    /// Handles queued input for as long as the state allows.
    func drainPendingInput() {
        guard !self.drainingInput else { return }
        self.drainingInput = true
        defer { self.drainingInput = false }
        while self.state != .closing, let next = self.pendingInput.first, self.canHandleNow(next) {
            self.pendingInput.removeFirst()
            self.handle(next)
        }
        if self.state == .closing { self.pendingInput.removeAll() }
    }

    private func handle(_ input: PendingInput) {
        switch input {
        case .part(.head(let head)): self.requestHeadReceived(head)
        case .part(.body(let buffer)): self.requestBodyReceived(buffer)
        case .part(.end(let trailers)): self.requestEndReceived(trailers)
        case .parseError(let error): self.requestMalformed(error)
        }
    }

    // MARK: Request

    private func requestHeadReceived(_ head: HTTPRequestHead) {
        self.environment.headGuard.headReceived()
        self.nextExchangeID &+= 1
        switch RequestHeadInspector.inspect(head, maxBodyBytes: self.configuration.maxBodyBytes) {
        case .failure(let rejection):
            let inspected = InspectedRequest(
                host: "",
                routeCookie: nil,
                framing: .none,
                expectsContinue: false,
                isUpgrade: false
            )
            self.exchange = ProxyExchange(
                id: self.nextExchangeID,
                request: head,
                inspected: inspected,
                closeAfter: true
            )
            self.respondLocally(LocalResponse(rejection), forceClose: true)
        case .success(let inspected):
            self.exchange = ProxyExchange(
                id: self.nextExchangeID,
                request: head,
                inspected: inspected,
                // After an upgrade request the decoder parses no more HTTP: unless the worker switches protocols,
                // the connection closes after the response.
                closeAfter: !head.isKeepAlive || self.quiescing || inspected.isUpgrade
            )
            self.state = .routing
            self.route()
        }
    }

    private func requestBodyReceived(_ buffer: ByteBuffer) {
        guard var exchange = self.exchange else { return }
        exchange.bodyBytes += buffer.readableBytes
        if exchange.bodyBytes > self.configuration.maxBodyBytes {
            self.exchange = exchange
            self.bodyTooLarge()
            return
        }
        if self.state == .forwarding, let upstream = exchange.upstream {
            upstream.write(.body(.byteBuffer(buffer)))
            exchange.remember(buffer)
            self.upstreamNeedsFlush = true
        }
        self.exchange = exchange
        self.bodyTimer?.expire(in: TimeAmount(self.configuration.bodyReadTimeout))
    }

    private func requestEndReceived(_ trailers: HTTPHeaders?) {
        guard self.exchange != nil else { return }
        self.exchange!.requestEnded = true
        self.bodyTimer?.disarm()
        if self.state == .forwarding, let upstream = self.exchange!.upstream {
            self.exchange!.endForwarded = true
            self.upstreamNeedsFlush = false
            if !self.exchange!.responseHeadReceived { self.armResponseTimer() }
            upstream.write(.end(trailers))
            // A failing flush closes the worker connection at once, which may end the exchange right here.
            upstream.flush()
        }
        if self.exchange?.responseEnded == true {
            self.exchangeCompleted()
        }
    }

    private func requestMalformed(_ error: HTTPParserError) {
        let response: LocalResponse
        if case .headerOverflow = error {
            response = LocalResponse(status: .requestHeaderFieldsTooLarge, reason: "request header fields too large")
        } else {
            response = LocalResponse(status: .badRequest, reason: "malformed request (\(error))")
        }
        if self.state == .awaitingHead {
            self.respondAndClose(response)
        } else {
            self.respondLocally(response, forceClose: true)
        }
    }

    private func bodyTooLarge() {
        let limit = self.configuration.maxBodyBytes
        self.respondLocally(
            LocalResponse(status: .payloadTooLarge, reason: "request body over the limit of \(limit) bytes"),
            forceClose: true
        )
    }

    private func bodyReadTimedOut() {
        guard self.isReadingBody else { return }
        self.respondLocally(
            LocalResponse(status: .requestTimeout, reason: "request body not received in time"),
            forceClose: true
        )
    }

    private func headGuardReported(_ violation: RequestHeadGuard.Violation) {
        guard self.state == .awaitingHead else { return }
        switch violation {
        case .headTooLarge:
            self.respondAndClose(
                LocalResponse(status: .requestHeaderFieldsTooLarge, reason: "request header fields too large")
            )
        case .headTimedOut:
            self.respondAndClose(LocalResponse(status: .requestTimeout, reason: "request head not received in time"))
        case .idleTimedOut:
            self.state = .closing
            self.context?.close(promise: nil)
        }
    }

    private func quiesce() {
        self.quiescing = true
        // Only a kept-alive connection that has served requests is closed at once. A connection not yet asked
        // anything (just accepted, its request still in the socket) gets its first request answered, with
        // `Connection: close`: closing it would reset a request the client has already sent.
        if self.state == .awaitingHead && self.pendingInput.isEmpty && self.nextExchangeID > 0 {
            self.state = .closing
            self.context?.close(promise: nil)
        }
    }

    // MARK: Routing

    func route() {
        guard let context = self.context, let exchange = self.exchange else { return }
        let id = exchange.id
        let query = RouteQuery(host: exchange.inspected.host, routeCookie: exchange.inspected.routeCookie)
        switch self.environment.routing.route(query, on: context.eventLoop) {
        case .now(let result):
            self.routeCompleted(.success(result), exchangeID: id)
        case .later(let ticket, let future):
            self.exchange!.ticket = ticket
            future.assumeIsolated().whenComplete { result in
                self.routeCompleted(result, exchangeID: id)
            }
        }
    }

    private func routeCompleted(_ result: Result<RouteResult, Error>, exchangeID: UInt64) {
        guard self.state == .routing, self.exchange?.id == exchangeID else {
            // The client left (or the request was answered) meanwhile: give back a worker we were handed.
            if case .success(.forward(let target)) = result {
                self.environment.routing.finished(target)
            }
            return
        }
        self.exchange!.ticket = nil
        switch result {
        case .failure(let error):
            self.respondLocally(LocalResponse(status: .badGateway, reason: "routing failed: \(error)"))
        case .success(.respond(let refusal)):
            self.respondLocally(LocalResponse(refusal))
        case .success(.forward(let target)):
            self.exchange!.target = target
            self.sendContinueIfExpected()
            self.acquireUpstream()
        }
    }

    /// `100 Continue`, once a worker is chosen, to a client waiting for it before sending its body.
    private func sendContinueIfExpected() {
        guard let exchange = self.exchange, exchange.inspected.expectsContinue, !exchange.continueSent,
            !exchange.requestEnded, exchange.bodyBytes == 0, self.pendingInput.isEmpty, let context = self.context
        else { return }
        self.exchange!.continueSent = true
        context.writeAndFlush(
            Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))),
            promise: nil
        )
    }

    /// Releases the worker held for this exchange, once.
    func finishTarget() {
        guard let target = self.exchange?.target else { return }
        self.exchange!.target = nil
        self.environment.routing.finished(target)
    }
}
