import ClusterCore
import NIOCore
import NIOHTTP1

/// The worker side of an exchange: getting a connection, sending the request, relaying the response, failures.
extension ClientConnectionHandler {
    /// Whether the client can take more response bytes now (else the worker's connection stops reading).
    var canTakeResponseBytes: Bool {
        self.context?.channel.isWritable ?? true
    }

    func acquireUpstream() {
        guard let target = self.exchange?.target else { return }
        if let connection = self.environment.pool.takeIdle(port: target.port) {
            self.attach(connection)
        } else {
            self.connectFresh(port: target.port)
        }
    }

    private func connectFresh(port: Int) {
        guard let exchangeID = self.exchange?.id else { return }
        self.state = .connecting
        let pool = self.environment.pool
        pool.connect(port: port).whenComplete { result in
            guard self.state == .connecting, self.exchange?.id == exchangeID else {
                if case .success(let connection) = result { pool.release(connection) }
                return
            }
            switch result {
            case .success(let connection):
                self.attach(connection)
            case .failure(let error):
                self.environment.logger.debug(
                    "worker unreachable",
                    metadata: ["port": "\(port)", "error": "\(error)"]
                )
                self.upstreamUnreachable()
            }
        }
    }

    /// Sends the request (again, on a retry) over `connection` and streams what follows.
    private func attach(_ connection: UpstreamConnection) {
        guard var exchange = self.exchange else {
            self.environment.pool.release(connection)
            return
        }
        self.state = .forwarding
        connection.attach(self)
        exchange.upstream = connection
        let head =
            exchange.upstreamHead
            ?? RequestHeadRewriter.upstreamHead(
                from: exchange.request,
                inspected: exchange.inspected,
                clientAddress: self.environment.clientAddress
            )
        exchange.upstreamHead = head
        connection.write(.head(head))
        for part in exchange.replay ?? [] {
            connection.write(.body(.byteBuffer(part)))
        }
        if exchange.endForwarded {
            connection.write(.end(nil))
        }
        self.exchange = exchange
        if exchange.endForwarded { self.armResponseTimer() }
        self.drainPendingInput()
        self.upstreamNeedsFlush = false
        connection.flush()
        self.resumeReadingIfWanted()
    }

    /// Connecting failed: tell the routing (which stops routing to that worker), then route again. Attempts on
    /// a worker already found unreachable are bounded by `maxRouteRetries`, all attempts by `maxRouteAttempts`.
    private func upstreamUnreachable() {
        guard let exchange = self.exchange, let target = exchange.target else { return }
        self.environment.routing.unreachable(target)
        self.finishTarget()
        // The request went out on a kept-alive connection that then closed, and the worker now refuses: it died
        // with the request, which it may have acted on. Only an idempotent request is sent to another worker.
        if exchange.staleRetryUsed && !exchange.request.method.isIdempotent {
            self.respondLocally(
                LocalResponse(status: .badGateway, reason: "worker closed the connection before responding")
            )
            return
        }
        let failed = exchange.unreachableWorkers + [target.worker]
        self.exchange!.unreachableWorkers = failed
        let repeats = failed.count - Set(failed).count
        guard exchange.replay != nil, repeats < self.configuration.maxRouteRetries,
            failed.count < self.configuration.maxRouteAttempts
        else {
            self.respondLocally(LocalResponse(status: .badGateway, reason: "worker unreachable"))
            return
        }
        self.state = .routing
        self.route()
    }

    /// Starts the worker's time to begin its response, once it has the whole request (while the body is still
    /// coming, a pause is the client's, which the body read timeout covers).
    func armResponseTimer() {
        self.responseTimer?.expire(in: TimeAmount(self.configuration.upstreamResponseTimeout))
    }

    /// The worker has had the whole request for `upstreamResponseTimeout` and not begun a response: its connection
    /// is closed (it cannot be reused) and the client gets 504.
    func upstreamResponseTimedOut() {
        guard self.state == .forwarding, let exchange = self.exchange, exchange.upstream != nil,
            !exchange.responseHeadReceived, let target = exchange.target
        else { return }
        let timeout = self.configuration.upstreamResponseTimeout
        self.environment.logger.notice(
            "worker did not begin its response in time",
            metadata: [
                "tenant": "\(target.tenant)", "worker": "\(target.worker)", "timeout": "\(timeout.formattedForHumans)",
            ]
        )
        self.respondLocally(
            LocalResponse(
                status: .gatewayTimeout,
                reason: "worker \(target.worker) did not answer within \(timeout.formattedForHumans)"
            ),
            forceClose: !exchange.requestEnded
        )
    }

