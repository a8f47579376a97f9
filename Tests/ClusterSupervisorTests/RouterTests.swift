import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// clusterd with its router child, real demo workers and real HTTP clients.
    @Suite("Router")
    struct Router {
        static let tenants = """
            [defaults]
            command = ["\(Paths.demoWorker)"]
            idle_timeout = "5m"

            [tenant.acme]
            hosts = ["www.acme.test"]
            max_workers = 3

            [tenant.beta]
            """

        @Test("a cold request starts the tenant and answers 200 with X-Clusterd-Cold-Start; unknown hosts get 404")
        func coldStart() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            let cold = try #require(HTTPGet.get(port: port, path: "/", host: "beta.example.test"))
            #expect(cold.status == 200)
            #expect(cold.body == "hello from beta\n")
            #expect(cold.headers["x-clusterd-cold-start"].flatMap(Int.init) != nil)
            let warm = try #require(HTTPGet.get(port: port, path: "/", host: "BETA.example.test:8080"))
            #expect(warm.status == 200)
            #expect(warm.headers["x-clusterd-cold-start"] == nil)
            #expect(HTTPGet.get(port: port, path: "/", host: "www.acme.test")?.body == "hello from acme\n")
            let unknown = try #require(HTTPGet.get(port: port, path: "/", host: "nobody.example.test"))
            #expect(unknown.status == 404)
            #expect(unknown.body.contains("nobody.example.test"))
        }

        @Test("500 concurrent first requests to a cold tenant: one worker, no error")
        func herd() throws {
            let clusterd = try ClusterdProcess(
                tenants: """
                    [tenant.acme]
                    command = ["\(Paths.demoWorker)", "--start-delay", "300"]
                    queue_limit = 1000
                    """,
                router: true
            )
            let port = try #require(clusterd.routerPort)
            let result = try Self.load(["herd", "http://127.0.0.1:\(port)", "acme.example.test", "500"])
            #expect(result["statuses"] as? [String: Int] == ["200": 500], "\(result)")
            #expect((result["workers"] as? [String: Int])?.count == 1)
            #expect(clusterd.log().components(separatedBy: "worker starting").count - 1 == 1)
        }

        @Test("3 workers, 50 sessions x 20 requests: every session's count goes up by one on its own worker")
        func stickySessions() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 3])).isSuccess)
            let deadline = ContinuousClock.now + .seconds(10)
            while try clusterd.snapshot(client).tenant("acme").workers.filter({ $0.state == .ready }).count < 3 {
                guard ContinuousClock.now < deadline else { throw TimedOut(what: "3 ready workers", events: []) }
                usleep(20_000)
            }
            usleep(200_000)  // let the router hear of all three
            let result = try Self.load(["sessions", "http://127.0.0.1:\(port)", "acme.example.test", "50", "20"])
            #expect(result["strictly_increasing"] as? Bool == true, "\(result["bad_sessions"] ?? "")")
            #expect(result["sessions_on_one_worker"] as? Int == 50)
            #expect(result["failures"] as? Int == 0)
            let spread = try #require(result["requests_per_worker"] as? [String: Int])
            #expect(spread.count == 3, "load spreads over all 3 workers: \(spread)")
        }

        @Test("idle-out: not during a request 3x longer than idle_timeout, nor under an open WebSocket; then yes")
        func idleOutUnderTraffic() throws {
            let clusterd = try ClusterdProcess(
                tenants: """
                    [tenant.acme]
                    command = ["\(Paths.demoWorker)"]
                    idle_timeout = "1s"

                    [tenant.ws]
                    command = ["python3", "\(Paths.upgradeWorker)"]
                    idle_timeout = "1s"
                    """,
                router: true
            )
            let port = try #require(clusterd.routerPort)
            let long = try #require(
                HTTPGet.get(port: port, path: "/sleep?ms=3000", host: "acme.example.test", timeoutSeconds: 10)
            )
            #expect(long.status == 200, "the worker was not idled out under a 3 s request")
            #expect(clusterd.log().components(separatedBy: "reason=idle").count - 1 == 0)

            // A WebSocket held open for 3 s, echoing.
            let socket = try #require(Self.connect(port: port))
            defer { close(socket) }
            Self.send(
                socket,
                "GET /chat HTTP/1.1\r\nHost: ws.example.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            )
            let upgrade = Self.receive(socket)
            #expect(upgrade.hasPrefix("HTTP/1.1 101"), "\(upgrade)")
            for round in 0..<6 {
                usleep(500_000)
                Self.send(socket, "ping \(round)")
                #expect(Self.receive(socket).contains("ping \(round)"))
            }
            #expect(!clusterd.log().contains("tenant=ws worker=ws#1 [ClusterSupervisor] worker draining"))
            close(socket)
            // Both are idle now: both go within idle_timeout plus the report interval.
            let deadline = ContinuousClock.now + .seconds(6)
            while clusterd.log().components(separatedBy: "reason=idle").count - 1 < 2, ContinuousClock.now < deadline {
                usleep(50_000)
            }
            #expect(clusterd.log().components(separatedBy: "reason=idle").count - 1 == 2, "both idled out once idle")
        }

        @Test("malformed and hostile requests get clear errors; clusterd's other clients are served meanwhile")
        func hostileRequests() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            let cases: [(String, String, Int)] = [
                (
                    "Content-Length and Transfer-Encoding",
                    "POST /echo HTTP/1.1\r\nHost: acme.example.test\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                    400
                ),
                (
                    "two different Content-Lengths",
                    "POST /echo HTTP/1.1\r\nHost: acme.example.test\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
                    400
                ),
                (
                    "Transfer-Encoding other than chunked",
                    "POST /echo HTTP/1.1\r\nHost: acme.example.test\r\nTransfer-Encoding: gzip\r\n\r\n", 400
                ),
                ("no Host", "GET / HTTP/1.1\r\n\r\n", 400),
                (
                    "oversized headers",
                    "GET / HTTP/1.1\r\nHost: acme.example.test\r\nX-Big: \(String(repeating: "a", count: 40_000))\r\n\r\n",
                    431
                ),
                ("garbage", "\u{1}\u{2}\u{3} nonsense\r\n\r\n", 400),
            ]
            for (name, request, status) in cases {
                let response = HTTPGet.exchange(port: port, request: request)
                #expect(
                    response?.status == status,
                    "\(name): \(response.map { "\($0.status) \($0.body)" } ?? "no response")"
                )
            }
            #expect(HTTPGet.get(port: port, path: "/", host: "acme.example.test")?.status == 200)
        }

        @Test("a slowloris client is cut off while other clients are served")
        func slowloris() throws {
            let clusterd = try ClusterdProcess(
                tenants: Self.tenants,
                router: true,
                routerArguments: ["--header-timeout", "1s"]
            )
            let port = try #require(clusterd.routerPort)
            let slow = try #require(Self.connect(port: port))
            defer { close(slow) }
            Self.send(slow, "GET / HTTP/1.1\r\nHost: acme.example.test\r\n")
            let started = ContinuousClock.now
            var served = 0
            var asked = 0
            // Every request of the other clients meanwhile is served (how many fit depends on the load).
            while ContinuousClock.now - started < .milliseconds(1500) {
                Self.send(slow, "X-Slow: 1\r\n")
                asked += 1
                if HTTPGet.get(port: port, path: "/", host: "acme.example.test")?.status == 200 { served += 1 }
                usleep(100_000)
            }
            #expect(asked >= 1 && served == asked, "other clients were served meanwhile: \(served) of \(asked)")
            let answer = Self.receive(slow)
            #expect(answer.hasPrefix("HTTP/1.1 408"), "the slow client got 408: \(answer.prefix(80))")
        }

        @Test("a worker that stops accepting while clusterd still lists it: the request waits for its exit, no 502")
        func workerStopsListening() throws {
            let clusterd = try ClusterdProcess(
                tenants: """
                    [tenant.gamma]
                    command = ["/usr/bin/env", "python3", "\(Paths.fixture("hostile-worker.py"))", "stop-listening", "0.5"]
                    readiness = "tcp"
                    """,
                router: true
            )
            let port = try #require(clusterd.routerPort)
            #expect(HTTPGet.get(port: port, path: "/", host: "gamma.example.test", timeoutSeconds: 10)?.status == 200)
            let deadline = ContinuousClock.now + .seconds(10)
            while !clusterd.log().contains("hostile-worker: stopped listening") {
                guard ContinuousClock.now < deadline else { throw TimedOut(what: "the worker to stop", events: []) }
                usleep(10_000)
            }
            // gamma#1 refuses connections and lives 0.5 s more; clusterd lists it as ready until it exits. The
            // router holds it out of routing instead of retrying it (and failing with 502 at once).
            let next = HTTPGet.get(port: port, path: "/", host: "gamma.example.test", timeoutSeconds: 30)
            #expect(next?.status == 200, "\(next.map { "\($0.status) \($0.body)" } ?? "no response")")
            let workers = try clusterd.snapshot().tenant("gamma").workers
            #expect(workers.map(\.id) == ["gamma#2"], "a new worker answered")
        }

        @Test("killing a worker mid-request gives 502, and the next request succeeds on a new worker")
        func workerKilledMidRequest() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            // Activated without a request through the router (the reply comes once it is ready): the request below
            // is the first on its connection to the worker. On a kept-alive connection it would, being a GET, be
            // sent again to a new worker.
            #expect(try clusterd.client().request(.activate(tenant: "beta", additional: false)).isSuccess)
            let ready = try clusterd.snapshot().tenant("beta").workers.filter { $0.state == .ready }
            let pid = try #require(ready.first?.pid)
            let request = Background {
                HTTPGet.get(port: port, path: "/sleep?ms=30000", host: "beta.example.test", timeoutSeconds: 60)
                    .map { "\($0.status) \($0.body)" }
            }
            // Killed once the router reports the request in flight on it (not after a guessed delay: under load
            // the request could reach the worker only after the kill, and a new worker would answer it).
            let deadline = ContinuousClock.now + .seconds(30)
            while try clusterd.snapshot().tenant("beta").workers.first(where: { $0.pid == pid })?.inFlight != 1 {
                guard ContinuousClock.now < deadline else { throw TimedOut(what: "the request in flight", events: []) }
                usleep(20_000)
            }
            kill(pid, SIGKILL)
            let broken = request.result() ?? "no response"
            #expect(broken.hasPrefix("502 "), "\(broken)")
            let next = HTTPGet.get(port: port, path: "/whoami", host: "beta.example.test", timeoutSeconds: 10)
            #expect(
                next?.status == 200,
                "\(next.map { "\($0.status) \($0.body)" } ?? "no response")\n\(clusterd.log().suffix(6000))"
            )
            #expect(
                next?.body.contains("\"worker\":\"beta#") == true && next?.body.contains("beta#1\"") == false,
                "a new worker answered: \(next?.body ?? "")"
            )
        }

        @Test("restarting the router process loses no worker, and requests keep succeeding")
        func routerRestart() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            #expect(HTTPGet.get(port: port, path: "/count", host: "acme.example.test")?.status == 200)
            let before = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            let router = try #require(clusterd.routerPID())
            kill(router, SIGKILL)
            var failures = 0
            for _ in 0..<30 {
                if HTTPGet.get(port: port, path: "/", host: "acme.example.test", timeoutSeconds: 10)?.status != 200 {
                    failures += 1
                }
                usleep(20_000)
            }
            #expect(failures == 0, "the listener stayed with clusterd: requests queued while the router restarted")
            #expect(clusterd.routerPID() != router)
            #expect(try clusterd.snapshot().tenant("acme").workers.map(\.pid) == before, "no worker lost")
        }

        @Test("queue_limit reaches the router: a request beyond it gets 503 with Retry-After while one waits")
        func queueLimit() throws {
            // A worker that takes 5 s to say READY=1: the first request waits in the queue that whole time.
            let clusterd = try ClusterdProcess(
                tenants: """
                    [tenant.slow]
                    command = ["\(Paths.demoWorker)", "--start-delay", "5000"]
                    readiness = "notify"
                    queue_limit = 1
                    """,
                router: true
            )
            let port = try #require(clusterd.routerPort)
            let first = Background {
                HTTPGet.get(port: port, path: "/", host: "slow.example.test", timeoutSeconds: 30)?.status
            }
            // clusterd starting the worker means the router holds the first request in the tenant's queue.
            let deadline = ContinuousClock.now + .seconds(4)
            while try clusterd.snapshot().tenant("slow").state != .starting, ContinuousClock.now < deadline {
                usleep(20_000)
            }
            let refused = try #require(HTTPGet.get(port: port, path: "/", host: "slow.example.test"))
            #expect(refused.status == 503)
            #expect(refused.headers["retry-after"] == "1")
            #expect(refused.body == "too many requests waiting for tenant slow (queue_limit 1)\n")
            #expect(first.result() == 200, "the queued request is served once the worker is ready")
        }

        @Test("a worker that exits before it is ready: 502 with the reason as plain text")
        func startFailed() throws {
            let clusterd = try ClusterdProcess(
                tenants: """
                    [tenant.broken]
                    command = ["/bin/sh", "-c", "exit 3"]
                    readiness = "notify"
                    """,
                router: true
            )
            let port = try #require(clusterd.routerPort)
            let response = try #require(HTTPGet.get(port: port, path: "/", host: "broken.example.test"))
            #expect(response.status == 502)
            #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(response.body.hasPrefix("tenant broken: "), "\(response.body)")
            #expect(response.body.contains("status 3"), "the reason names the exit: \(response.body)")
        }

        @Test("clusterd router, standalone: --control-socket and --listen, a cold tenant served, SIGTERM stops it")
        func standaloneRouter() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants)
            let port = PortBlocks.take(size: 1).lowerBound
            let log = clusterd.directory + "/router.log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let logFD = open(log, O_WRONLY | O_APPEND | O_CLOEXEC)
            defer { close(logFD) }
            let router = try Spawned(
                [Paths.clusterd, "router", "--control-socket", clusterd.socketPath, "--listen", "127.0.0.1:\(port)"],
                outputFD: logFD
            )
            defer {
                if router.isRunning {
                    kill(router.pid, SIGKILL)
                    _ = router.wait()
                }
            }
            let deadline = ContinuousClock.now + .seconds(15)
            var response: HTTPResponse?
            while response == nil, router.isRunning, ContinuousClock.now < deadline {
                response = HTTPGet.get(port: port, path: "/", host: "beta.example.test")
                if response == nil { usleep(50_000) }
            }
            let cold = try #require(
                response,
                "router log: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")"
            )
            #expect(cold.status == 200)
            #expect(cold.body == "hello from beta\n")
            #expect(cold.headers["x-clusterd-cold-start"].flatMap(Int.init) != nil)
            #expect(try clusterd.snapshot().tenant("beta").workers.count == 1, "clusterd started it for this router")
            kill(router.pid, SIGTERM)
            #expect(router.wait() == 0, "a graceful stop exits 0")
        }

        // MARK: - Helpers

        static func load(_ arguments: [String]) throws -> [String: Any] {
            let output = try ClusterctlEndToEnd.run(["/usr/bin/env", "python3", Paths.httpLoad] + arguments)
            let data = Data(output.output.utf8)
            return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any], "\(output.errors)")
        }

        static func connect(port: Int) -> Int32? {
            HTTPGet.connect(port: port)
        }

        static func send(_ fd: Int32, _ text: String) {
            _ = text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        }

        static func receive(_ fd: Int32) -> String {
            var buffer = [UInt8](repeating: 0, count: 65536)
            let got = recv(fd, &buffer, buffer.count, 0)
            return got > 0 ? String(decoding: buffer[0..<got], as: UTF8.self) : ""
        }
    }
}
