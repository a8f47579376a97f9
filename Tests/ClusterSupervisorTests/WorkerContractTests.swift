import ClusterCore
import ClusterSupervisor
import Foundation
import Testing

extension SupervisorIntegrationTests {
    @Suite("Worker contract")
    struct WorkerContract {
        @Test("demo-worker answers on its port in every readiness mode", arguments: Readiness.allCases)
        func demoWorkerInEachMode(readiness: Readiness) async throws {
            let command = readiness == .listenFDs ? [Paths.demoWorker] : [Paths.demoWorker, "--port", "{port}"]
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: command, readiness: readiness)
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                let answer = try await supervisor.activate(tenant: "acme")
                guard case .ready(let workers) = answer, let worker = workers.first else {
                    Issue.record("expected a ready worker, got \(answer)")
                    return
                }
                let response = try #require(HTTPGet.get(port: worker.port, path: "/"))
                #expect(response.status == 200)
                #expect(response.body == "hello from acme\n")
                #expect(events.count { $0.startedWorker != nil } == 1)
            }
        }

        @Test("tcp: ready only once the port accepts, not at launch (a worker that binds after 600 ms)")
        func tcpReadyWhenAccepting() async throws {
            let command = [Paths.demoWorker, "--port", "{port}", "--start-delay", "600"]
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: command, readiness: .tcp)
            ])
            try await SupervisorHarness.run(configuration) { supervisor, _ in
                let asked = ContinuousClock.now
                let answer = try await supervisor.activate(tenant: "acme")
                let readyAfter = ContinuousClock.now - asked
                guard case .ready(let workers) = answer, let worker = workers.first else {
                    Issue.record("expected a ready worker, got \(answer)")
                    return
                }
                #expect(readyAfter >= .milliseconds(550), "ready after \(readyAfter), before the worker listened")
                // Ready means reachable: the first connection is not refused.
                #expect(HTTPGet.get(port: worker.port, path: "/", timeoutSeconds: 2)?.status == 200)
            }
        }

        @Test("listen-fds: fd 3 is the listening socket, LISTEN_PID is the worker's own pid, nothing else leaks")
        func listenFDsContract() async throws {
            let directory = Paths.temporaryDirectory("contract")
            let configuration = Configurations.cluster([
                Configurations.tenant(
                    "acme",
                    command: ["python3", Paths.contractWorker, "--tenant={tenant}", "--port={port}"],
                    environment: ["EXTRA": "from tenants.conf"],
                    workingDirectory: directory
                )
            ])
            let logs = LogCapture()
            try await SupervisorHarness.run(configuration, logs: logs) { supervisor, _ in
                guard case .ready(let workers) = try await supervisor.activate(tenant: "acme"),
                    let worker = workers.first
                else {
                    Issue.record("no ready worker")
                    return
                }
                let report = try #require(try Self.report(port: worker.port))
                let status = await supervisor.status()
                let pid = try #require(status.tenants.first?.workers.first?.pid)
                #expect(report["pid"] as? Int == Int(pid))
                #expect(report["listen_pid"] as? String == String(pid))
                #expect(report["listen_pid_matches"] as? Bool == true)
                #expect(report["listen_fds"] as? String == "1")
                #expect(report["listen_fdnames"] as? String == "http")
                #expect(report["fd3_listening"] as? Bool == true)
                #expect((report["fd3_address"] as? [Any])?.last as? Int == worker.port)
                #expect((report["fds"] as? [String: String]).map { Set($0.keys) } == ["0", "1", "2", "3"])
                #expect(report["pgid"] as? Int == Int(pid), "the worker leads its own process group")
                #expect(report["sig_blocked"] as? String == "0000000000000000")
                // Python itself ignores SIGPIPE (13) and SIGXFSZ (25) at start-up; nothing else may be ignored.
                #expect(report["sig_ignored"] as? String == "0000000001001000")
                #expect(report["tenant"] as? String == "acme")
                #expect(report["worker"] as? String == worker.id.description)
                #expect(report["port"] as? String == String(worker.port))
                #expect(report["extra"] as? String == "from tenants.conf")
                #expect((report["argv"] as? [String])?.suffix(2) == ["--tenant=acme", "--port=\(worker.port)"])
                #expect(report["cwd"] as? String == directory)
                #expect((report["notify_socket"] as? String)?.hasPrefix("@clusterd/") == true)

                try await eventually("worker output in the log") {
                    !logs.matching {
                        $0.message.hasPrefix("contract-worker pid=") && $0.metadata["worker"] == worker.id.description
                    }.isEmpty
                        && !logs.matching { $0.message == "a line on stderr" && $0.level == .notice }.isEmpty
                }
            }
        }

        @Test("notify: ready at READY=1, STATUS= shown, only fds 0-2 passed")
        func notifyContract() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: ["python3", Paths.contractWorker], readiness: .notify)
            ])
            try await SupervisorHarness.run(configuration) { supervisor, _ in
                guard case .ready(let workers) = try await supervisor.activate(tenant: "acme"),
                    let worker = workers.first
                else {
                    Issue.record("no ready worker")
                    return
                }
                let report = try #require(try Self.report(port: worker.port))
                #expect((report["fds"] as? [String: String]).map { Set($0.keys) } == ["0", "1", "2"])
                #expect(report["listen_pid"] is NSNull)
                let status = await supervisor.status()
                #expect(status.tenants.first?.workers.first?.statusText == "contract worker serving")
            }
        }

        @Test("a worker that never says READY=1 is killed at start_timeout and the waiter hears why")
        func startTimeout() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant(
                    "acme",
                    command: ["python3", Paths.contractWorker, "--no-ready"],
                    readiness: .notify,
                    startTimeout: .milliseconds(700)
                )
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                let answer = try await supervisor.activate(tenant: "acme")
                #expect(answer == .failed(.startTimedOut(.milliseconds(700))))
                try await events.wait("the worker to be killed") { events in
                    events.contains { $0.goneWorker?.reason == .startTimedOut && $0.goneWorker?.exit == .signaled(9) }
                }
            }
        }

        @Test("a program that does not exist fails the activation with the reason")
        func missingProgram() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: ["/nonexistent/worker"])
            ])
            try await SupervisorHarness.run(configuration) { supervisor, _ in
                let answer = try await supervisor.activate(tenant: "acme")
                guard case .failed(.startFailed(let reason)) = answer else {
                    Issue.record("expected startFailed, got \(answer)")
                    return
                }
                #expect(reason.contains("/nonexistent/worker"))
                #expect(reason.contains("not found"))
            }
        }

        static func report(port: Int) throws -> [String: Any]? {
            guard let response = HTTPGet.get(port: port, path: "/report") else { return nil }
            return try JSONSerialization.jsonObject(with: Data(response.body.utf8)) as? [String: Any]
        }
    }
}
