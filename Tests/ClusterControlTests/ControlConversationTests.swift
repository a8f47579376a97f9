import ClusterControl
import ClusterCore
import Testing

/// The client side of the protocol, without sockets: what each line from clusterd means in each phase.
@Suite("Control conversation")
struct ControlConversationTests {
    static func line(_ text: String) -> [UInt8] { Array(text.utf8) }
    static let helloReply = #"{"id":1,"result":{"version":1,"server":"clusterd","pid":42}}"#
    static let snapshot =
        #"{"id":2,"result":{"snapshot":{"max_workers":4,"workers_total":0,"shutting_down":false,"tenants":[]}}}"#

    @Test("hello names the client and every version this build speaks")
    func hello() throws {
        let conversation = ControlConversation(client: .router)
        let request = try ControlCodec.parseRequest(conversation.hello().dropLast()).get()
        #expect(request.operation == .hello(versions: ControlCodec.supportedVersions, client: "clusterd-router"))
        #expect(conversation.phase == .greeting)
    }

    @Test("a plain client is ready after hello; requests get fresh ids and their replies come back by id")
    func requestReply() throws {
        var conversation = ControlConversation(client: .clusterctl)
        guard case .greeted(let hello, nil) = conversation.received(Self.line(Self.helloReply)) else {
            Issue.record("not greeted")
            return
        }
        #expect(hello.pid == 42)
        #expect(conversation.phase == .ready)
        let first = conversation.request(.status(tenant: nil))
        let second = conversation.request(.reload)
        #expect(first.id != second.id)
        #expect(try ControlCodec.parseRequest(second.line.dropLast()).get().operation == .reload)
        guard
            case .reply(second.id?, .success(let value)) = conversation.received(
                Self.line(#"{"id":\#(second.id),"result":{"tenants":3}}"#)
            )
        else {
            Issue.record("reply not matched")
            return
        }
        #expect(try value.decode(as: ReloadReply.self).tenants == 3)
    }

    @Test("a subscriber sends subscribe after hello, gets the snapshot, then events")
    func subscriber() throws {
        var conversation = ControlConversation(client: .router, subscribes: true)
        guard case .greeted(_, let then?) = conversation.received(Self.line(Self.helloReply)) else {
            Issue.record("no subscribe to send")
            return
        }
        #expect(try ControlCodec.parseRequest(then.dropLast()).get().operation == .subscribe)
        #expect(conversation.phase == .subscribing)
        // An event before the snapshot is not this client's to act on.
        guard case .nothing = conversation.received(Self.line(#"{"event":"worker-gone","worker":"a#1"}"#)) else {
            Issue.record("event before the snapshot acted on")
            return
        }
        guard case .subscribed(let snapshot) = conversation.received(Self.line(Self.snapshot)) else {
            Issue.record("no snapshot")
            return
        }
        #expect(snapshot.maxWorkers == 4)
        guard
            case .event(let event) = conversation.received(
                Self.line(#"{"event":"worker-ready","tenant":"a","worker":"a#1","port":20001}"#)
            )
        else {
            Issue.record("no event")
            return
        }
        #expect(event.worker == WorkerID(tenant: "a", serial: 1))
        #expect(event.port == 20001)
    }

    @Test(
        "refusals end the conversation: of hello, of subscribe, or of the connection in a reply without an id",
        arguments: [
            (false, [#"{"id":1,"error":{"code":"unsupported-version","message":"no"}}"#]),
            (true, [helloReply, #"{"id":2,"error":{"code":"internal","message":"no"}}"#]),
            (false, [#"{"id":null,"error":{"code":"permission-denied","message":"no"}}"#]),
            (false, [helloReply, #"{"id":null,"error":{"code":"too-many-connections","message":"no"}}"#]),
            (false, [helloReply, #"{"id":null,"error":{"code":"line-too-long","message":"no"}}"#]),
        ]
    )
    func refusals(subscribes: Bool, lines: [String]) {
        var conversation = ControlConversation(client: .clusterctl, subscribes: subscribes)
        var last: ControlConversation.Received = .nothing
        for text in lines { last = conversation.received(Self.line(text)) }
        guard case .refused(let error) = last else {
            Issue.record("not refused: \(last)")
            return
        }
        #expect(error.message == "no")
        #expect(conversation.phase == .closed)
    }

    @Test("a reply without an id that is not a refusal, once ready, is the answer to the request in flight")
    func idlessError() {
        var conversation = ControlConversation(client: .clusterctl)
        _ = conversation.received(Self.line(Self.helloReply))
        guard
            case .reply(nil, .failure(let error)) = conversation.received(
                Self.line(#"{"id":null,"error":{"code":"malformed","message":"bad"}}"#)
            )
        else {
            Issue.record("not returned as a reply")
            return
        }
        #expect(error.code == .malformed)
        #expect(conversation.phase == .ready)
    }

    @Test(
        "what is not of the protocol ends it; blank lines are nothing",
        arguments: ["HTTP/1.1 400 Bad Request", "[1,2]", #"{"id":1,"result":{"no":"hello"}}"#]
    )
    func unreadable(_ text: String) {
        var conversation = ControlConversation(client: .clusterctl)
        guard case .nothing = conversation.received(Self.line("  \r")) else {
            Issue.record("blank line acted on")
            return
        }
        guard case .unreadable = conversation.received(Self.line(text)) else {
            Issue.record("\(text) accepted")
            return
        }
        #expect(conversation.phase == .closed)
    }

    @Test("reconnect backoff: doubles from 100 ms to 5 s, starts over after a connection that lasted")
    func backoff() {
        var backoff = ReconnectBackoff()
        let waits = (0..<8).map { _ in backoff.ended(after: .zero) }
        #expect(
            waits == [
                .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600),
                .milliseconds(3200), .seconds(5), .seconds(5),
            ]
        )
        #expect(backoff.ended(after: .seconds(4)) == .seconds(5))
        #expect(backoff.ended(after: .seconds(6)) == .milliseconds(100))
        #expect(backoff.ended(after: .zero) == .milliseconds(200))
    }
}

@Suite("Events a later clusterd may send")
struct LaterEventTests {
    @Test("an event whose worker is not a worker id is still read, without the worker")
    func oddWorkerField() throws {
        guard case .event(let event)? = IncomingLine(Array(#"{"event":"tenant-moved","worker":{"node":"b"}}"#.utf8))
        else {
            Issue.record("not read as an event")
            return
        }
        #expect(event.event.rawValue == "tenant-moved")
        #expect(event.worker == nil)
    }
}

@Suite("ControlClient as a subscriber")
struct ControlClientSubscriberTests {
    @Test("after subscribe: events as they come, nil when none comes within the wait, replies skipped")
    func events() throws {
        let snapshot =
            #"{"snapshot":{"max_workers":4,"workers_total":0,"shutting_down":false,"tenants":[]}}"#
        let fake = try FakeClusterd { request in
            switch request.operation {
            case .hello: return nil
            case .subscribe:
                return .lines([
                    #"{"id":\#(request.id),"result":\#(snapshot)}"#,
                    #"{"id":99,"result":{}}"#,
                    #"{"event":"worker-ready","tenant":"a","worker":"a#1","port":20001}"#,
                ])
            default: return .silence
            }
        }
        let client = try ControlClient(socketPath: fake.path, timeout: .seconds(5))
        try client.hello()
        guard case .success(let value) = try client.request(.subscribe) else {
            Issue.record("subscribe refused")
            return
        }
        #expect(try value.decode(as: SubscribeReply.self).snapshot.maxWorkers == 4)
        let event = try client.nextEvent(waitingAtMost: .seconds(5))
        #expect(event?.worker == "a#1")
        let started = ContinuousClock.now
        #expect(try client.nextEvent(waitingAtMost: .milliseconds(200)) == nil)
        #expect(ContinuousClock.now - started >= .milliseconds(150))
    }
}
