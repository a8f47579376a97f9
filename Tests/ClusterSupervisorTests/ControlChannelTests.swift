import ClusterControl
import ClusterCore
import ClusterSupervisor
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// The control channel of a real clusterd, driven by a real client over its Unix socket.
    @Suite("Control channel")
    struct ControlChannel {
        static let demoTenants = """
            [defaults]
            command = ["\(Paths.demoWorker)"]
            max_workers = 4

            [tenant.acme]
            hosts = ["www.acme.test"]

            [tenant.beta]
            """

        @Test("start, scale to 3, scale to 0: status shows it and the workers answer")
        func startAndScale() async throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let client = try clusterd.client()
            #expect(client.request(.start(tenant: "acme")).isSuccess)
            let started = try clusterd.snapshot(client)
            let acme = try #require(started.tenants.first { $0.name == "acme" })
            #expect(acme.hosts == ["www.acme.test"])
            let worker = try #require(acme.workers.first)
            #expect(worker.state == .ready)
            #expect(HTTPGet.get(port: worker.port)?.body == "hello from acme\n")

            #expect(client.request(.scale(["acme": 3])).isSuccess)
            try await eventually("3 ready workers") {
                try clusterd.snapshot(client).tenant("acme").workers.filter { $0.state == .ready }.count == 3
            }
            for worker in try clusterd.snapshot(client).tenant("acme").workers {
                #expect(HTTPGet.get(port: worker.port)?.status == 200)
            }
            #expect(client.request(.scale(["acme": 0])).isSuccess)
            try await eventually("no worker left") { try clusterd.snapshot(client).tenant("acme").workers.isEmpty }
            #expect(clusterd.stop() == 0)
        }

        @Test("errors are replies with codes; the connection stays usable")
        func errorReplies() throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let client = try clusterd.client()
            #expect(client.request(.start(tenant: "nope")).errorCode == .unknownTenant)
            #expect(
                client.request(.scale(["acme": 2, "nope": 1])).errorCode
                    == .unknownTenant
            )
            #expect(try clusterd.snapshot(client).tenant("acme").scale == nil, "a rejected scale applies to no tenant")
            #expect(client.request(raw: "frobnicate").errorCode == .unknownOperation)
            #expect(client.request(raw: "scale", ["tenants": .string("x")]).errorCode == .badRequest)
            client.send(Array("{not json\n".utf8))
            if case .reply(nil, .failure(let error))? = client.readIncoming() {
                #expect(error.code == .malformed)
            } else {
                Issue.record("malformed line should get an id-less error reply")
            }
            #expect(client.request(.status(tenant: nil)).isSuccess)
        }

        @Test("requests before hello are refused; an oversized line is answered and the connection closed")
        func helloAndLineLimits() throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let early = try #require(ControlTestClient(path: clusterd.socketPath))
            #expect(early.request(raw: "status").errorCode == .helloRequired)
            let old = try #require(ControlTestClient(path: clusterd.socketPath))
            #expect(old.request(raw: "hello", ["versions": .array([.number(0)])]).errorCode == .unsupportedVersion)
            #expect(old.readLine() == nil, "closed after an unsupported version")

            let huge = try clusterd.client()
            huge.send([UInt8](repeating: UInt8(ascii: "x"), count: ControlCodec.maximumLineLength + 10) + [10])
            if case .reply(_, .failure(let error))? = huge.readIncoming() {
                #expect(error.code == .lineTooLong)
            } else {
                Issue.record("expected line-too-long")
            }
            #expect(huge.readLine() == nil, "closed after an oversized line")
            #expect(try clusterd.snapshot().tenants.count == 2)
        }

        @Test("random bytes on many connections never crash clusterd; status still answers")
        func randomInput() throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            var generator = SeededGenerator(seed: 0xC0FFEE)
            let valid = [
                #"{"id":1,"op":"hello","versions":[1]}"#, #"{"id":2,"op":"status"}"#,
                #"{"id":3,"op":"scale","tenants":{"acme":1}}"#,
                #"{"id":4,"op":"activity","workers":[{"worker":"acme#1","in_flight":1}]}"#,
                #"{"id":5,"op":"activate","tenant":"beta"}"#, #"{"id":6,"op":"subscribe"}"#,
            ]
            for _ in 0..<40 {
                guard let client = ControlTestClient(path: clusterd.socketPath, timeoutSeconds: 2) else { continue }
                var sentHello = false
                for _ in 0..<50 {
                    var line: [UInt8]
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0:
                        line = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in
                            UInt8.random(in: 0...255, using: &generator)
                        }
                    case 1:
                        line = Array(valid.randomElement(using: &generator)!.utf8)
                        for _ in 0..<Int.random(in: 1...4, using: &generator) where !line.isEmpty {
                            line[Int.random(in: 0..<line.count, using: &generator)] = UInt8.random(
                                in: 0...255,
                                using: &generator
                            )
                        }
                    case 2:
                        line = Array(valid.randomElement(using: &generator)!.utf8)
                    default:
                        if !sentHello { sentHello = true }
                        line = Array(valid[0].utf8)
                    }
                    if !client.send(line + [10]) { break }
                }
            }
            let client = try clusterd.client()
            #expect(client.request(.status(tenant: nil)).isSuccess)
            #expect(clusterd.process.isRunning)
            #expect(!clusterd.log().contains("Fatal error"))
        }

        @Test("reload: an unchanged tenant keeps its pids; a broken file changes nothing and lists every error")
        func reload() async throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 2, "beta": 1])).isSuccess)
            try await eventually("3 ready workers") {
                try clusterd.snapshot(client).tenants.flatMap(\.workers).filter { $0.state == .ready }.count == 3
            }
            let before = try clusterd.snapshot(client)
            let config = try String(contentsOfFile: clusterd.configPath, encoding: .utf8)

            // beta's command changes (rolled); acme's does not (untouched).
            try clusterd.rewrite(
                config.replacingOccurrences(of: "[tenant.beta]", with: "[tenant.beta]\nenv = { CHANGED = \"1\" }")
            )
            #expect(client.request(.reload).isSuccess)
            try await eventually("beta rolled to a new worker") {
                let beta = try clusterd.snapshot(client).tenant("beta").workers
                return beta.count == 1 && beta[0].state == .ready && beta[0].id != before.tenant("beta").workers[0].id
            }
            let after = try clusterd.snapshot(client)
            #expect(after.tenant("acme").workers.map(\.pid) == before.tenant("acme").workers.map(\.pid))
            #expect(after.tenant("acme").scale == 2, "a scale set by clusterctl stays")

            try clusterd.rewrite(config + "\n[tenant.broken]\nmax_workers = \"x\"\nbogus = 1\n")
            guard case .failure(let error)? = client.request(.reload) else {
                Issue.record("a broken file must be refused")
                return
            }
            #expect(error.code == .invalidConfiguration)
            #expect(error.details?.count == 2)
            #expect(error.details?.contains { $0.contains("tenant.broken.max_workers") } == true)
            let unchanged = try clusterd.snapshot(client)
            #expect(unchanged.tenants.map(\.name) == ["acme", "beta"])
            #expect(unchanged.tenants.flatMap(\.workers).map(\.pid) == after.tenants.flatMap(\.workers).map(\.pid))
        }

        @Test("a scale survives a restart of clusterd")
        func scaleSurvivesRestart() async throws {
            let first = try ClusterdProcess(tenants: Self.demoTenants)
            let client = try first.client()
            #expect(client.request(.scale(["acme": 2])).isSuccess)
            #expect(first.stop() == 0)
            let devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
            let process = try Spawned(
                [Paths.clusterd, "start", "--tenants", first.configPath, "--no-router"],
                outputFD: devNull
            )
            close(devNull)
            defer {
                kill(process.pid, SIGTERM)
                process.wait()
            }
            try await eventually("the scale to be restored") {
                guard let client = ControlTestClient(path: first.socketPath), client.hello(),
                    case .success(let value)? = client.request(.status(tenant: nil)),
                    let snapshot = try? value.decode(as: ClusterSnapshot.self)
                else { return false }
                let acme = snapshot.tenant("acme")
                return acme.scale == 2 && acme.workers.filter { $0.state == .ready }.count == 2
            }
        }

        @Test("a user without rights is refused: by the socket's mode, and by SO_PEERCRED")
        func unauthorizedUser() throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let asNobody = [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            ]
            let probe = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX)
                try:
                    s.connect(sys.argv[1])
                except OSError as e:
                    print("connect:", e.strerror); sys.exit(0)
                s.sendall(b'{"id":1,"op":"hello","versions":[1]}\\n')
                print(s.makefile().readline().strip())
                """
            let denied = try Self.run(asNobody + [probe, clusterd.socketPath])
            #expect(denied.contains("connect: Permission denied"), "mode 0660 keeps others out: \(denied)")

            chmod(clusterd.socketPath, 0o666)
            // clusterd waits for the hello before closing: the client's send never meets EPIPE, however the
            // two race (closing at once failed 8 to 14 of these 20 rounds with four busy loops on the CPUs).
            for _ in 0..<20 {
                let refused = try Self.run(asNobody + [probe, clusterd.socketPath])
                #expect(refused.contains("\"permission-denied\""), "SO_PEERCRED refuses uid 65534: \(refused)")
                #expect(refused.contains("uid 65534 may not use"))
            }
            // A refused client that sends nothing and shuts its side down: the reason, then EOF at once.
            let silent = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.shutdown(socket.SHUT_WR)
                s.settimeout(5); f = s.makefile()
                print(f.readline().strip()); print("eof" if f.read() == "" else "more")
                """
            let halfClosed = try Self.run(asNobody + [silent, clusterd.socketPath])
            #expect(halfClosed.contains("uid 65534 may not use") && halfClosed.hasSuffix("eof\n"), "\(halfClosed)")
            let clusterctl = try Spawned.run(
                asNobody.dropLast(2) + [Paths.products + "/clusterctl", "--socket", clusterd.socketPath, "status"]
            )
            #expect(clusterctl.status == 3)
            #expect(clusterctl.errors.contains("uid 65534 may not use clusterd's control channel"), "\(clusterctl)")
            #expect(try clusterd.snapshot().tenants.count == 2, "clusterd still serves its own")
        }

        @Test("members of control_group are admitted")
        func controlGroup() throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants, extraCluster: #"control_group = "nogroup""#)
            let asNobody = [
                "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            ]
            let probe = """
                import socket, sys
                s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
                s.sendall(b'{"id":1,"op":"hello","versions":[1]}\\n{"id":2,"op":"status"}\\n')
                f = s.makefile(); f.readline(); print(f.readline()[:60])
                """
            let output = try Self.run(asNobody + [probe, clusterd.socketPath])
            #expect(output.contains("{\"id\":2,\"result\":"), "nobody is in nogroup: \(output)")
        }

        @Test("a subscriber connected before a worker starts and one connected after see the same state")
        func subscribersAgree() async throws {
            let clusterd = try ClusterdProcess(tenants: Self.demoTenants)
            let early = try clusterd.client()
            guard case .success(let reply)? = early.request(.subscribe) else {
                Issue.record("subscribe failed")
                return
            }
            var earlyView = RouterView(try reply.decode(as: SubscribeReply.self).snapshot)
            #expect(earlyView.ready.isEmpty)

            let operator_ = try clusterd.client()
            #expect(
                operator_.request(.scale(["acme": 2, "beta": 1])).isSuccess
            )
            while earlyView.ready.count < 3, let line = early.readIncoming() {
                if case .event(let event) = line { earlyView.apply(event) }
            }
            let late = try clusterd.client()
            guard case .success(let lateReply)? = late.request(.subscribe) else {
                Issue.record("subscribe failed")
                return
            }
            let lateView = RouterView(try lateReply.decode(as: SubscribeReply.self).snapshot)
            #expect(earlyView.ready.count == 3)
            #expect(earlyView.ready == lateView.ready)
            #expect(earlyView.hosts == lateView.hosts)
        }

        @Test("500 spawn/stop cycles through the control channel: clusterd's fds and children are as before")
        func noLeaksInClusterd() throws {
            let clusterd = try ClusterdProcess(
                tenants: """
                    [defaults]
                    command = ["/bin/sleep", "1000"]

                    [tenant.a]
                    [tenant.b]
                    [tenant.c]
                    [tenant.d]
                    [tenant.e]
                    """
            )
            let client = try clusterd.client()
            // Once clusterd has settled after start-up (two samples alike, 200 ms apart).
            var fdsBefore = clusterd.openFDs()
            for _ in 0..<15 {
                usleep(200_000)
                let again = clusterd.openFDs()
                if again == fdsBefore { break }
                fdsBefore = again
            }
            for _ in 0..<100 {
                for tenant in ["a", "b", "c", "d", "e"] {
                    guard case .success? = client.request(.start(tenant: tenant)) else {
                        Issue.record("start failed")
                        return
                    }
                }
                for tenant in ["a", "b", "c", "d", "e"] {
                    _ = client.request(.stop(tenant: tenant))
                }
            }
            let deadline = ContinuousClock.now + .seconds(10)
            while try !clusterd.snapshot(client).tenants.allSatisfy({ $0.workers.isEmpty }),
                ContinuousClock.now < deadline
            {
                usleep(20_000)
            }
            #expect(try clusterd.snapshot(client).workersTotal == 0)
            #expect(clusterd.log().components(separatedBy: "worker starting").count - 1 == 500)
            #expect(clusterd.zombieChildren().isEmpty)
            let settled = ContinuousClock.now + .seconds(5)
            while clusterd.openFDs() != fdsBefore, ContinuousClock.now < settled { usleep(50_000) }
            #expect(
                clusterd.openFDs() == fdsBefore,
                "clusterd's open fds: \(fdsBefore) before, \(clusterd.openFDs()) after"
            )
        }

        static func run(_ arguments: [String]) throws -> String {
            let result = try Spawned.run(arguments)
            return result.output + result.errors
        }
    }
}

