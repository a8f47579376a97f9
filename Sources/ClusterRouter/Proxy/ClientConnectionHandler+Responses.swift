import NIOCore
import NIOHTTP1

/// Answers from the proxy itself, and how an exchange or the connection ends.
extension ClientConnectionHandler {
    /// Answers the current exchange from the proxy (no response head may have gone out yet), then drains the rest
    /// of the request body or closes.
    func respondLocally(_ response: LocalResponse, forceClose: Bool = false) {
        guard let context = self.context, var exchange = self.exchange, !exchange.responseHeadSent else {
            self.closeNow()
            return
        }
        self.abortUpstream()
        self.finishTarget()
        exchange = self.exchange!
        let drain = exchange.canDrainRest(limit: self.configuration.maxDrainBytes)
        let close = forceClose || exchange.closeAfter || self.quiescing || !drain
        let body = response.body(allocator: context.channel.allocator)
        let head = response.head(close: close, clientVersion: exchange.request.version, bodyLength: body.readableBytes)
        exchange.responseHeadSent = true
        exchange.responseEnded = true
        exchange.closeAfter = close
        self.exchange = exchange
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        self.endResponse(trailers: nil, close: close, requestEnded: exchange.requestEnded)
    }

    /// Writes the response's end, then closes the connection, goes on to the next request, or (the response came
    /// before the whole request body) reads the rest of the body and drops it.
    func endResponse(trailers: HTTPHeaders?, close: Bool, requestEnded: Bool) {
        guard let context = self.context else { return }
        if close {
            self.writeEndAndClose(trailers: trailers, linger: !requestEnded)
            return
        }
        context.writeAndFlush(Self.wrapOutboundOut(.end(trailers)), promise: nil)
        if requestEnded {
            self.exchangeCompleted()
        } else {
            self.state = .respondingLocally
            self.drainPendingInput()
            self.resumeReadingIfWanted()
        }
    }

    /// Answers outside any exchange (a malformed or too slow head) and closes.
    func respondAndClose(_ response: LocalResponse) {
        guard let context = self.context else { return }
        let body = response.body(allocator: context.channel.allocator)
        let head = response.head(close: true, clientVersion: .http1_1, bodyLength: body.readableBytes)
        context.write(Self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(Self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        self.writeEndAndClose(trailers: nil, linger: false)
    }

    /// Writes the response end, then closes once it is out. With `linger`, the unread request is read and dropped
    /// for a while first, so that the client reads the response instead of a reset.
    func writeEndAndClose(trailers: HTTPHeaders?, linger: Bool) {
        guard let context = self.context else { return }
        self.state = .closing
        self.pendingInput.removeAll()
        self.bodyTimer?.cancel()
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(Self.wrapOutboundOut(.end(trailers)), promise: written)
        let lingerTime = TimeAmount(self.configuration.lingerTimeout)
        written.futureResult.assumeIsolated().whenComplete { result in
            guard let context = self.context else { return }
            guard linger, case .success = result, context.channel.isActive else {
                context.close(promise: nil)
                return
            }
            self.lingering = true
            self.lingerTimer = context.shutOutputAndLinger(for: lingerTime)
            if self.readPending {
                self.readPending = false
                context.read()
            }
        }
    }

    /// Closes the client connection now (a response was cut short).
    func closeNow() {
        self.state = .closing
        self.pendingInput.removeAll()
        self.context?.close(promise: nil)
    }

    /// The request and its response are both complete: on to the next request.
    func exchangeCompleted() {
        // Writing the response end may have failed and closed the connection already.
        guard self.state != .closing else { return }
        self.exchange = nil
        self.state = .awaitingHead
        self.bodyTimer?.disarm()
        if self.quiescing {
            self.closeNow()
            return
        }
        self.environment.headGuard.awaitNextHead()
        self.drainPendingInput()
        self.resumeReadingIfWanted()
    }
}
