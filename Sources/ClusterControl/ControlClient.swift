import ClusterCore
import Glibc

/// A blocking connection to clusterd's control socket, for a command-line tool or a test: `hello`, then requests
/// one at a time, each reply matched by its id (events are handed to the caller). Every wait ends at the
/// connection's deadline. The protocol is ``ControlConversation``'s; this is only its transport.
public final class ControlClient {
    public let socketPath: String
    private let descriptor: Int32
    private var conversation: ControlConversation
    private let timeout: Duration
    private var deadline: ContinuousClock.Instant
    /// Bytes received and not yet returned as a line; `scanned` of them are known to hold no newline.
    private var buffer: [UInt8] = []
    private var scanned = 0

    /// Connects to `socketPath`; `timeout` bounds the connect and then each request's reply.
    public init(
        socketPath: String,
        timeout: Duration,
        client: ControlClientName = .clusterctl
    ) throws(ControlUnreachable) {
        self.socketPath = socketPath
        self.conversation = ControlConversation(client: client)
        self.timeout = timeout
        self.deadline = .now + timeout
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let path = Array(socketPath.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity, !path.contains(0) else {
            throw ControlUnreachable(
                socketPath: socketPath,
                reason: "not a usable socket path (1 to \(capacity - 1) bytes, no NUL)"
            )
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw ControlUnreachable(socketPath: socketPath, reason: "socket(): \(Self.errnoText())")
        }
        self.descriptor = descriptor
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
        try connect(address)
    }

    deinit {
        close(descriptor)
    }

    /// Agrees on the protocol version; any error reply (permission denied, no common version) means clusterd
    /// cannot be used from here.
    @discardableResult
    public func hello() throws(ControlUnreachable) -> HelloReply {
        deadline = .now + timeout
        try send(conversation.hello())
        while true {
            switch conversation.received(try readLine()) {
            case .greeted(let reply, _): return reply
            case .refused(let error): throw unreachable(error.message)
            case .unreadable(let reason): throw unreachable(reason)
            case .subscribed, .event, .reply, .nothing: continue
            }
        }
    }

    /// Sends one request and returns its reply; events read meanwhile go to `onEvent`. A refusal of the
    /// connection (`permission-denied`, `too-many-connections`, `line-too-long`) throws; other error replies
    /// are returned.
    public func request(
        _ operation: ControlOperation,
        onEvent: (ControlEvent) -> Void = { _ in }
    ) throws(ControlUnreachable) -> Result<JSONValue, ControlError> {
        guard conversation.phase == .ready else {
            throw unreachable(
                conversation.phase == .closed
                    ? "the connection is no longer usable (clusterd refused it or sent what this client cannot read)"
                    : "a request was made before hello"
            )
        }
        let (id, line) = conversation.request(operation)
        deadline = .now + timeout
        try send(line)
        while true {
            switch conversation.received(try readLine()) {
            case .reply(let replyID, let result) where replyID == id: return result
            case .reply(nil, .failure(let error)): return .failure(error)
            case .event(let event): onEvent(event)
            case .refused(let error): throw unreachable(error.message)
            case .unreadable(let reason): throw unreachable(reason)
            case .greeted, .subscribed, .reply, .nothing: continue
            }
        }
    }

    /// The next event after a `subscribe` request, waiting at most `limit` for it to begin; nil when none came
    /// (a subscriber's loop does its periodic work then). Replies read meanwhile are skipped.
    public func nextEvent(waitingAtMost limit: Duration) throws(ControlUnreachable) -> ControlEvent? {
        while true {
            if !hasLine {
                var entry = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&entry, 1, Int32(clamping: max(limit.milliseconds, 0)))
                // A signal (EINTR) also returns: the caller's loop checks why it was woken.
                if ready == 0 || (ready < 0 && errno == EINTR) { return nil }
                if ready < 0 { throw unreachable("poll(): \(Self.errnoText())") }
            }
            deadline = .now + timeout
            switch conversation.received(try readLine()) {
            case .event(let event): return event
            case .refused(let error): throw unreachable(error.message)
            case .unreadable(let reason): throw unreachable(reason)
            case .greeted, .subscribed, .reply, .nothing: continue
            }
        }
    }

    /// A whole line is already buffered.
    private var hasLine: Bool { buffer[scanned...].contains(UInt8(ascii: "\n")) }

    // MARK: - Socket

    private func connect(_ address: sockaddr_un) throws(ControlUnreachable) {
        var address = address
        while true {
            let result = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if result == 0 { return }
            switch errno {
            case EINTR:
                continue
            case EAGAIN:
                // The listen queue is full: clusterd is busy. Try again until the deadline.
                guard ContinuousClock.now < deadline else {
                    throw unreachable("its listen queue stayed full for \(timeoutText) (clusterd is overloaded)")
                }
                usleep(20_000)
            case EINPROGRESS:
                try wait(for: Int16(POLLOUT), doing: "connecting")
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(descriptor, SOL_SOCKET, SO_ERROR, &error, &length)
                guard error == 0 else { throw unreachable(Self.explain(error)) }
                return
            case let code:
                throw unreachable(Self.explain(code))
            }
        }
    }

