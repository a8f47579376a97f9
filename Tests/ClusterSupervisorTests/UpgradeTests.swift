import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// `clusterctl upgrade`: clusterd re-executes in place and keeps its workers.
    @Suite("In-place upgrade")
    struct Upgrade {
        static let tenants = """
            [tenant.acme]
            command = ["\(Paths.demoWorker)"]
            max_workers = 2
            """

        @Test("three upgrades under load: no failed request, the same workers, sessions keep their counts, no fd leak")
        func upgradesUnderLoad() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 2])).isSuccess)
            try Self.waitForReady(clusterd, count: 2)
            let before = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            // Two sessions with their counters in the workers' memory.
            var cookies = ["", ""]
            for session in 0..<2 {
                let response = try #require(HTTPGet.get(port: port, path: "/count", host: "acme.example.test"))
                cookies[session] = response.setCookies.joined(separator: "; ")
            }
            let fdsBefore = clusterd.openFDs()

            let load = Self.steadyLoad(port: port, cookie: cookies[0])
            for round in 1...3 {
                let result = try ClusterctlEndToEnd.clusterctl(["--socket", clusterd.socketPath, "upgrade"])
                #expect(result.status == 0, "upgrade \(round): \(result.errors)")
                #expect(result.output.contains("\(round) upgrade"))
            }
            let (ok, failed, counts) = load.finish()
            #expect(failed == 0, "no request failed during the upgrades (\(ok) ok)")
            #expect(counts == Array(2...(counts.count + 1)), "the session's counter went on without a reset")
            #expect(try clusterd.snapshot().tenant("acme").workers.map(\.pid) == before, "no worker restarted")
            let second = HTTPGet.get(
                port: port,
                path: "/count",
                host: "acme.example.test",
                headers: ["Cookie: \(cookies[1])"]
            )
            #expect(
                second?.body.contains("\"count\":2") == true,
                "the other session's state survived: \(second?.body ?? "")"
            )
            #expect(clusterd.openFDs() <= fdsBefore, "no fd leaked across the execs")
            #expect(clusterd.process.isRunning, "the same clusterd process (pid) serves on")
        }

        @Test("a new binary that fails its check is refused, and the old one serves on")
        func brokenBinaryRefused() throws {
            let directory = Paths.temporaryDirectory("upgrade")
            let binary = directory + "/clusterd"
            try FileManager.default.copyItem(atPath: Paths.clusterd, toPath: binary)
            let clusterd = try ClusterdProcess(tenants: Self.tenants, executable: binary)
            let client = try clusterd.client()
            #expect(client.request(.start(tenant: "acme")).isSuccess)
            let pid = try clusterd.snapshot().tenant("acme").workers.first?.pid
            try Self.install(script: "#!/bin/sh\nexit 1\n", at: binary)
            let result = try ClusterctlEndToEnd.clusterctl(["--socket", clusterd.socketPath, "upgrade"])
            #expect(result.status == 1)
            #expect(result.errors.contains("not upgrading"), "\(result.errors)")
            #expect(try clusterd.snapshot().tenant("acme").workers.first?.pid == pid)
        }

        @Test("a new binary that cannot take over goes back to the old one, workers kept")
        func rollback() throws {
            let directory = Paths.temporaryDirectory("rollback")
            let binary = directory + "/clusterd"
            let real = directory + "/clusterd.real"
            try FileManager.default.copyItem(atPath: Paths.clusterd, toPath: binary)
            try FileManager.default.copyItem(atPath: Paths.clusterd, toPath: real)
            let clusterd = try ClusterdProcess(tenants: Self.tenants, executable: binary)
            let client = try clusterd.client()
            #expect(client.request(.start(tenant: "acme")).isSuccess)
            let pid = try clusterd.snapshot().tenant("acme").workers.first?.pid
            // Passes `check`, but as `start` it cannot load its tenants file: it must hand back.
            try Self.install(
                script: """
                    #!/bin/sh
                    if [ "$1" = check ]; then exec \(real) "$@"; fi
                    exec \(real) start --tenants /nonexistent/tenants.conf --no-router
                    """,
                at: binary
            )
            let result = try ClusterctlEndToEnd.clusterctl(["--socket", clusterd.socketPath, "upgrade"])
            #expect(result.status == 1)
            #expect(result.errors.contains("rolled back"), "\(result.errors)")
            #expect(clusterd.process.isRunning)
            #expect(try clusterd.snapshot().tenant("acme").workers.first?.pid == pid, "the worker was kept")
            #expect(clusterd.log().contains("rolled back"))
        }

        static func install(script: String, at path: String) throws {
            let temporary = path + ".new"
            try script.write(toFile: temporary, atomically: true, encoding: .utf8)
            chmod(temporary, 0o755)
            rename(temporary, path)
        }

        static func waitForReady(_ clusterd: ClusterdProcess, count: Int) throws {
            let deadline = ContinuousClock.now + .seconds(10)
            while try clusterd.snapshot().tenant("acme").workers.filter({ $0.state == .ready }).count < count {
                guard ContinuousClock.now < deadline else { throw TimedOut(what: "\(count) ready workers", events: []) }
                usleep(20_000)
            }
            usleep(300_000)  // the router hears of them
        }

        /// Requests in a loop on a thread (one session), until `finish()`.
        static func steadyLoad(port: Int, cookie: String) -> SteadyLoad {
            let load = SteadyLoad()
            let thread = Thread {
                while !load.stopped {
                    let response = HTTPGet.get(
                        port: port,
                        path: "/count",
                        host: "acme.example.test",
                        headers: ["Cookie: \(cookie)"],
                        timeoutSeconds: 30
                    )
                    load.record(response)
                    usleep(5_000)
                }
                load.done.signal()
            }
            thread.start()
            return load
        }
    }
}

final class SteadyLoad: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0
    private var failed = 0
    private var counts: [Int] = []
    private var stop = false
    let done = DispatchSemaphore(value: 0)

    var stopped: Bool { lock.withLock { stop } }

    func record(_ response: HTTPResponse?) {
        lock.withLock {
            guard let response, response.status == 200 else {
                failed += 1
                return
            }
            ok += 1
            if let range = response.body.range(of: "\"count\":"),
                let count = Int(response.body[range.upperBound...].prefix { $0.isNumber })
            {
                counts.append(count)
            }
        }
    }

    func finish() -> (ok: Int, failed: Int, counts: [Int]) {
        lock.withLock { stop = true }
        done.wait()
        return lock.withLock { (ok, failed, counts) }
    }
}
