import ClusterControl
import ClusterCore
import Foundation
import Testing

@testable import ClusterSupervisor

/// `state_dir/runtime.json` is written by hand (it is rewritten on every worker start and exit) and read back
/// with JSONDecoder: what is saved must load as it was, whatever the strings hold.
@Suite("Runtime record")
struct RuntimeRecordTests {
    static func record(statusText: String?, router: Bool) -> RuntimeRecord {
        let workers = (1...3).map { serial in
            RuntimeRecord.Entry(
                worker: AdoptedWorker(
                    id: WorkerID(tenant: serial == 2 ? "beta-2" : "acme", serial: serial),
                    port: 20_000 + serial,
                    pid: Int32(4000 + serial),
                    state: serial == 3 ? .starting : .ready,
                    // 2^53 + 1 ns (104 days of uptime): must come back exact, as no Double could hold it.
                    readyAt: serial == 3
                        ? nil : Instant(nanoseconds: serial == 1 ? 9_007_199_254_740_993 : 1_234_567_890),
                    statusText: serial == 1 ? statusText : nil
                ),
                startTime: UInt64(98_765 + serial)
            )
        }
        return RuntimeRecord(
            clusterdPID: 321,
            notifySocketPath: "@clusterd/321/notify-abc",
            workers: workers,
            router: router ? RuntimeRecord.Process(pid: 322, startTime: 99, listenerFDs: [3, 4]) : nil,
            nextSerials: ["acme": 4, "beta-2": 3]
        )
    }

    @Test(
        "what is saved loads back unchanged",
        arguments: [
            ("serving 3 sessions", true), ("quotes \" and \\ backslashes / slashes", false),
            ("a\nnew line, a\ttab, \u{1} and \u{7F}", true), ("ünïcödé ✓ 🚀", false), (nil, true),
        ] as [(String?, Bool)]
    )
    func roundTrip(statusText: String?, router: Bool) throws {
        let directory = NSTemporaryDirectory() + "runtime-record-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let original = Self.record(statusText: statusText, router: router)
        try original.save(to: directory)
        let loaded = try #require(RuntimeRecord.load(from: directory))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(loaded) == encoder.encode(original))
        #expect(loaded.workers.first?.worker.statusText == statusText)
        #expect(loaded.workers.first?.worker.readyAt == Instant(nanoseconds: 9_007_199_254_740_993))
    }
}

/// What older clusterds wrote must still be read, and what this one writes must read with the Codable types that
/// older clusterds decode with (an upgrade can fall back to the previous image).
@Suite("Runtime record and hand-over: compatible both ways")
struct StateFileCompatibilityTests {
    /// runtime.json exactly as clusterd at 820f76e wrote it (by hand, keys unsorted).
    static let olderRuntimeRecord = #"""
        {"version":1,"clusterdPID":321,"notifySocketPath":"@clusterd/321/notify-abc","workers":[{"startTime":98766,\#
        "worker":{"id":{"tenant":"acme","serial":1},"port":20001,"pid":4001,"state":"ready","readyAt":{"nanoseconds":\#
        9007199254740993},"statusText":"serving"}},{"startTime":98768,"worker":{"id":{"tenant":"acme","serial":3},\#
        "port":20003,"pid":4003,"state":"starting"}}],"router":{"pid":322,"startTime":99,"listenerFDs":[3,4]},\#
        "nextSerials":{"acme":4}}
        """#

    @Test("a runtime record written by an older clusterd loads")
    func olderRuntimeRecordLoads() throws {
        let directory = NSTemporaryDirectory() + "runtime-record-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.olderRuntimeRecord.write(toFile: directory + "/runtime.json", atomically: true, encoding: .utf8)
        let record = try #require(RuntimeRecord.load(from: directory))
        #expect(record.clusterdPID == 321)
        #expect(record.workers.map(\.worker.id) == [WorkerID(tenant: "acme", serial: 1), "acme#3"])
        #expect(record.workers.map(\.worker.state) == [.ready, .starting])
        #expect(record.workers[0].worker.readyAt == Instant(nanoseconds: 9_007_199_254_740_993))
        #expect(record.workers[0].worker.statusText == "serving")
        #expect(record.router?.listenerFDs == [3, 4])
        #expect(record.nextSerials == ["acme": 4])
    }

    @Test("the hand-over as written here decodes with its Codable conformance, every field")
    func handoverReadsBack() throws {
        let worker = AdoptedWorker(
            id: "acme#2",
            port: 20002,
            pid: 4002,
            state: .draining,
            readyAt: Instant(nanoseconds: 9_007_199_254_740_993),
            statusText: "saving \"state\""
        )
        for (routerPID, outcome) in [(Int32(77), "rolled back: x" as String?), (nil, nil)] {
            let handover = Handover(
                notifySocketPath: "@clusterd/1/notify",
                notifyFD: 5,
                controlSocketFD: 6,
                controlSocketOwned: true,
                routerListenerFDs: [7, 8],
                routerPID: routerPID,
                workers: [Handover.HandedWorker(worker: worker, stdoutFD: 9, stderrFD: -1, isChild: false)],
                nextSerials: ["acme": 3],
                fallbackExecutableFD: 10,
                arguments: ["clusterd", "start", "--tenants", "/etc/clusterd/tenants.conf"],
                handovers: 2,
                outcome: outcome
            )
            var json = JSONTextWriter(pretty: false)
            json.write(handover)
            let decoded = try JSONDecoder().decode(Handover.self, from: Data(json.bytes))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            #expect(try encoder.encode(decoded) == encoder.encode(handover))
            // Byte for byte what the older clusterd's JSONEncoder wrote.
            #expect(
                String(decoding: json.bytes, as: UTF8.self)
                    == String(decoding: try encoder.encode(handover), as: UTF8.self)
            )
        }
    }
}