/// What a router would know: ready workers and host routing, from a snapshot plus events.
struct RouterView {
    var ready: Set<WorkerEndpoint> = []
    var hosts: [String: [String]] = [:]

    init(_ snapshot: ClusterSnapshot) {
        for tenant in snapshot.tenants {
            hosts[tenant.name] = tenant.hosts
            for worker in tenant.workers where worker.state == .ready {
                ready.insert(WorkerEndpoint(id: worker.id, port: worker.port))
            }
        }
    }

    mutating func apply(_ event: ControlEvent) {
        switch event.event {
        case .workerReady: ready.insert(WorkerEndpoint(id: event.worker!, port: event.port!))
        case .workerDraining, .workerGone: ready = ready.filter { $0.id != event.worker }
        case .configurationReloaded: if let snapshot = event.snapshot { self = RouterView(snapshot) }
        default: break
        }
    }
}

/// A small deterministic generator (SplitMix64) for reproducible random tests.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension ClusterSnapshot {
    func tenant(_ name: String) -> TenantSnapshot {
        tenants.first { $0.name == name }!
    }
}

extension Optional where Wrapped == Result<JSONValue, ControlError> {
    var isSuccess: Bool {
        if case .success? = self { return true }
        return false
    }

    var errorCode: ControlError.Code? {
        if case .failure(let error)? = self { return error.code }
        return nil
    }
}
