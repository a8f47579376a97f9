import ClusterCore
import ClusterSupervisor
import Glibc
import Testing

extension SupervisorIntegrationTests {
    @Suite("Restarts and failures")
    struct RestartsAndFailures {
        @Test("a crashing worker is restarted with growing delays, then the tenant goes failed")
        func crashLoop() async throws {
            // Ready at once (listen-fds), then exits 3 after 50 ms: a crash of a running worker every time.
            let configuration = Configurations.cluster([
                Configurations.tenant("acme", command: ["/bin/sh", "-c", "sleep 0.05; exit 3"])
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                guard case .ready = try await supervisor.activate(tenant: "acme") else {
                    Issue.record("first start should be ready")
                    return
                }
                try await events.wait("the tenant to fail", timeout: .seconds(15)) { events in
                    events.contains { if case .tenantFailed("acme", _, _) = $0 { true } else { false } }
                }
                let starts = events.all.filter { $0.event.startedWorker != nil }.map(\.at)
                #expect(starts.count == 5, "5 failures in 60 s put the tenant in failed")
                let gaps = zip(starts.dropFirst(), starts).map { $0 - $1 }
                // Each gap is the worker's 50 ms of life plus a backoff of 100, 200, 400 ms, then 800 ms.
                for (gap, delay) in zip(gaps, [100, 200, 400, 800]) {
                    #expect(gap >= .milliseconds(delay + 40), "gap \(gap) should include a \(delay) ms backoff")
                }
                #expect(zip(gaps.dropFirst(), gaps).allSatisfy { $0 > $1 }, "delays grow: \(gaps)")

                let answer = try await supervisor.activate(tenant: "acme")
                guard case .failed(.tenantFailed(let reason, _)) = answer else {
                    Issue.record("a failed tenant refuses activation at once, got \(answer)")
                    return
                }
                #expect(reason == "exited with status 3")
                let status = await supervisor.status()
                #expect(status.tenants.first?.state == .failed)
                #expect(status.tenants.first?.lastError == "exited with status 3")
            }
        }

        @Test("a worker that ignores SIGTERM is killed after stop_timeout")
        func stopTimeout() async throws {
            let marker = Paths.temporaryDirectory("stop") + "/trapped"
            let configuration = Configurations.cluster([
                Configurations.tenant(
                    "acme",
                    command: ["/bin/sh", "-c", "trap '' TERM; touch \(marker); while :; do sleep 0.05; done"],
                    stopTimeout: .milliseconds(400)
                )
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                guard case .ready = try await supervisor.activate(tenant: "acme") else {
                    Issue.record("no ready worker")
                    return
                }
                try await eventually("the worker to ignore SIGTERM") { access(marker, F_OK) == 0 }
                let stoppedAt = EventRecorder.now()
                try await supervisor.stop(tenant: "acme")
                let gone = try await events.wait("the worker to be killed") { events in
                    events.contains { $0.goneWorker != nil }
                }
                let elapsed = EventRecorder.now() - stoppedAt
                let exit = gone.compactMap(\.goneWorker).first
                #expect(exit?.exit == .signaled(9))
                #expect(exit?.reason == .stopped)
                #expect(elapsed >= .milliseconds(400))
            }
        }

        @Test("when a worker exits, the processes it forked go with it")
        func processGroupIsStopped() async throws {
            let directory = Paths.temporaryDirectory("group")
            let pidFile = directory + "/child.pid"
            let configuration = Configurations.cluster([
                Configurations.tenant(
                    "acme",
                    command: ["/bin/sh", "-c", "sleep 1000 & echo $! > \(pidFile); sleep 0.2; exit 0"]
                )
            ])
            try await SupervisorHarness.run(configuration) { supervisor, events in
                _ = try await supervisor.activate(tenant: "acme")
                try await events.wait("the worker to exit") { $0.contains { $0.goneWorker != nil } }
                let text = try #require(ProcessTable.read(pidFile))
                let child = try #require(Int32(text.split(separator: "\n").first ?? ""))
                try await eventually("the forked child to be gone", timeout: .seconds(3)) {
                    !ProcessTable.isAlive(child)
                }
            }
        }
    }
}