    /// Sends bytes as they are, waiting at most `timeout` (tests send what no client would). A connection clusterd
    /// closed fails without reading what it left: the caller reads it.
    package func sendRaw(_ bytes: [UInt8], timeout: Duration) throws(ControlUnreachable) {
        deadline = .now + timeout
        try send(bytes, readingRefusal: false)
    }

    /// The next line as it is, waiting at most `timeout` for it.
    package func readRawLine(timeout: Duration) throws(ControlUnreachable) -> [UInt8] {
        deadline = .now + timeout
        return try readLine()
    }

    private func send(_ bytes: [UInt8], readingRefusal: Bool = true) throws(ControlUnreachable) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent >= 0 {
                offset += sent
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                try wait(for: Int16(POLLOUT), doing: "sending")
            } else if errno == EPIPE || errno == ECONNRESET {
                // clusterd may have refused the connection and closed it before this went out; its reason
                // is still waiting in the receive buffer.
                let refusal = readingRefusal ? refusalLeftBehind() : nil
                throw refusal ?? unreachable("the connection was closed before a reply")
            } else {
                throw unreachable("send(): \(Self.errnoText())")
            }
        }
    }

    /// The refusal (a reply without an id) among the lines left to read on a connection clusterd closed.
    private func refusalLeftBehind() -> ControlUnreachable? {
        while let line = try? readLine() {
            if case .reply(nil, .failure(let error))? = IncomingLine(line) {
                return unreachable(error.message)
            }
        }
        return nil
    }

    /// The next line, newline excluded, at most `ControlCodec.maximumReplyLineLength` bytes.
    private func readLine() throws(ControlUnreachable) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            if let newline = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                scanned = 0
                return line
            }
            scanned = buffer.count
            guard buffer.count <= ControlCodec.maximumReplyLineLength else {
                throw unreachable("it sent a line longer than \(ControlCodec.maximumReplyLineLength) bytes")
            }
            let received = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if received > 0 {
                buffer.append(contentsOf: chunk[..<received])
            } else if received == 0 {
                throw unreachable("the connection was closed before a reply")
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                try wait(for: Int16(POLLIN), doing: "waiting for a reply")
            } else if errno == ECONNRESET {
                throw unreachable("the connection was closed before a reply")
            } else {
                throw unreachable("recv(): \(Self.errnoText())")
            }
        }
    }

    /// Waits until the socket is ready for `events`, or throws at the deadline.
    private func wait(for events: Int16, doing what: String) throws(ControlUnreachable) {
        while true {
            let left = deadline - .now
            guard left > .zero else {
                throw unreachable(
                    "no answer within \(timeoutText) while \(what) (--timeout SECONDS waits longer; "
                        + "an operation already sent may still take effect)"
                )
            }
            let milliseconds = left.milliseconds
            var entry = pollfd(fd: descriptor, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: milliseconds + 1))
            if ready > 0 { return }
            if ready < 0 && errno != EINTR {
                throw unreachable("poll(): \(Self.errnoText())")
            }
        }
    }

    private var timeoutText: String {
        timeout.formattedBriefly
    }

    private func unreachable(_ reason: String) -> ControlUnreachable {
        ControlUnreachable(socketPath: socketPath, reason: reason)
    }

    private static func errnoText(_ code: Int32 = errno) -> String {
        String(cString: strerror(code))
    }

    /// The reason for a failed connect, with what to do about it.
    private static func explain(_ code: Int32) -> String {
        switch code {
        case ENOENT, ECONNREFUSED, ENOTDIR:
            "\(errnoText(code)) (is clusterd running? --socket or CLUSTERD_SOCKET choose another)"
        case EACCES, EPERM:
            "\(errnoText(code)) (the socket is for root, clusterd's user and cluster.control_group)"
        default:
            errnoText(code)
        }
    }
}

extension ControlClient {
    /// Where clusterd's control socket is unless told: `cluster.control_socket`'s default.
    public static let defaultSocketPath = ClusterConfiguration.defaultControlSocket

    /// The socket a client uses: `explicit` (a `--socket` option), else `$CLUSTERD_SOCKET`, else the default.
    public static func socketPath(explicit: String?) -> String {
        if let explicit { return explicit }
        if let variable = getenv("CLUSTERD_SOCKET"), variable.pointee != 0 { return String(cString: variable) }
        return defaultSocketPath
    }
}
