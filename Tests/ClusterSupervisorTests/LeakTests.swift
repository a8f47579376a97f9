import ClusterCore
import ClusterSupervisor
import Testing

extension SupervisorIntegrationTests {
    @Suite("No leaks")
    struct Leaks {
        @Test("500 spawn/stop cycles leave no zombie and no fd behind")
        func spawnStopCycles() async throws {
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
                #expect(ProcessTable.zombieChildren().isEmpty)
                try await eventually("fds back to their count before the cycles", timeout: .seconds(3)) {
                    ProcessTable.supervisorKindFDs().count == fdsRunning
                }
            }
            #expect(ProcessTable.zombieChildren().isEmpty)
            try await eventually("fds back to their count before the supervisor", timeout: .seconds(3)) {
                ProcessTable.supervisorKindFDs().count == fdsBefore
            }
        }
    }
}
