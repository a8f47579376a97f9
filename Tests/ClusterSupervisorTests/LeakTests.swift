import ClusterCore
import ClusterSupervisor
import Testing

extension SupervisorIntegrationTests {
    @Suite("No leaks")
    struct Leaks {
        @Test("500 spawn/stop cycles in-process: no zombie, no pidfd or pipe left open")
        func spawnStopCycles() async throws {
            // The first timed wait makes the runtime open its timerfd: before the baselines, not during the cycles.
            try await Task.sleep(for: .milliseconds(10))
            let fdsBefore = ProcessTable.supervisorKindFDs().count
            let tenants = (1...5).map { Configurations.tenant("t\($0)", command: ["/bin/sleep", "1000"]) }
            try await SupervisorHarness.run(Configurations.cluster(tenants)) { supervisor, events in
                let fdsRunning = ProcessTable.supervisorKindFDs().count
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for tenant in tenants.map(\.name) {
                        group.addTask {
                            for cycle in 1...100 {
                                try await supervisor.start(tenant: tenant)
                                try await events.wait("\(tenant) ready #\(cycle)") { events in
                                    events.count { $0.readyWorker?.0.tenant == tenant } == cycle
                                }
                                try await supervisor.stop(tenant: tenant)
                                try await events.wait("\(tenant) gone #\(cycle)") { events in
                                    events.count { $0.goneWorker?.id.tenant == tenant } == cycle
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                #expect(events.count { $0.startedWorker != nil } == 500)
                #expect(ProcessTable.zombies(among: Self.workerPIDs(events)).isEmpty)
                try await eventually("fds back to their count before the cycles", timeout: .seconds(3)) {
                    ProcessTable.supervisorKindFDs().count == fdsRunning
                }
            }
            try await eventually("fds back to their count before the supervisor", timeout: .seconds(3)) {
                ProcessTable.supervisorKindFDs().count == fdsBefore
            }
        }

        static func workerPIDs(_ events: EventRecorder) -> Set<Int32> {
            Set(events.all.compactMap { if case .workerStarting(_, _, let pid) = $0.event { pid } else { nil } })
        }
    }
}
