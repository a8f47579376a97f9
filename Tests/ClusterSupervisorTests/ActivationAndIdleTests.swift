import ClusterCore
import ClusterSupervisor
import Synchronization
import Testing

extension SupervisorIntegrationTests {
    @Suite("Activation and idle-out")
    struct ActivationAndIdle {
        @Test("200 activations of one cold tenant at once spawn exactly one worker")
        func herdOfActivations() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant(
                    "acme",
                    command: [Paths.demoWorker, "--port", "{port}", "--start-delay", "300"],
                    readiness: .notify
                )
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                let answers = try await withThrowingTaskGroup(of: ActivationAnswer.self) { group in
                    for _ in 0..<200 {
                        group.addTask { try await supervisor.activate(tenant: "acme") }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(answers.count == 200)
                let workers = Set(
                    answers.compactMap { answer -> WorkerID? in
                        if case .ready(let ready) = answer { return ready.first?.id }
                        return nil
                    }
                )
                #expect(workers.count == 1, "every activation got the same single worker")
                #expect(events.count { $0.startedWorker != nil } == 1)
            }
        }

        @Test("an idle worker is stopped after idle_timeout, not before")
        func idleOut() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: [Paths.demoWorker], idleTimeout: .milliseconds(500))
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                guard case .ready(let workers) = try await supervisor.activate(tenant: "acme"),
                    let worker = workers.first
                else {
                    Issue.record("no ready worker")
                    return
                }
                // Activity keeps it: report in-flight work for longer than the idle timeout.
                await supervisor.reportActivity(worker: worker.id, inFlight: 1)
                try await Task.sleep(for: .milliseconds(900))
                #expect(events.count { $0.goneWorker != nil } == 0, "not idled out with a request in flight")
                let finishedAt = EventRecorder.now()
                await supervisor.reportActivity(worker: worker.id, inFlight: 0)
                try await events.wait("idle-out") { $0.contains { $0.goneWorker?.reason == .idle } }
                let elapsed = EventRecorder.now() - finishedAt
                #expect(elapsed >= .milliseconds(480))
                #expect(elapsed < .seconds(10), "idled out, not much later (bound wide for loaded machines)")
                #expect(
                    HTTPGet.get(port: worker.port, timeoutSeconds: 1) == nil,
                    "nothing listens on its port any more"
                )
            }
        }

        @Test("min_workers are started without any request")
        func minWorkersAtStart() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: [Paths.demoWorker], minWorkers: 2, maxWorkers: 2)
            ])
            try await SupervisorHarness.run(configuration) { _, events in
                try await events.wait("two ready workers") { $0.count { $0.readyWorker != nil } == 2 }
            }
        }

        @Test("a worker flooding its output stalls neither the supervisor nor other workers")
        func outputFlood() async throws {
            let configuration = Configurations.cluster([
                Configurations.tenant("flood", command: ["/usr/bin/yes", "flood flood flood"], minWorkers: 1),
                Configurations.tenant("acme", command: [Paths.demoWorker]),
            ])
            let logs = LogCapture()
            let begun = ContinuousClock.now
            try await SupervisorHarness.run(configuration, logs: logs) { supervisor, events in
                try await events.wait("the flood to start") { $0.contains { $0.readyWorker?.0.tenant == "flood" } }
                try await Task.sleep(for: .milliseconds(500))
                let started = EventRecorder.now()
                guard case .ready(let workers) = try await supervisor.activate(tenant: "acme"),
                    let worker = workers.first
                else {
                    Issue.record("no ready worker")
                    return
                }
                #expect(HTTPGet.get(port: worker.port)?.status == 200)
                // An unlimited flood would hold the supervisor up for good; the bound is wide for loaded machines.
                #expect(EventRecorder.now() - started < .seconds(5), "the other tenant starts promptly")
                try await Task.sleep(for: .milliseconds(500))
                let floodLines = logs.matching { $0.metadata["tenant"] == "flood" && $0.message == "flood flood flood" }
                // At most the burst plus the sustained rate for as long as the flood has run (a loaded machine
                // stretches this test; `yes` writes far more than that in any case).
                let seconds = Double((ContinuousClock.now - begun).components.seconds) + 1
                #expect(floodLines.count <= 2000 + Int(1000 * seconds), "\(floodLines.count) lines in \(seconds) s")
                #expect(!logs.matching { $0.message.hasPrefix("suppressed ") }.isEmpty)
            }
        }
    }
}
