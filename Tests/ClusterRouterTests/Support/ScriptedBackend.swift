import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A worker stand-in on 127.0.0.1 that behaves (or misbehaves) as a test says.
final class ScriptedBackend: Sendable {
    enum Behaviour: Sendable {
        /// Answers 200 with the request line, its headers and its body length as the body (keep-alive).
        case echoHeaders
        /// Like `echoHeaders`, but answers with a chunked body in several parts.
        case chunkedEcho
        /// Answers the first request on a connection; closes without answering the second.
        case dropSecondRequest
        /// Answers the first request on a connection; at the second, stops listening (its port refuses from then
        /// on) and closes the connection without answering: a worker killed while it has a request.
        case dieOnSecondRequest
        /// Reads the request head, then closes without answering.
        case closeAfterHead
        /// Reads the request head, then resets the connection.
        case resetAfterHead
        /// Reads and never answers.
        case neverAnswer
        /// Answers `101` and echoes every byte after the request head.
        case upgradeEcho
        /// Sends a response head and part of the body, then resets.
        case resetMidResponse
        /// Reads the request head and answers `200 released` only when the test calls `releaseHeldRequests()`:
        /// an in-flight request whose end the test orders against other events, with no timing involved.
        case answerWhenReleased
    }

    let port: Int
    private let channel: any Channel
    private let counters: Counters

    final class Counters: Sendable {
        let connections = Atomic<Int>(0)
        let closed = Atomic<Int>(0)
        let requests = Atomic<Int>(0)
        let held = Mutex<[any Channel]>([])
    }

    var connections: Int { self.counters.connections.load(ordering: .relaxed) }
    var requests: Int { self.counters.requests.load(ordering: .relaxed) }
    var closedConnections: Int { self.counters.closed.load(ordering: .relaxed) }

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(_ behaviour: Behaviour) async throws {
        let counters = Counters()
        self.counters = counters
        self.channel = try await ServerBootstrap(group: Self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    counters.connections.add(1, ordering: .relaxed)
                    channel.closeFuture.whenComplete { _ in counters.closed.add(1, ordering: .relaxed) }
                    let pipeline = channel.pipeline.syncOperations
                    switch behaviour {
                    case .echoHeaders, .chunkedEcho, .dropSecondRequest, .dieOnSecondRequest:
                        try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                        try pipeline.addHandler(EchoHeadersHandler(behaviour: behaviour, counters: counters))
                    default:
                        try pipeline.addHandler(RawBackendHandler(behaviour: behaviour, counters: counters))
                    }
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        self.port = self.channel.localAddress!.port!
    }

    /// Answers every request `answerWhenReleased` holds.
    func releaseHeldRequests() {
        let held = self.counters.held.withLock { held in
            defer { held = [] }
            return held
        }
        for channel in held {
            channel.writeAndFlush(ByteBuffer(string: ScriptedBackend.releasedResponse), promise: nil)
        }
    }

    static let releasedResponse = "HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nreleased\n"

    func stop() async {
        try? await self.channel.close()
    }
}

private final class EchoHeadersHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let behaviour: ScriptedBackend.Behaviour
    let counters: ScriptedBackend.Counters
    var head: HTTPRequestHead?
    var bodyBytes = 0
    var requestsOnConnection = 0
    var dying = false

    init(behaviour: ScriptedBackend.Behaviour, counters: ScriptedBackend.Counters) {
        self.behaviour = behaviour
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch Self.unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            self.bodyBytes = 0
            self.requestsOnConnection += 1
            self.counters.requests.add(1, ordering: .relaxed)
            if case .dropSecondRequest = self.behaviour, self.requestsOnConnection == 2 {
                context.close(promise: nil)
            }
            if case .dieOnSecondRequest = self.behaviour, self.requestsOnConnection == 2 {
                self.dying = true
                let connection = context.channel
                let listener = connection.parent?.close() ?? connection.eventLoop.makeSucceededVoidFuture()
                listener.whenComplete { _ in connection.close(promise: nil) }
            }
        case .body(let buffer):
            self.bodyBytes += buffer.readableBytes
        case .end:
            guard let head = self.head, !self.dying else { return }
            var text = "\(head.method) \(head.uri) \(head.version)\n"
            for (name, value) in head.headers {
                text += "\(name): \(value)\n"
            }
            text += "body-bytes: \(self.bodyBytes)\n"
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "text/plain")
            headers.add(name: "connection", value: "keep-alive, x-backend-private")
            headers.add(name: "x-backend-private", value: "secret")
            headers.add(name: "keep-alive", value: "timeout=5")
            let chunked: Bool
            if case .chunkedEcho = self.behaviour { chunked = true } else { chunked = false }
            if !chunked {
                headers.add(name: "content-length", value: String(text.utf8.count))
            }
            context.write(
                Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))),
                promise: nil
            )
            if chunked {
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
                    context.writeAndFlush(
                        Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: line + "\n")))),
                        promise: nil
                    )
                }
            } else {
                context.write(Self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            }
            context.writeAndFlush(Self.wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}

private final class RawBackendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let behaviour: ScriptedBackend.Behaviour
    let counters: ScriptedBackend.Counters
    var received = ByteBuffer()
    var upgraded = false

    init(behaviour: ScriptedBackend.Behaviour, counters: ScriptedBackend.Counters) {
        self.behaviour = behaviour
        self.counters = counters
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = Self.unwrapInboundIn(data)
        if self.upgraded {
            context.writeAndFlush(Self.wrapOutboundOut(buffer), promise: nil)
            return
        }
        self.received.writeBuffer(&buffer)
        let text = String(buffer: self.received)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return }
        self.received.clear()
        // Counted once the behaviour has acted (a held request is in `held` by then): tests wait on the count.
        defer { self.counters.requests.add(1, ordering: .relaxed) }
        switch self.behaviour {
        case .closeAfterHead:
            context.close(promise: nil)
        case .resetAfterHead:
            Self.reset(context)
        case .neverAnswer:
            break
        case .answerWhenReleased:
            let channel = context.channel
            self.counters.held.withLock { $0.append(channel) }
        case .upgradeEcho:
            self.upgraded = true
            let response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n"
            context.write(Self.wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
            let rest = String(text[headEnd.upperBound...])
            if !rest.isEmpty {
                context.write(Self.wrapOutboundOut(ByteBuffer(string: rest)), promise: nil)
            }
            context.flush()
        case .resetMidResponse:
            let response = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial"
            let loopBound = context.loopBound
            context.writeAndFlush(Self.wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in
                Self.reset(loopBound.value)
            }
        default:
            break
        }
    }

    static func reset(_ context: ChannelHandlerContext) {
        let channel = context.channel
        guard let provider = channel as? any SocketOptionProvider else {
            channel.close(promise: nil)
            return
        }
        provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            channel.close(promise: nil)
        }
    }
}
