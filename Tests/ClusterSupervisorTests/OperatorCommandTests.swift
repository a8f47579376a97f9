import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// Operator commands of the contract (design.md:39-47) with a real clusterd, real workers and the real
    /// clusterctl: `restart` and `drain` (their effect as docs/control-protocol.md:213-214 states it),
    /// `clusterd start` refusing a broken file, and `clusterd start --control-socket PATH`.
    @Suite("Operator commands: restart, drain, broken start, --control-socket")
    struct OperatorCommandTests {
        // MARK: - clusterctl restart

        @Test("clusterctl restart: a new ready worker replaces the old one, which drains only then and is reaped")
        func restartReplacesTheWorker() async throws {
            let clusterd = try ClusterdProcess(tenants: ControlChannel.demoTenants)
            defer { clusterd.stop() }
            let socket = ["--socket", clusterd.socketPath]

            let started = try Self.clusterctl(socket + ["start", "acme"])
            #expect(started.status == 0, "stderr: \(started.errors)")
            try await eventually("one ready acme worker", timeout: .seconds(30)) {
                try Self.ready(clusterd, "acme").count == 1
            }
            let old = try #require(try Self.ready(clusterd, "acme").first)
            let oldPID = try #require(old.pid)
            #expect(Self.whoami(port: old.port)?.pid == oldPID, "the snapshot's pid is the process serving the port")

            let subscriber = try clusterd.client()
            guard case .success? = subscriber.request(.subscribe) else {
                Issue.record("subscribe failed")
                return
            }

            let restarted = try Self.clusterctl(socket + ["restart", "acme"])
            #expect(restarted.status == 0, "stderr: \(restarted.errors)")
            #expect(restarted.output.contains("acme: restarting"), "stdout: \(restarted.output)")

            try await eventually(
                "a new ready worker, the old pid gone from the snapshot and reaped",
                timeout: .seconds(30)
            ) {
                let workers = try clusterd.snapshot().tenant("acme").workers
                return workers.contains { $0.state == .ready && $0.pid != nil && $0.pid != oldPID }
                    && !workers.contains { $0.pid == oldPID }
                    && Self.isReaped(oldPID)
            }
            let ready = try Self.ready(clusterd, "acme")
            #expect(ready.count == 1, "a restart replaces the one worker, it does not add one: \(ready)")
            let new = try #require(ready.first)
            #expect(new.id != old.id)
            let newPID = try #require(new.pid)
            #expect(newPID != oldPID)
            let answer = HTTPGet.get(port: new.port)
            #expect(answer?.status == 200)
            #expect(answer?.body == "hello from acme\n")
            #expect(Self.whoami(port: new.port)?.pid == newPID, "the new worker answers as itself")

            // Rolling (docs/control-protocol.md:213): the new worker is ready before the old one drains.
            let events = Self.events(from: subscriber) { seen in
                seen.contains { $0.event == .workerGone && $0.worker == old.id }
            }
            let readyAt = events.firstIndex { $0.event == .workerReady && $0.worker == new.id }
            let drainingAt = events.firstIndex { $0.event == .workerDraining && $0.worker == old.id }
            let goneAt = events.firstIndex { $0.event == .workerGone && $0.worker == old.id }
            #expect(readyAt != nil && drainingAt != nil && goneAt != nil, "events: \(Self.describe(events))")
            if let readyAt, let drainingAt, let goneAt {
                #expect(readyAt < drainingAt, "the old worker drained before its replacement was ready")
                #expect(drainingAt < goneAt)
            }
            #expect(events.first { $0.event == .workerDraining && $0.worker == old.id }?.reason == "replaced")
            #expect(clusterd.zombieChildren().isEmpty)
        }

        // MARK: - clusterctl drain

        @Test("clusterctl drain, on-demand tenant with 2 workers: both drain and exit, none comes back")
        func drainOnDemandTenant() async throws {
            let clusterd = try ClusterdProcess(tenants: ControlChannel.demoTenants)
            defer { clusterd.stop() }
            let socket = ["--socket", clusterd.socketPath]

            #expect(try Self.clusterctl(socket + ["start", "acme"]).status == 0)
            try await eventually("one ready acme worker", timeout: .seconds(30)) {
                try Self.ready(clusterd, "acme").count == 1
            }
            // A second worker on demand, as a router asks for one when every worker is busy (no operator scale).
            let router = try clusterd.client()
            #expect(router.request(.activate(tenant: "acme", additional: true)).isSuccess)
            try await eventually("two ready acme workers", timeout: .seconds(30)) {
                try Self.ready(clusterd, "acme").count == 2
            }
            let before = try clusterd.snapshot().tenant("acme")
            #expect(before.scale == nil, "the two workers are on demand, not an operator scale")
            let oldPIDs = try before.workers.map { try #require($0.pid) }
            let oldIDs = Set(before.workers.map(\.id))
            #expect(oldPIDs.count == 2)

            let subscriber = try clusterd.client()
            guard case .success? = subscriber.request(.subscribe) else {
                Issue.record("subscribe failed")
                return
            }
            let drained = try Self.clusterctl(socket + ["drain", "acme"])
            #expect(drained.status == 0, "stderr: \(drained.errors)")
            #expect(drained.output.contains("acme: draining"), "stdout: \(drained.output)")

            try await eventually("no acme worker left and both old pids reaped", timeout: .seconds(30)) {
                try clusterd.snapshot().tenant("acme").workers.isEmpty && oldPIDs.allSatisfy(Self.isReaped)
            }
            let events = Self.events(from: subscriber) { seen in
                oldIDs.isSubset(of: Set(seen.filter { $0.event == .workerGone }.compactMap(\.worker)))
            }
            for id in oldIDs.sorted() {
                let reason = events.first { $0.event == .workerDraining && $0.worker == id }?.reason
                #expect(reason == "drained", "\(id) drained as `clusterctl drain`: \(Self.describe(events))")
            }
            // "the tenant is on-demand again" (docs/control-protocol.md:214): nothing restarts it by itself.
            try await Task.sleep(for: .seconds(1))
            let after = try clusterd.snapshot().tenant("acme")
            #expect(after.workers.isEmpty, "a drained on-demand tenant was refilled: \(after.workers)")
            #expect(after.target == 0)
            #expect(after.state != .stopped && after.state != .failed, "state: \(after.state)")
            #expect(clusterd.zombieChildren().isEmpty)

            // On demand again: the next activation starts a fresh worker.
            let next = try clusterd.client()
            #expect(next.request(.activate(tenant: "acme", additional: false)).isSuccess)
            let fresh = try Self.ready(clusterd, "acme")
            #expect(fresh.count == 1)
            #expect(fresh.allSatisfy { $0.pid.map { !oldPIDs.contains($0) } ?? false })
        }

        @Test("clusterctl drain, tenant scaled to 2: both old workers exit, the scale is refilled by 2 fresh ones")
        func drainScaledTenant() async throws {
            let clusterd = try ClusterdProcess(tenants: ControlChannel.demoTenants)
            defer { clusterd.stop() }
            let socket = ["--socket", clusterd.socketPath]

            #expect(try Self.clusterctl(socket + ["scale", "acme=2"]).status == 0)
            try await eventually("two ready acme workers", timeout: .seconds(30)) {
                try Self.ready(clusterd, "acme").count == 2
            }
            let oldPIDs = try Self.ready(clusterd, "acme").map { try #require($0.pid) }
            let oldIDs = Set(try Self.ready(clusterd, "acme").map(\.id))

            let drained = try Self.clusterctl(socket + ["drain", "acme"])
            #expect(drained.status == 0, "stderr: \(drained.errors)")

            // docs/control-protocol.md:214: "a floor (min_workers, a scale) is refilled with fresh workers".
            try await eventually("both old pids reaped and 2 fresh ready workers", timeout: .seconds(30)) {
                let workers = try clusterd.snapshot().tenant("acme").workers
                return oldPIDs.allSatisfy(Self.isReaped)
                    && !workers.contains { oldIDs.contains($0.id) }
                    && workers.filter { $0.state == .ready }.count == 2
            }
            let after = try clusterd.snapshot().tenant("acme")
            #expect(after.scale == 2, "drain keeps the operator's scale")
            for worker in after.workers {
                let pid = try #require(worker.pid)
                #expect(!oldPIDs.contains(pid))
                #expect(Self.whoami(port: worker.port)?.pid == pid)
            }
            #expect(clusterd.zombieChildren().isEmpty)
        }

        // MARK: - clusterd start with a broken tenants.conf

        @Test("clusterd start --no-router with 4 errors: exit 1, every error named as check names it, no process left")
        func startRefusesABrokenFile() throws {
            let directory = Paths.temporaryDirectory("broken")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let marker = "OPERATOR_TEST_MARKER=" + directory
            let lines = [
                "[cluster]",
                "control_socket = \"\(directory)/control.sock\"",
                "state_dir = \"\(directory)/state\"",
                "ports = \"\(PortBlocks.take())\"",
                "max_workers = 8",
                "listen = \"nowhere\"",
                "",
                "[defaults]",
                "command = [\"\(Paths.demoWorker)\"]",
                "env = { OPERATOR_TEST_MARKER = \"\(directory)\" }",
                "",
                "[tenant.acme]",
                "min_workers = 1",
                "",
                "[tenant.beta]",
                "idle_timeout = \"5 minutes\"",
                "",
                "[tenant.gamma]",
                "readiness = \"ready\"",
                "max_worker = 2",
            ]
            let path = directory + "/tenants.conf"
            try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            func line(_ prefix: String) throws -> Int { try #require(lines.firstIndex { $0.hasPrefix(prefix) }) + 1 }
            let expected = [
                "\(path):\(try line("listen")): cluster.listen: \"nowhere\" is not HOST:PORT",
                "\(path):\(try line("idle_timeout")): tenant.beta.idle_timeout: \"5 minutes\" is not a duration",
                "\(path):\(try line("readiness")): tenant.gamma.readiness: \"ready\" is not one of",
                "\(path):\(try line("max_worker ")): tenant.gamma.max_worker: ",
            ]

            let start = Self.runBounded(
                [Paths.clusterd, "start", "--tenants", path, "--no-router"],
                in: directory,
                timeout: .seconds(30)
            )
            let status = try #require(start.status, "clusterd start did not exit within 30 s: \(start.output)")
            #expect(status == 1, "output: \(start.output)")
            for error in expected {
                #expect(start.output.contains(error), "missing \(error) in: \(start.output)")
            }
            // The same list `clusterd check` gives (file:line: key: message), nothing less.
            let check = Self.runBounded(
                [Paths.clusterd, "check", "--tenants", path],
                in: directory,
                timeout: .seconds(30)
            )
            #expect(check.status == 1)
            let checkErrors = check.output.split(separator: "\n").filter { $0.hasPrefix(path + ":") }
            #expect(checkErrors.count == expected.count, "check: \(check.output)")
            for error in checkErrors {
                #expect(start.output.contains(error), "start leaves out \(error): \(start.output)")
            }

            // Nothing half-applied: no worker (acme has min_workers = 1), no control socket, no process left.
            #expect(ClusterdProcess.processes(withEnvironment: marker).isEmpty, "a worker of the broken file runs")
            #expect(ClusterdProcess.processes(withEnvironment: "NOTIFY_SOCKET=@clusterd/\(start.pid)/").isEmpty)
            #expect(!FileManager.default.fileExists(atPath: directory + "/control.sock"))
            #expect(kill(start.pid, 0) == -1 && errno == ESRCH, "clusterd itself is gone")
        }

        // MARK: - clusterd start --control-socket PATH

        @Test("clusterd start --control-socket PATH: a 0660 socket there answers status; the file's path is unused")
        func controlSocketFlag() async throws {
            let directory = Paths.temporaryDirectory("flag")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let fromFile = directory + "/from-file.sock"
            let fromFlag = directory + "/from-flag.sock"
            let config = """
                [cluster]
                control_socket = "\(fromFile)"
                state_dir = "\(directory)/state"
                ports = "\(PortBlocks.take())"
                max_workers = 8

                \(ControlChannel.demoTenants)
                """
            let path = directory + "/tenants.conf"
            try config.write(toFile: path, atomically: true, encoding: .utf8)
            let logPath = directory + "/clusterd.log"
            let logFD = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            #expect(logFD >= 0)
            let process = try Spawned(
                [Paths.clusterd, "start", "--tenants", path, "--control-socket", fromFlag, "--no-router"],
                outputFD: logFD
            )
            close(logFD)
            defer { Self.terminate(process) }
            func log() -> String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

            try await eventually("clusterd answers hello on \(fromFlag)", timeout: .seconds(20)) {
                guard process.isRunning else { throw ClusterdFailed(what: "clusterd exited", log: log()) }
                return ControlTestClient(path: fromFlag)?.hello() ?? false
            }
            var info = stat()
            #expect(stat(fromFlag, &info) == 0)
            #expect(info.st_mode & S_IFMT == S_IFSOCK, "not a socket")
            #expect(info.st_mode & 0o777 == 0o660, "mode \(String(info.st_mode & 0o777, radix: 8)) (design.md:121)")
            #expect(!FileManager.default.fileExists(atPath: fromFile), "the flag overrides cluster.control_socket")

            let status = try Self.clusterctl(["--socket", fromFlag, "status", "--json"])
            #expect(status.status == 0, "stderr: \(status.errors)")
            let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(status.output.utf8))
            #expect(snapshot.tenants.map(\.name).sorted() == ["acme", "beta"])
            #expect(snapshot.maxWorkers == 8, "it is this clusterd answering")

            // design.md:50: CLUSTERD_SOCKET sets clusterctl's default socket.
            let byEnvironment = try Spawned.run(
                ["/usr/bin/env", "CLUSTERD_SOCKET=\(fromFlag)", Paths.products + "/clusterctl", "status", "acme"]
            )
            #expect(byEnvironment.status == 0, "stderr: \(byEnvironment.errors)")
            #expect(byEnvironment.output.contains("acme"))

            #expect(Self.terminate(process) == 0, "log: \(log())")
        }

        // MARK: - Helpers

        static func clusterctl(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
            try Spawned.run([Paths.products + "/clusterctl"] + arguments)
        }

        static func ready(_ clusterd: ClusterdProcess, _ tenant: String) throws -> [WorkerSnapshot] {
            try clusterd.snapshot().tenant(tenant).workers.filter { $0.state == .ready }
        }

        /// The process is gone and reaped: `kill(pid, 0)` fails with ESRCH (a zombie would still succeed).
        static func isReaped(_ pid: Int32) -> Bool {
            kill(pid, 0) == -1 && errno == ESRCH
        }

        struct WhoAmI: Decodable {
            var tenant: String
            var worker: String
            var pid: Int32
        }

        /// demo-worker's `GET /whoami`.
        static func whoami(port: Int) -> WhoAmI? {
            guard let response = HTTPGet.get(port: port, path: "/whoami"), response.status == 200 else { return nil }
            return try? JSONDecoder().decode(WhoAmI.self, from: Data(response.body.utf8))
        }

        /// Events read from a subscribed client until `done` holds for them, or nothing comes for 10 s, or 30 s pass.
        static func events(from client: ControlTestClient, until done: ([ControlEvent]) -> Bool) -> [ControlEvent] {
            var events: [ControlEvent] = []
            let deadline = ContinuousClock.now + .seconds(30)
            while !done(events), ContinuousClock.now < deadline, let line = client.readIncoming() {
                if case .event(let event) = line { events.append(event) }
            }
            return events
        }

        static func describe(_ events: [ControlEvent]) -> String {
            events.map { "\($0.event.rawValue) \($0.worker?.description ?? "-") \($0.reason ?? "")" }.joined(
                separator: "; "
            )
        }

        /// Runs a command with stdout and stderr to one file; SIGKILLs it (status nil) when it outlives `timeout`.
        static func runBounded(
            _ arguments: [String],
            in directory: String,
            timeout: Duration
        ) -> (status: Int32?, output: String, pid: Int32) {
            let outputPath = directory + "/run-\(UUID().uuidString).out"
            let fd = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            defer { unlink(outputPath) }
            guard fd >= 0, let process = try? Spawned(arguments, outputFD: fd) else {
                if fd >= 0 { close(fd) }
                Issue.record("cannot run \(arguments)")
                return (nil, "", -1)
            }
            close(fd)
            let deadline = ContinuousClock.now + timeout
            var status: Int32?
            while ContinuousClock.now < deadline {
                if !process.isRunning {
                    status = process.wait()
                    break
                }
                usleep(20_000)
            }
            if status == nil {
                kill(process.pid, SIGKILL)
                process.wait()
            }
            let output = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
            return (status, output, process.pid)
        }

        /// SIGTERM, then SIGKILL after 20 s; the exit status.
        @discardableResult
        static func terminate(_ process: Spawned) -> Int32 {
            guard process.isRunning else { return process.wait() }
            kill(process.pid, SIGTERM)
            let deadline = ContinuousClock.now + .seconds(20)
            while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
            if process.isRunning {
                kill(process.pid, SIGKILL)
                for worker in ClusterdProcess.processes(withEnvironment: "NOTIFY_SOCKET=@clusterd/\(process.pid)/") {
                    kill(worker, SIGKILL)
                }
            }
            return process.wait()
        }
    }
}
