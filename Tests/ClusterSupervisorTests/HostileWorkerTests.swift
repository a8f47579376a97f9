import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// Workers that misbehave in every way a worker can, next to one that does not: clusterd and its router keep
    /// serving, each misbehaving tenant is named in the log, and the well-behaved tenant's client never notices.
    @Suite("Hostile workers")
    struct HostileWorkers {
        static func tenants(orphanPIDFile: String) -> String {
            let hostile = Paths.fixture("hostile-worker.py")
            return """
                [defaults]
                start_timeout = "2s"
                stop_timeout = "1s"
                drain_timeout = "1s"

                [tenant.steady]
                command = ["\(Paths.demoWorker)", "--threads", "1"]

                # notify mode, and never says READY=1: killed at start_timeout, a failed start.
                [tenant.neverready]
                command = ["/bin/sh", "-c", "echo never ready; exec sleep 1000"]
                readiness = "notify"

                # Ready at once (listen-fds: the kernel accepts), never reads nor answers a request.
                [tenant.hang]
                command = ["/bin/sh", "-c", "echo accepting and never answering; exec sleep 1000"]

                # Exits at once, every time: a crash loop.
                [tenant.crashloop]
                command = ["/bin/sh", "-c", "echo crashing; exit 7"]

                [tenant.flood]
                command = ["/usr/bin/env", "python3", "\(hostile)", "flood"]

                [tenant.ignoreterm]
                command = ["/usr/bin/env", "python3", "\(hostile)", "ignore-term"]

                [tenant.orphans]
                command = ["/usr/bin/env", "python3", "\(hostile)", "orphans", "\(orphanPIDFile)"]
                """
        }

        @Test(
            "never ready, hung, crash-looping, flooding, SIGTERM-deaf and forking workers: steady's client sees no failure",
            .timeLimit(.minutes(2))
        )
        func hostileNeighbours() async throws {
            let directory = Paths.temporaryDirectory("hostile")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let orphanPIDFile = directory + "/orphans"
            let clusterd = try ClusterdProcess(
                tenants: Self.tenants(orphanPIDFile: orphanPIDFile),
                router: true,
                routerArguments: ["--response-timeout", "3s"]
            )
            let port = try #require(clusterd.routerPort)
            try await eventually("clusterd logs its router's pid") { clusterd.routerPID() != nil }
            let routerPID = try #require(clusterd.routerPID())
            #expect(HTTPGet.get(port: port, host: "steady.example.test")?.status == 200)

            let steady = SteadyClient.start(port: port, host: "steady.example.test")

            // A request to the hung worker, on its own thread: whatever the router does with it, nothing else waits.
            let hung = Background { Self.timedGet(port: port, tenant: "hang", timeoutSeconds: 8) }

            // Never ready: the start fails at start_timeout, and the waiting request is told so.
            let neverReady = Self.timedGet(port: port, tenant: "neverready", timeoutSeconds: 10)
            #expect(neverReady.response?.status == 504, "\(neverReady)")
            #expect(neverReady.response?.body.contains("neverready") == true, "\(neverReady)")

            // Crash loop: every request is answered (502 while it crashes, 503 once it is in `failed`), none hangs.
            // Until the first 503: under CPU load the requests can be slow enough for the failed window (1.6 s after
            // five failures) to pass between two of them, and then a new start fails with 502 again.
            var crashStatuses: [Int] = []
            while crashStatuses.count < 30, crashStatuses.last != 503 {
                let answer = Self.timedGet(port: port, tenant: "crashloop", timeoutSeconds: 10)
                crashStatuses.append(answer.response?.status ?? 0)
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(crashStatuses.allSatisfy { [502, 503].contains($0) }, "\(crashStatuses)")
            #expect(crashStatuses.last == 503, "the crash-looping tenant ends up refused at once: \(crashStatuses)")
            // And stays refused, at once and with Retry-After, while it is failed.
            for _ in 0..<2 {
                let refused = Self.timedGet(port: port, tenant: "crashloop", timeoutSeconds: 10)
                #expect(refused.response?.status == 503, "\(refused)")
                #expect(refused.response?.headers["retry-after"] != nil, "\(refused)")
            }

            // Flood: served all the same, its output rate-limited.
            let floodStarted = ContinuousClock.now
            let flooded = Self.timedGet(port: port, tenant: "flood", timeoutSeconds: 10)
            #expect(flooded.response?.status == 200, "\(flooded)")
            try await eventually("the flood is rate-limited in the log", timeout: .seconds(10)) {
                Self.logLines(clusterd).contains { $0.contains("suppressed") && $0.contains("tenant=flood") }
            }

            // Ignores SIGTERM: stopped all the same, by SIGKILL after stop_timeout.
            #expect(Self.timedGet(port: port, tenant: "ignoreterm", timeoutSeconds: 10).response?.status == 200)
            let deaf = try #require(try clusterd.snapshot().tenant("ignoreterm").workers.first?.pid)
            let client = try clusterd.client()
            #expect(client.request(.stop(tenant: "ignoreterm")).isSuccess)
            try await eventually("the SIGTERM-deaf worker is killed", timeout: .seconds(10)) {
                !ProcessTable.isAlive(deaf)
            }

            // Forks children that ignore SIGTERM, then exits: its process group goes with it.
            #expect(Self.timedGet(port: port, tenant: "orphans", timeoutSeconds: 10).response?.status == 200)
            try await eventually("the orphans' pids are written") {
                FileManager.default.fileExists(atPath: orphanPIDFile)
            }
            let orphans = try String(contentsOfFile: orphanPIDFile, encoding: .utf8).split(separator: " ")
                .compactMap { Int32($0) }
            #expect(orphans.count == 2)
            try await eventually("the children the worker left behind are killed", timeout: .seconds(10)) {
                orphans.allSatisfy { !ProcessTable.isAlive($0) }
            }

            // The hung worker: the router gives up on it after --response-timeout with a clear error.
            let hungAnswer = hung.result()
            #expect(hungAnswer.response?.status == 504, "\(hungAnswer)")
            #expect(hungAnswer.response?.body.contains("did not answer within 3s") == true, "\(hungAnswer)")
            #expect(hungAnswer.elapsed < .seconds(15), "\(hungAnswer)")

            // Let the flood and the crash loop go on a little longer while steady is being served.
            try await Task.sleep(for: .seconds(2))
            let result = steady.finish()
            #expect(result.failures.isEmpty, "steady saw failures: \(result.failures.prefix(5)) (\(result.ok) ok)")
            #expect(result.ok > 50, "steady was served throughout: \(result.ok) ok")
            #expect(
                result.slowest < .seconds(5),
                "every steady request was answered in time: slowest \(result.slowest)"
            )
            #expect(clusterd.process.isRunning, "clusterd still runs")
            #expect(ProcessTable.isAlive(routerPID) && clusterd.routerPID() == routerPID, "the router never restarted")
            let lines = clusterd.log().split(separator: "\n")
            // The rate limit's own reports are rate-limited: one a second, not one per line let through.
            let floodSeconds = Int((ContinuousClock.now - floodStarted).components.seconds) + 1
            let reports = lines.count { $0.contains("suppressed") && $0.contains("tenant=flood") }
            #expect(reports <= floodSeconds + 2, "\(reports) suppression reports in \(floodSeconds) s of flood")
            // Each misbehaviour is in the log, on a line naming its tenant.
            let named = [
                ("neverready", "reason=start-timeout"), ("hang", "worker ready"), ("crashloop", "crash-looping"),
                ("flood", "suppressed"), ("ignoreterm", "SIGKILL"), ("orphans", "worker gone"),
            ]
            for (tenant, what) in named {
                #expect(
                    lines.contains { $0.contains("tenant=\(tenant) ") && $0.contains(what) },
                    "clusterd's log has \"\(what)\" for tenant \(tenant)"
                )
            }
            try await eventually("no zombie child of clusterd", timeout: .seconds(3)) {
                clusterd.zombieChildren().isEmpty
            }
            #expect(clusterd.stop() == 0, "clusterd stops cleanly, hostile workers and all")
        }

        static func logLines(_ clusterd: ClusterdProcess) -> [Substring] {
            clusterd.log().split(separator: "\n")
        }

        /// A GET to `tenant` with how long it took.
        static func timedGet(port: Int, tenant: String, timeoutSeconds: Int) -> TimedResponse {
            let started = ContinuousClock.now
            let response = HTTPGet.get(port: port, host: "\(tenant).example.test", timeoutSeconds: timeoutSeconds)
            return TimedResponse(response: response, elapsed: ContinuousClock.now - started)
        }
    }
}

