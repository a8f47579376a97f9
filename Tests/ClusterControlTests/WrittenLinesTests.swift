import ClusterControl
import Foundation
import Testing

/// Snapshots, subscribe replies and events are written without JSONEncoder (they grow with the cluster); the bytes
/// must be exactly JSONEncoder's, every field included: a field added to these types and not to their writers
/// fails here, as long as `everything` below sets it.
@Suite("Snapshot and event lines, byte for byte as JSONEncoder writes them")
struct WrittenLinesTests {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func encoded(_ value: some Encodable) throws -> String {
        String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The reply line as JSONEncoder writes it.
    static func expectedReply(id: RequestID?, _ result: some Encodable) throws -> String {
        #"{"id":"# + (try encoded(id)) + #","result":"# + (try encoded(result)) + "}\n"
    }

    static let text = "a \"quoted\" \\ line\nand\ttabs \u{1}\u{1F}\u{7F} é€😀 e\u{301} /slash/"

    /// Every optional member set, strings that need escapes, negative and large numbers.
    static let everything = ClusterSnapshot(
        domain: "exämple.test",
        maxWorkers: 4096,
        workersTotal: 3,
        shuttingDown: true,
        tenants: [
            TenantSnapshot(
                name: "acme",
                state: .failed,
                hosts: ["acme.example.test", "www.acme.com", text],
                scale: 3,
                floor: 3,
                target: 3,
                maxWorkers: 8,
                queueLimit: 100,
                maxConcurrency: 16,
                waiting: 2,
                lastError: text,
                retryInMilliseconds: 4200,
                workers: [
                    WorkerSnapshot(
                        id: "acme#1",
                        pid: .max,
                        port: 65535,
                        state: .draining,
                        stopReason: "replaced",
                        inFlight: 3,
                        uptimeMilliseconds: 9_007_199_254_740_991,
                        idleInMilliseconds: -5,
                        status: text
                    ),
                    WorkerSnapshot(
                        id: "acme#2",
                        pid: nil,
                        port: 0,
                        state: .starting,
                        stopReason: nil,
                        inFlight: 0,
                        uptimeMilliseconds: nil,
                        idleInMilliseconds: nil,
                        status: ""
                    ),
                ]
            )
        ]
    )

    static let snapshots = [
        Fixtures.snapshot, everything, Fixtures.cluster(tenants: 300, workers: 40),
        ClusterSnapshot(domain: nil, maxWorkers: 1, workersTotal: 0, shuttingDown: false, tenants: []),
    ]

    @Test("status replies", arguments: 0..<snapshots.count)
    func statusReply(_ index: Int) throws {
        let snapshot = Self.snapshots[index]
        for id in [RequestID.number(7), .number(-1), .string("s\"1"), nil] {
            #expect(ControlCodec.reply(id: id, snapshot).text == (try Self.expectedReply(id: id, snapshot)))
        }
    }

    @Test("subscribe replies", arguments: 0..<snapshots.count)
    func subscribeReply(_ index: Int) throws {
        let reply = SubscribeReply(snapshot: Self.snapshots[index])
        #expect(ControlCodec.reply(id: .number(2), reply).text == (try Self.expectedReply(id: .number(2), reply)))
    }

    static var events: [ControlEvent] {
        var everyField = ControlEvent(event: .workerGone, tenant: "acme", worker: "acme#1")
        everyField.port = 20000
        everyField.pid = 4242
        everyField.reason = text
        everyField.exit = "killed by signal 9 (SIGKILL)"
        everyField.exitCode = -1
        everyField.signal = 9
        everyField.retryAfterMilliseconds = 30_000
        everyField.snapshot = everything
        var reloaded = ControlEvent(event: .configurationReloaded)
        reloaded.snapshot = Fixtures.cluster(tenants: 100, workers: 10)
        return RoundTripTests.events + [everyField, reloaded, ControlEvent(event: .init(rawValue: "from-the-future"))]
    }

    @Test("events")
    func eventLines() throws {
        for event in Self.events {
            #expect(ControlCodec.event(event).text == (try Self.encoded(event)) + "\n")
        }
    }
}
