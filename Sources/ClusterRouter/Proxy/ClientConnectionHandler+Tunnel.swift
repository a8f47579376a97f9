import NIOCore
import NIOHTTP1

/// Upgrades: after the worker's `101`, the HTTP handlers of both channels give way to a byte tunnel.
extension ClientConnectionHandler {
    /// Sends the `101` on and schedules the switch to a tunnel (not from inside the decoders' read loops).
    func beginTunnel(_ head: HTTPResponseHead) {
        guard let context = self.context, let exchange = self.exchange, let upstream = exchange.upstream else { return }
        var closeAfter = false
        guard
            case .success(let response) = RequestHeadRewriter.clientResponse(
                from: head,
                requestIsHead: false,
                clientVersion: exchange.request.version,
                closeAfter: &closeAfter,
                routeCookie: exchange.target?.setRouteCookie,
                coldStart: exchange.target?.coldStart
            )
        else {
            self.abortUpstream()
            self.finishTarget()
            self.closeNow()
            return
        }
        self.state = .tunnelling
        self.exchange!.responseHeadSent = true
        context.writeAndFlush(Self.wrapOutboundOut(.head(response.head)), promise: nil)
        context.eventLoop.assumeIsolated().execute {
            self.installTunnel(upstream: upstream)
        }
    }

    /// Replaces the HTTP handlers on both channels with a ``TunnelHandler`` pair. Bytes the decoders hold beyond the
    /// upgrade (sent early by either side) are passed on to the tunnel as the decoders leave.
    private func installTunnel(upstream: UpstreamConnection) {
        guard self.state == .tunnelling, let context = self.context, let exchange = self.exchange,
            exchange.upstream === upstream, let upstreamChannel = upstream.channel
        else { return }
        let target = exchange.target
        self.exchange!.target = nil
        self.exchange!.upstream = nil
        upstream.detach()
        let routing = self.environment.routing
        let lifetime = TunnelHandler.Lifetime {
            if let target { routing.finished(target) }
        }
        let (clientSide, workerSide) = TunnelHandler.pair(lifetime: lifetime)
        let clientChannel = context.channel
        do {
            let clientPipeline = context.pipeline.syncOperations
            let workerPipeline = upstreamChannel.pipeline.syncOperations
            try clientPipeline.addHandler(clientSide)
            try workerPipeline.addHandler(workerSide)
            // Handlers that take HTTP parts leave before the decoders, whose leftover bytes go to the tunnel.
            workerPipeline.removeHandler(upstream, promise: nil)
            workerPipeline.removeHandler(upstream.encoder, promise: nil)
            workerPipeline.removeHandler(upstream.decoder, promise: nil)
            let environment = self.environment
            clientPipeline.removeHandler(self, promise: nil)
            clientPipeline.removeHandler(environment.responseEncoder, promise: nil)
            clientPipeline.removeHandler(environment.headGuard, promise: nil)
            clientPipeline.removeHandler(environment.requestDecoder, promise: nil)
        } catch {
            lifetime.ended()
            upstreamChannel.close(promise: nil)
            clientChannel.close(promise: nil)
            return
        }
        if !clientChannel.isActive || !upstreamChannel.isActive {
            lifetime.ended()
            upstreamChannel.close(promise: nil)
            clientChannel.close(promise: nil)
            return
        }
        clientChannel.read()
        upstreamChannel.read()
    }
}