struct TimedResponse: CustomStringConvertible, Sendable {
    var response: HTTPResponse?
    var elapsed: Duration
    var description: String {
        guard let response else { return "no response after \(elapsed)" }
        return "\(response.status) \(response.body.prefix(200)) after \(elapsed)"
    }
}

/// A value computed on its own thread.
final class Background<Value: Sendable>: @unchecked Sendable {
    private var value: Value?
    private let done = DispatchSemaphore(value: 0)

    init(_ body: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            value = body()
            done.signal()
        }
        thread.start()
    }

    func result() -> Value {
        done.wait()
        done.signal()
        return value!
    }
}

/// GETs in a loop on a thread, each on a fresh connection with a 5 s timeout, until `finish()`: the failures and
/// the slowest answer.
final class SteadyClient: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var failures: [String] = []
    private var slowest = Duration.zero
    private var stop = false
    private let done = DispatchSemaphore(value: 0)

    static func start(port: Int, host: String) -> SteadyClient {
        let client = SteadyClient()
        let thread = Thread {
            while !client.lock.withLock({ client.stop }) {
                let started = ContinuousClock.now
                let response = HTTPGet.get(port: port, path: "/count", host: host, timeoutSeconds: 5)
                client.record(response, elapsed: ContinuousClock.now - started)
                usleep(10_000)
            }
            client.done.signal()
        }
        thread.start()
        return client
    }

    private func record(_ response: HTTPResponse?, elapsed: Duration) {
        lock.withLock {
            slowest = max(slowest, elapsed)
            if let response, response.status == 200 {
                ok += 1
            } else {
                failures.append(response.map { "\($0.status) \($0.body.prefix(100))" } ?? "no answer in 5 s")
            }
        }
    }

    func finish() -> (ok: Int, failures: [String], slowest: Duration) {
        lock.withLock { stop = true }
        done.wait()
        return lock.withLock { (ok, failures, slowest) }
    }
}
