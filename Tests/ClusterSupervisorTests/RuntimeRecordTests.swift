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