    /// Closes the worker connection of the exchange, if any (it cannot be reused mid-exchange).
    func abortUpstream() {
        guard let connection = self.exchange?.upstream else { return }
        self.exchange!.upstream = nil
        connection.close()
    }

    // MARK: Events from the worker connection

    func upstreamReceived(_ part: HTTPClientResponsePart, from connection: UpstreamConnection) {
        guard self.exchange?.upstream === connection else { return }
        if self.state == .tunnelling { return }  // the end of the 101; the tunnel takes over
        switch part {
        case .head(let head):
            self.responseHeadArrived(head)
        case .body(let buffer):
            guard let context = self.context, self.exchange!.responseHeadSent else { return }
            context.write(Self.wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
            self.clientNeedsFlush = true
        case .end(let trailers):
            self.responseEndArrived(trailers)
        }
    }

    func upstreamReadComplete(from connection: UpstreamConnection) {
        if self.clientNeedsFlush {
            self.clientNeedsFlush = false
            self.context?.flush()
        }
    }

    func upstreamWritabilityChanged(from connection: UpstreamConnection) {
        self.resumeReadingIfWanted()
    }

    /// The worker's connection closed (or failed) while this exchange used it.
    func upstreamClosed(_ connection: UpstreamConnection) {
        guard var exchange = self.exchange, exchange.upstream === connection else { return }
        exchange.upstream = nil
        self.exchange = exchange
        if self.state == .tunnelling {
            self.finishTarget()
            self.closeNow()
            return
        }
        if !exchange.responseHeadReceived {
            // A kept-alive connection the worker had closed meanwhile: once more on a fresh one.
            if connection.exchanges > 1 && !exchange.staleRetryUsed && exchange.replay != nil {
                self.exchange!.staleRetryUsed = true
                self.connectFresh(port: connection.port)
                return
            }
            self.finishTarget()
            self.respondLocally(
                LocalResponse(status: .badGateway, reason: "worker closed the connection before responding")
            )
        } else if !exchange.responseEnded {
            self.finishTarget()
            self.closeNow()
        }
    }

    // MARK: Response

    private func responseHeadArrived(_ head: HTTPResponseHead) {
        guard let context = self.context, var exchange = self.exchange else { return }
        self.responseTimer?.disarm()
        exchange.responseHeadReceived = true
        exchange.replay = nil
        if head.status == .switchingProtocols {
            self.exchange = exchange
            if exchange.inspected.isUpgrade {
                self.beginTunnel(head)
            } else {
                self.abortUpstream()
                self.finishTarget()
                self.respondLocally(
                    LocalResponse(status: .badGateway, reason: "worker switched protocols without being asked")
                )
            }
            return
        }
        var closeAfter = exchange.closeAfter || self.quiescing
        let rewritten = RequestHeadRewriter.clientResponse(
            from: head,
            requestIsHead: exchange.request.method == .HEAD,
            clientVersion: exchange.request.version,
            closeAfter: &closeAfter,
            routeCookie: exchange.target?.setRouteCookie,
            coldStart: exchange.target?.coldStart
        )
        switch rewritten {
        case .failure(let unsupported):
            self.exchange = exchange
            self.abortUpstream()
            self.finishTarget()
            self.respondLocally(LocalResponse(status: .badGateway, reason: unsupported.reason), forceClose: true)
        case .success(let response):
            exchange.closeAfter = closeAfter
            exchange.responseFraming = response.framing
            exchange.upstreamCloses = response.upstreamCloses
            exchange.responseHeadSent = true
            self.exchange = exchange
            context.write(Self.wrapOutboundOut(.head(response.head)), promise: nil)
            self.clientNeedsFlush = true
        }
    }

    private func responseEndArrived(_ trailers: HTTPHeaders?) {
        guard self.context != nil, var exchange = self.exchange, exchange.responseHeadSent else { return }
        let drain = exchange.canDrainRest(limit: self.configuration.maxDrainBytes)
        let close = exchange.closeAfter || self.quiescing || !drain
        exchange.responseEnded = true
        self.exchange = exchange
        // The worker's connection is reused only after a complete, clean exchange.
        if let connection = exchange.upstream {
            self.exchange!.upstream = nil
            if exchange.endForwarded && !exchange.upstreamCloses {
                self.environment.pool.release(connection)
            } else {
                connection.close()
            }
        }
        self.finishTarget()
        self.clientNeedsFlush = false
        self.endResponse(
            trailers: exchange.responseFraming == .chunked ? trailers : nil,
            close: close,
            requestEnded: exchange.requestEnded
        )
    }
}
