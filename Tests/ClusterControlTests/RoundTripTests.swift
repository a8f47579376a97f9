import ClusterControl
import ClusterCore
import Testing

/// What clusterd writes, read back the way a client reads it: encode → `IncomingLine` → decode.
@Suite("Replies and events round trip")
struct RoundTripTests {
    /// Encodes `result` as the reply to `id`, reads the line as a client and decodes the result as `T`.
    func roundTrip<T: Codable & Equatable & JSONTextWritable>(_ result: T, id: RequestID = .number(7)) throws -> T {
        let line = ControlCodec.reply(id: id, result)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")), "one line: \(line.text)")
        guard case .reply(let replyID, .success(let value))? = IncomingLine(line.dropLast()) else {
            Issue.record("not read back as a successful reply: \(line.text)")
            return result
        }
        #expect(replyID == id)
        return try value.decode(as: T.self)
    }

    @Test("hello") func hello() throws {
        let reply = HelloReply(version: 1, pid: 123)
        #expect(try roundTrip(reply) == reply)
        #expect(
            ControlCodec.reply(id: .number(1), reply).text
                == #"{"id":1,"result":{"pid":123,"server":"clusterd","version":1}}"# + "\n"
        )
    }

    @Test("empty") func empty() throws {
        #expect(try roundTrip(EmptyReply(), id: .string("x")) == EmptyReply())
        #expect(ControlCodec.reply(id: .string("x"), EmptyReply()).text == #"{"id":"x","result":{}}"# + "\n")
    }

    @Test("scale") func scale() throws {
        let reply = ScaleReply(scales: ["acme": 4, "beta": 1])
        #expect(try roundTrip(reply) == reply)
        #expect(try roundTrip(ScaleReply(scales: [:])) == ScaleReply(scales: [:]))
    }

    @Test("reload") func reload() throws {
        #expect(try roundTrip(ReloadReply(tenants: 3)) == ReloadReply(tenants: 3))
    }

    @Test("activate") func activate() throws {
        let reply = ActivateReply(workers: [
            WorkerEndpoint(id: "acme#1", port: 20000), WorkerEndpoint(id: "acme#2", port: 20001),
        ])
        #expect(try roundTrip(reply) == reply)
    }

    @Test("status: the snapshot, every field") func status() throws {
        let snapshot = Fixtures.snapshot
        #expect(try roundTrip(snapshot) == snapshot)
        #expect(snapshot.tenants.map(\.name) == ["acme", "beta", "gamma"])
        #expect(snapshot.tenants[0].workers[1].stopReason == "replaced")
        #expect(snapshot.tenants[1].retryInMilliseconds == 4200)
        #expect(snapshot.domain == "example.test")
        let noDomain = ClusterSnapshot(domain: nil, maxWorkers: 1, workersTotal: 0, shuttingDown: true, tenants: [])
        #expect(try roundTrip(noDomain) == noDomain)
    }

    @Test("subscribe") func subscribe() throws {
        let reply = SubscribeReply(snapshot: Fixtures.snapshot)
        #expect(try roundTrip(reply) == reply)
    }

    @Test("the snapshot's keys on the wire are snake_case, as documented")
    func snapshotKeys() throws {
        let line = ControlCodec.reply(id: .number(1), Fixtures.snapshot).text
        for key in [
            "\"max_workers\"", "\"workers_total\"", "\"shutting_down\"", "\"queue_limit\"", "\"max_concurrency\"",
            "\"last_error\"", "\"retry_in_ms\"", "\"stop_reason\"", "\"in_flight\"", "\"uptime_ms\"", "\"idle_in_ms\"",
        ] {
            #expect(line.contains(key), "\(key) in \(line)")
        }
    }

    @Test("an error reply: code, message, details, retry_after_ms and the id")
    func errorReply() throws {
        let errors = [
            ControlError(.unknownTenant, #"no tenant named "zeta""#),
            ControlError(
                .invalidConfiguration,
                "tenants.conf has 2 errors; nothing changed",
                details: [
                    "tenants.conf:12: tenant.acme.x: unknown key", "tenants.conf:14: tenant.beta.idle_timeout: bad",
                ]
            ),
            ControlError(.tenantFailed, "acme failed 5 times in 60s", retryAfterMilliseconds: 4000),
            ControlError(ControlError.Code(rawValue: "a-code-from-the-future"), "newer clusterd"),
        ]
        for (index, error) in errors.enumerated() {
            for id in [RequestID.number(index), .string("e\(index)"), nil] {
                let line = ControlCodec.reply(id: id, error: error)
                guard case .reply(let replyID, .failure(let decoded))? = IncomingLine(line.dropLast()) else {
                    Issue.record("not read back as an error reply: \(line.text)")
                    continue
                }
                #expect(replyID == id)
                #expect(decoded == error)
            }
        }
        #expect(
            ControlCodec.reply(id: nil, error: ControlError(.tenantFailed, "m", retryAfterMilliseconds: 5)).text
                == #"{"error":{"code":"tenant-failed","message":"m","retry_after_ms":5},"id":null}"# + "\n"
        )
    }

    static let events: [ControlEvent] = {
        var starting = ControlEvent(event: .workerStarting, tenant: "acme", worker: "acme#1")
        starting.port = 20000
        starting.pid = 14874
        var ready = ControlEvent(event: .workerReady, tenant: "acme", worker: "acme#1")
        ready.port = 20000
        var draining = ControlEvent(event: .workerDraining, tenant: "acme", worker: "acme#1")
        draining.reason = "idle"
        var goneExit = ControlEvent(event: .workerGone, tenant: "acme", worker: "acme#1")
        goneExit.reason = "idle"
        goneExit.exit = "exited with status 0"
        goneExit.exitCode = 0
        var goneSignal = ControlEvent(event: .workerGone, tenant: "acme", worker: "acme#2")
        goneSignal.reason = "failed"
        goneSignal.exit = "killed by signal 9 (SIGKILL)"
        goneSignal.signal = 9
        var failed = ControlEvent(event: .tenantFailed, tenant: "beta")
        failed.reason = "5 failed starts within 60s"
        failed.retryAfterMilliseconds = 30_000
        let recovered = ControlEvent(event: .tenantRecovered, tenant: "beta")
        var reloaded = ControlEvent(event: .configurationReloaded)
        reloaded.snapshot = Fixtures.snapshot
        var overflow = ControlEvent(event: .overflow)
        overflow.reason = "more than 10000 events unread"
        return [starting, ready, draining, goneExit, goneSignal, failed, recovered, reloaded, overflow]
    }()

    @Test("every event kind", arguments: events)
    func event(_ event: ControlEvent) throws {
        let line = ControlCodec.event(event)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        guard case .event(let decoded)? = IncomingLine(line.dropLast()) else {
            Issue.record("not read back as an event: \(line.text)")
            return
        }
        #expect(decoded == event)
    }

    @Test("events made from the state machine's events carry what the protocol document promises")
    func eventsFromClusterEvents() throws {
        let id = WorkerID(tenant: "acme", serial: 3)
        let snapshot = Fixtures.snapshot
        let cases: [(ClusterEvent, String)] = [
            (
                .workerStarting(id, port: 20005, pid: 99),
                #"{"event":"worker-starting","pid":99,"port":20005,"tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .workerReady(id, port: 20005),
                #"{"event":"worker-ready","port":20005,"tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .workerDraining(id, reason: .idle),
                #"{"event":"worker-draining","reason":"idle","tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .workerGone(id, exit: .exited(0), reason: .idle),
                #"{"event":"worker-gone","exit":"exited with status 0","exit_code":0,"reason":"idle","tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .workerGone(id, exit: .signaled(9), reason: nil),
                #"{"event":"worker-gone","exit":"killed by signal 9 (SIGKILL)","reason":"failed","signal":9,"tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .workerGone(id, exit: nil, reason: .startTimedOut),
                #"{"event":"worker-gone","exit":"never started","reason":"start-timeout","tenant":"acme","worker":"acme#3"}"#
            ),
            (
                .tenantFailed("acme", reason: "crash loop", retryAfter: .milliseconds(1500)),
                #"{"event":"tenant-failed","reason":"crash loop","retry_after_ms":1500,"tenant":"acme"}"#
            ),
            (.tenantRecovered("acme"), #"{"event":"tenant-recovered","tenant":"acme"}"#),
        ]
        for (clusterEvent, expected) in cases {
            #expect(ControlCodec.event(ControlEvent(clusterEvent, snapshot: snapshot)).text == expected + "\n")
        }
        let reloaded = ControlEvent(.configurationReloaded, snapshot: snapshot)
        #expect(reloaded.event == .configurationReloaded)
        #expect(reloaded.snapshot == snapshot)
    }

    @Test("a client ignores what it does not know: unknown fields, unknown event kinds")
    func unknownFieldsIgnored() throws {
        let reply = IncomingLine(
            Array(#"{"id":1,"result":{"pid":5,"server":"clusterd","version":1,"features":["x"]},"trace":"t"}"#.utf8)
        )
        guard case .reply(.number(1)?, .success(let value))? = reply else {
            Issue.record("\(String(describing: reply))")
            return
        }
        #expect(try value.decode(as: HelloReply.self) == HelloReply(version: 1, pid: 5))

        let event = IncomingLine(
            Array(#"{"event":"worker-paused","tenant":"acme","worker":"acme#1","since_ms":5}"#.utf8)
        )
        guard case .event(let decoded)? = event else {
            Issue.record("\(String(describing: event))")
            return
        }
        #expect(decoded.event.rawValue == "worker-paused")
        #expect(decoded.worker == "acme#1")

        let error = IncomingLine(Array(#"{"id":"a","error":{"code":"new-code","message":"m","hint":"h"}}"#.utf8))
        guard case .reply(.string("a")?, .failure(let decodedError))? = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(decodedError.code.rawValue == "new-code")
    }

    @Test(
        "lines that are not of the protocol are not taken for replies",
        arguments: [
            "", "hello", "[]", "42", #"{"id":1}"#, #"{"id":1,"error":"boom"}"#,
            #"{"id":1,"error":{"message":"no code"}}"#,
            "HTTP/1.1 400 Bad Request",
        ]
    )
    func notProtocol(_ line: String) {
        #expect(IncomingLine(Array(line.utf8)) == nil)
    }
}
