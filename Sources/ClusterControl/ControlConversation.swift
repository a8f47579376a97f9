/// A client's side of the control protocol, without I/O: `hello` first, then requests matched to their replies
/// by id, and for a subscriber the snapshot and the events after it. clusterctl, the router and the tests all
/// talk through it; each brings its own transport (a blocking socket, a NIO channel) and sends the lines it returns.
public struct ControlConversation: Sendable {
    public enum Phase: Sendable, Equatable {
        /// Connected; the hello has gone out, its reply has not come.
        case greeting
        /// Subscribing: the hello was answered, the snapshot has not come.
        case subscribing
        /// Requests may go out; a subscriber receives events.
        case ready
        /// clusterd refused the connection or sent what this client cannot read: close it.
        case closed
    }

    /// What a line from clusterd means.
    public enum Received: Sendable {
        /// The hello was answered. A subscriber sends `then` (its `subscribe`) next.
        case greeted(HelloReply, then: [UInt8]?)
        /// The subscription's snapshot: events follow.
        case subscribed(ClusterSnapshot)
        case event(ControlEvent)
        /// The reply to a request sent with ``request(_:)``; nil id: clusterd could not read which request it was.
        case reply(RequestID?, Result<JSONValue, ControlError>)
        /// clusterd refused this client (permission, too many connections, no common version, a line too long):
        /// the connection is over.
        case refused(ControlError)
        /// A line that is not of the protocol, or not where it came: the connection is over.
        case unreadable(String)
        /// A blank line.
        case nothing
    }

    /// The name this client gives in `hello` (clusterd's router: ``ControlClientName/router``).
    public let client: ControlClientName
    /// Subscribe after hello.
    public let subscribes: Bool
    public private(set) var phase = Phase.greeting
    private var nextID = 1
    private static let helloID = RequestID.number(1)
    private static let subscribeID = RequestID.number(2)

    public init(client: ControlClientName, subscribes: Bool = false) {
        self.client = client
        self.subscribes = subscribes
        nextID = subscribes ? 3 : 2
    }

    /// The first line to send on a new connection.
    public func hello() -> [UInt8] {
        ControlCodec.request(
            ControlRequest(
                id: Self.helloID,
                operation: .hello(versions: ControlCodec.supportedVersions, client: client.rawValue)
            )
        )
    }

    /// A request with a fresh id, as the line to send.
    public mutating func request(_ operation: ControlOperation) -> (id: RequestID, line: [UInt8]) {
        let id = RequestID.number(nextID)
        nextID += 1
        return (id, ControlCodec.request(ControlRequest(id: id, operation: operation)))
    }

    /// Reads one line (newline excluded).
    public mutating func received(_ line: some Collection<UInt8>) -> Received {
        guard phase != .closed else { return .nothing }
        if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { return .nothing }
        guard let incoming = IncomingLine(line) else {
            return close(.unreadable("it sent a line that is not of the control protocol (is this clusterd's socket?)"))
        }
        switch (phase, incoming) {
        case (.greeting, .reply(Self.helloID, .success(let value))):
            guard let hello = try? value.decode(as: HelloReply.self) else {
                return close(.unreadable("it answered hello with something that is not a hello reply"))
            }
            guard subscribes else {
                phase = .ready
                return .greeted(hello, then: nil)
            }
            phase = .subscribing
            return .greeted(
                hello,
                then: ControlCodec.request(ControlRequest(id: Self.subscribeID, operation: .subscribe))
            )
        case (.subscribing, .reply(Self.subscribeID, .success(let value))):
            guard let reply = try? value.decode(as: SubscribeReply.self) else {
                return close(.unreadable("it answered subscribe with something that is not a snapshot"))
            }
            phase = .ready
            return .subscribed(reply.snapshot)
        case (.greeting, .reply(Self.helloID, .failure(let error))),
            (.subscribing, .reply(Self.subscribeID, .failure(let error))):
            return close(.refused(error))
        case (_, .reply(nil, .failure(let error))) where Self.refusesConnection(error.code) || phase != .ready:
            return close(.refused(error))
        case (.ready, .reply(let id, let result)):
            return .reply(id, result)
        case (.ready, .event(let event)):
            return .event(event)
        case (.greeting, _), (.subscribing, _), (.closed, _):
            // A reply to nothing asked yet, or an event before the snapshot.
            return .nothing
        }
    }

    /// Error codes with which clusterd refuses a whole connection (in a reply without an id).
    static func refusesConnection(_ code: ControlError.Code) -> Bool {
        code == .permissionDenied || code == .tooManyConnections || code == .lineTooLong
    }

    private mutating func close(_ received: Received) -> Received {
        phase = .closed
        return received
    }
}

/// The name a client gives in `hello`: free text for clusterd's log, except for clusterd's own router, which
/// clusterd waits for before it tells systemd it is ready.
public struct ControlClientName: ProtocolName {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// `clusterd router` (standalone or clusterd's child).
    public static let router = ControlClientName(rawValue: "clusterd-router")
    public static let clusterctl = ControlClientName(rawValue: "clusterctl")
    /// `clusterd haproxy`, which drives HAProxy from the channel.
    public static let haproxyAdapter = ControlClientName(rawValue: "clusterd-haproxy")
}

/// The delays between a client's attempts to reconnect: from `initial`, doubling up to `maximum`; a connection
/// that lasted `stableAfter` starts over from `initial`.
public struct ReconnectBackoff: Sendable, Equatable {
    public let initial: Duration
    public let maximum: Duration
    public let stableAfter: Duration
    /// The wait before the next attempt.
    public private(set) var delay: Duration

    public init(
        initial: Duration = .milliseconds(100),
        maximum: Duration = .seconds(5),
        stableAfter: Duration = .seconds(5)
    ) {
        self.initial = initial
        self.maximum = maximum
        self.stableAfter = stableAfter
        self.delay = initial
    }

    /// A connection ended (or failed) after lasting `lasted`: returns how long to wait before the next attempt.
    public mutating func ended(after lasted: Duration) -> Duration {
        if lasted > stableAfter { delay = initial }
        let wait = delay
        delay = min(delay * 2, maximum)
        return wait
    }
}
