import Testing

@testable import ClusterCore

@Suite("Shutdown")
struct ShutdownTests {
    @Test("shutdown: waiters refused, every worker stops, shutdownCompleted once after the last exit")
    func shutdown() throws {
        var shell = SimulatedShell(
            .fixture(
                .fixture("acme", stopTimeout: .seconds(10), maxWorkers: 2),
                .fixture("beta", readiness: .notify),
                .fixture("gamma")
            )
        )
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activity(.acme(2), inFlight: 2)
        let waiter = shell.activate("beta")

        let actions = shell.shutdown()
        #expect(shell.answers(for: waiter) == [.failed(.shuttingDown)])
        #expect(actions.drained == [.acme(1): .shutdown, .acme(2): .shutdown, .beta(1): .shutdown])
        #expect(Set(actions.terminated) == [.acme(1), .beta(1)])  // acme#2 first finishes its requests
        #expect(actions.launches.isEmpty)
        #expect(shell.shutdownCompletions == 0)
        #expect(shell.machine.status(now: shell.now).shuttingDown)

        let refused = shell.activate("gamma")
        #expect(shell.answers(for: refused) == [.failed(.shuttingDown)])
        #expect(shell.scale("gamma", to: 1).rejection?.code == .shuttingDown)
        #expect(shell.start("gamma").rejection?.code == .shuttingDown)
        #expect(shell.restart("acme").rejection?.code == .shuttingDown)
        #expect(shell.shutdown().isEmpty)

        shell.exit(.acme(1), .exited(0))
        shell.exit(.beta(1), .signaled(15))
        #expect(shell.shutdownCompletions == 0)

        shell.activity(.acme(2), inFlight: 0)
        #expect(shell.lastActions == [.terminate(.acme(2))])
        shell.advance(by: .seconds(10))
        #expect(shell.lastActions == [.kill(.acme(2))])
        shell.exit(.acme(2), .signaled(9))
        #expect(shell.lastActions.last == .shutdownCompleted)
        #expect(shell.shutdownCompletions == 1)

        shell.advance(by: .seconds(3600))
        shell.activate("acme")
        shell.reload(shell.machine.configuration)
        #expect(shell.shutdownCompletions == 1)
        #expect(shell.log.launches.count == 3)
    }

    @Test("shutdown with no workers completes at once")
    func shutdownIdle() {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        #expect(shell.shutdown() == [.shutdownCompleted])
        #expect(shell.shutdown().isEmpty)
        #expect(shell.advance(by: .seconds(1)).isEmpty)
    }

    @Test("a crash during shutdown is not restarted; the floor is not refilled")
    func noRestartsDuringShutdown() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 2, maxWorkers: 2)))
        shell.advance(by: .zero)
        shell.activity(.acme(1), inFlight: 1)
        shell.shutdown()
        shell.exit(.acme(1), .signaled(11))
        shell.exit(.acme(2), .exited(0))
        #expect(shell.lastActions.launches.isEmpty)
        #expect(shell.shutdownCompletions == 1)
        #expect(shell.log.launches.count == 2)
    }

    @Test("a worker still being spawned at shutdown is terminated; a failed or refused spawn completes the shutdown")
    func spawnInFlight() {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta")), reportsLaunches: false)
        shell.activate("acme")
        shell.activate("beta")
        let actions = shell.shutdown()
        #expect(Set(actions.terminated) == [.acme(1), .beta(1)])
        shell.reportLaunchFailed(.acme(1), .portUnavailable)
        #expect(shell.lastActions.launches.isEmpty)
        // It was announced as draining, so subscribers hear it is gone.
        #expect(shell.published() == [.workerGone(.acme(1), exit: nil, reason: .shutdown)])
        shell.reportLaunchFailed(.beta(1), .failed("exec failed"))
        #expect(shell.lastActions.launches.isEmpty)
        #expect(shell.shutdownCompletions == 1)
    }

    @Test("a starting worker's spawn reported after shutdown is not made ready")
    func lateSpawnReport() {
        var shell = SimulatedShell(.fixture(.fixture("acme")), reportsLaunches: false)
        shell.activate("acme")
        shell.shutdown()
        shell.reportLaunched(.acme(1))
        #expect(!shell.published().contains { if case .workerReady = $0 { true } else { false } })
        shell.exit(.acme(1), .signaled(15))
        #expect(shell.shutdownCompletions == 1)
    }

    @Test("while shutting down, a tenant's floor is no deadline")
    func noFloorDeadlineDuringShutdown() {
        var shell = SimulatedShell(.fixture(.fixture("acme", stopTimeout: .seconds(10), minWorkers: 1)))
        shell.advance(by: .zero)
        shell.shutdown()
        shell.exit(.acme(1), .exited(0))
        #expect(shell.shutdownCompletions == 1)
        #expect(shell.machine.nextDeadline() == nil)
    }
}
