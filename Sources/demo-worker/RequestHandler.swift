import NIOCore
import NIOHTTP1

/// Answers the demo endpoints on one HTTP/1.1 connection (see ``Endpoint``).
///
/// Sits after `configureHTTPServerPipeline`'s handlers, which serialise pipelined requests
/// and implement `ChannelShouldQuiesceEvent`. Everything but `/echo` answers once the
/// request has ended; `/echo` answers from the request head and streams body parts back as
/// they arrive, pausing reads while the socket is not writable so memory stays bounded.
final class RequestHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// Request head seen, the answer waits for its end; body parts are dropped.
        case awaitingEnd(Endpoint, HTTPRequestHead)
        /// Echo response head sent; body parts are written back as they arrive.
        case echoing(keepAlive: Bool)
    }

    private let shared: WorkerContext
    private var state = State.idle
    /// Echoed bytes written but not yet flushed; flushed at the end of each read burst.
    private var needsFlush = false
    /// A `read()` held back because the socket was not writable during an echo.
    private var readHeldBack = false

    init(shared: WorkerContext) {
        self.shared = shared
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch self.unwrapInboundIn(data) {
        case .head(let head):
            let endpoint = Endpoint.route(method: head.method, target: head.uri)
            if endpoint == .echo {
                self.startEcho(context: context, request: head)
            } else {
                self.state = .awaitingEnd(endpoint, head)
            }
        case .body(let part):
            if case .echoing = self.state {
                context.write(self.wrapOutboundOut(.body(.byteBuffer(part))), promise: nil)
                self.needsFlush = true
            }
        case .end:
            switch self.state {
            case .echoing(let keepAlive):
                self.state = .idle
                self.needsFlush = false
                self.finishResponse(context: context, keepAlive: keepAlive)
            case .awaitingEnd(let endpoint, let head):
                self.state = .idle
                self.respond(context: context, endpoint: endpoint, request: head)
            case .idle:
                break
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if self.needsFlush {
            self.needsFlush = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable && self.readHeldBack {
            self.readHeldBack = false
            context.read()
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Outbound

    func read(context: ChannelHandlerContext) {
        if case .echoing = self.state, !context.channel.isWritable {
            self.readHeldBack = true
            return
        }
        context.read()
    }

    // MARK: Responses

    private func respond(context: ChannelHandlerContext, endpoint: Endpoint, request: HTTPRequestHead) {
        switch endpoint {
        case .hello:
            self.send(
                context: context,
                request: request,
                contentType: "text/plain; charset=utf-8",
                body: self.shared.helloBody
            )
        case .whoami:
            self.send(context: context, request: request, contentType: "application/json", body: self.shared.whoamiBody)
        case .count:
            self.respondCount(context: context, request: request)
        case .sleep(let milliseconds):
            context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
                self.send(
                    context: context,
                    request: request,
                    contentType: "text/plain; charset=utf-8",
                    body: ByteBuffer(string: "slept \(milliseconds) ms\n")
                )
            }
        case .echo:
            preconditionFailure("echo is answered from the request head")
        case .methodNotAllowed(let allow):
            self.send(
                context: context,
                request: request,
                status: .methodNotAllowed,
                contentType: "text/plain; charset=utf-8",
                extraHeaders: [("Allow", allow)],
                body: ByteBuffer(string: "method not allowed\n")
            )
        case .badRequest(let reason):
            self.send(
                context: context,
                request: request,
                status: .badRequest,
                contentType: "text/plain; charset=utf-8",
                body: ByteBuffer(string: reason)
            )
        case .notFound:
            self.send(
                context: context,
                request: request,
                status: .notFound,
                contentType: "text/plain; charset=utf-8",
                body: ByteBuffer(string: "not found\n")
            )
        }
    }

    private func respondCount(context: ChannelHandlerContext, request: HTTPRequestHead) {
        var extraHeaders: [(String, String)] = []
        let sessionID: String
        if let existing = Self.cookie(named: "sid", in: request.headers) {
            sessionID = existing
        } else {
            sessionID = SessionCounters.newSessionID()
            extraHeaders.append(("Set-Cookie", "sid=\(sessionID); Path=/"))
        }
        let count = self.shared.sessions.countRequest(for: sessionID)
        let identity = self.shared.identity
        let json =
            #"{"sid":\#(sessionID.jsonQuoted),"count":\#(count),"worker":\#(identity.worker.jsonQuoted),"pid":\#(identity.pid)}"#
        self.send(
            context: context,
            request: request,
            contentType: "application/json",
            extraHeaders: extraHeaders,
            body: ByteBuffer(string: json)
        )
    }

    private func startEcho(context: ChannelHandlerContext, request: HTTPRequestHead) {
        let keepAlive = request.isKeepAlive
        if request.version.major == 1 && request.version.minor >= 1,
            request.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" })
        {
            context.write(
                self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .continue))),
                promise: nil
            )
        }
        var headers = HTTPHeaders()
        if let contentType = request.headers.first(name: "content-type") {
            headers.add(name: "Content-Type", value: contentType)
        }
        if let length = request.headers.first(name: "content-length") {
            headers.add(name: "Content-Length", value: length)
        } else if !request.headers.contains(name: "transfer-encoding") {
            headers.add(name: "Content-Length", value: "0")
        }
        // With neither, an HTTP/1.1 response is chunked by the encoder.
        Self.addConnectionHeader(to: &headers, version: request.version, keepAlive: keepAlive)
        context.writeAndFlush(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .ok, headers: headers))),
            promise: nil
        )
        self.state = .echoing(keepAlive: keepAlive)
    }

    private func send(
        context: ChannelHandlerContext,
        request: HTTPRequestHead,
        status: HTTPResponseStatus = .ok,
        contentType: String,
        extraHeaders: [(String, String)] = [],
        body: ByteBuffer
    ) {
        let keepAlive = request.isKeepAlive
        var headers = HTTPHeaders()
        headers.reserveCapacity(3 + extraHeaders.count)
        headers.add(name: "Content-Type", value: contentType)
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        for (name, value) in extraHeaders {
            headers.add(name: name, value: value)
        }
        Self.addConnectionHeader(to: &headers, version: request.version, keepAlive: keepAlive)
        context.write(
            self.wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))),
            promise: nil
        )
        if request.method != .HEAD {
            context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        self.finishResponse(context: context, keepAlive: keepAlive)
    }

    /// Writes and flushes the response end; then closes the connection unless keep-alive,
    /// and counts the response for `--crash-after`.
    private func finishResponse(context: ChannelHandlerContext, keepAlive: Bool) {
        let crashTrigger = self.shared.crashTrigger
        guard !keepAlive || crashTrigger != nil else {
            context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
            return
        }
        let flushed = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: flushed)
        flushed.futureResult.assumeIsolated().whenComplete { result in
            if case .success = result {
                crashTrigger?.responseFlushed()
            }
            if !keepAlive {
                context.close(promise: nil)
            }
        }
    }

    /// Adds `Connection: close` when the connection ends after this response, and
    /// `Connection: keep-alive` for an HTTP/1.0 client that asked to keep it.
    private static func addConnectionHeader(to headers: inout HTTPHeaders, version: HTTPVersion, keepAlive: Bool) {
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if version.major == 1 && version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
    }

    /// The value of cookie `name` in the request's `Cookie` headers, if present and not empty.
    static func cookie(named name: String, in headers: HTTPHeaders) -> String? {
        for header in headers["cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop(while: { $0 == " " || $0 == "\t" })
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
                var value = trimmed[trimmed.index(after: equals)...]
                while value.last == " " || value.last == "\t" { value = value.dropLast() }
                if value.count >= 2 && value.first == "\"" && value.last == "\"" {
                    value = value.dropFirst().dropLast()
                }
                if !value.isEmpty { return String(value) }
            }
        }
        return nil
    }
}
