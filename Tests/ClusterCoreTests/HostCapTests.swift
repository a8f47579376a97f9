import Testing

@testable import ClusterCore

@Suite("Host-wide max_workers and eviction")
struct HostCapTests {
    /// A host capped at 2 workers with tenants acme, beta (both running one idle worker) and a cold gamma.
    private func fullHost(
        acme: TenantConfiguration = .fixture("acme"),
        beta: TenantConfiguration = .fixture("beta"),
        gammaReadiness: Readiness = .listenFDs
    ) throws -> SimulatedShell {
        var shell = SimulatedShell(
            .fixture(
                acme,
                beta,
                .fixture("gamma", readiness: gammaReadiness, startTimeout: .seconds(30)),
                maxWorkers: 2
            )
        )
        shell.advance(by: .zero)  // startup: floors, if any
        if shell.workers(of: "acme").isEmpty { _ = try shell.readyWorker(of: "acme") }
        shell.moveClock(by: .seconds(1))
        if shell.workers(of: "beta").isEmpty { _ = try shell.readyWorker(of: "beta") }
        shell.moveClock(by: .seconds(1))
        #expect(shell.machine.workerCount == 2)
        return shell
    }

    @Test("at the cap, a cold tenant evicts the least recently used idle worker of another tenant")
    func evictsLeastRecentlyUsed() throws {
        var shell = try fullHost()
        let activation = shell.activate("gamma")
        #expect(shell.lastActions == [.publish(.workerDraining(.acme(1), reason: .evicted)), .terminate(.acme(1))])
        #expect(shell.launchedWorkers().isEmpty)
        #expect(shell.answers(for: activation).isEmpty)
        #expect(shell.machine.status(ofTenant: "gamma", now: shell.now)?.state == .starting)

        // Only once the evicted worker is gone is there room.
        shell.moveClock(by: .milliseconds(50))
        shell.exit(.acme(1), .exited(0))
        #expect(shell.published().first == .workerGone(.acme(1), exit: .exited(0), reason: .evicted))
        #expect(shell.launchedWorkers() == [WorkerID(tenant: "gamma", serial: 1)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [WorkerID(tenant: "gamma", serial: 1)])
        #expect(shell.machine.workerCount == 2)

        // The evicted tenant is not restarted by itself, and its eviction was no failure.
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.pool("acme")?.demand == 0)
    }

    @Test("recent use protects a worker: the other tenant's is evicted")
    func recentUseProtects() throws {
        var shell = try fullHost()
        shell.activate("acme")  // acme is now used more recently than beta
        shell.moveClock(by: .seconds(1))
        shell.activate("gamma")
        #expect(shell.lastActions.drained == [.beta(1): .evicted])
    }

    @Test("a worker with requests in flight is not evicted")
    func inFlightProtects() throws {
        var shell = try fullHost()
        shell.activity(.acme(1), inFlight: 1)
        shell.activate("gamma")
        #expect(shell.lastActions.drained == [.beta(1): .evicted])
    }

    @Test("with nothing evictable the activation waits and fails with hostAtCapacity at start_timeout")
    func nothingEvictable() throws {
        var shell = try fullHost()
        shell.activity(.acme(1), inFlight: 1)
        shell.activity(.beta(1), inFlight: 3)
        let activation = shell.activate("gamma")
        #expect(shell.lastActions.isEmpty)
        #expect(shell.machine.nextDeadline() == shell.now + .seconds(30))

        shell.advance(by: .seconds(30) - .nanoseconds(1))
        #expect(shell.answers(for: activation).isEmpty)
        shell.advance(by: .nanoseconds(1))
        #expect(shell.answers(for: activation) == [.failed(.hostAtCapacity(2))])
        #expect(shell.log.launches.count == 2)
        #expect(shell.log.drained.isEmpty)
    }

    @Test("a waiting activation evicts as soon as a worker becomes idle")
    func evictsWhenAWorkerFreesUp() throws {
        var shell = try fullHost()
        shell.activity(.acme(1), inFlight: 1)
        shell.activity(.beta(1), inFlight: 1)
        let activation = shell.activate("gamma")
        shell.moveClock(by: .seconds(2))

        shell.activity(.beta(1), inFlight: 0)
        #expect(shell.lastActions == [.publish(.workerDraining(.beta(1), reason: .evicted)), .terminate(.beta(1))])
        shell.exit(.beta(1), .exited(0))
        #expect(shell.answers(for: activation).first?.readyWorkers == [WorkerID(tenant: "gamma", serial: 1)])
    }

    @Test("a slot freed by a normal exit goes to the waiting tenant")
    func exitFreesSlot() throws {
        var shell = try fullHost()
        shell.activity(.acme(1), inFlight: 1)
        shell.activity(.beta(1), inFlight: 1)
        let activation = shell.activate("gamma")
        shell.exit(.acme(1), .exited(0))
        #expect(shell.launchedWorkers() == [WorkerID(tenant: "gamma", serial: 1)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [WorkerID(tenant: "gamma", serial: 1)])
    }

    @Test("workers kept by min_workers or a scale are not evicted")
    func floorProtects() throws {
        var shell = try fullHost(acme: .fixture("acme", minWorkers: 1))
        _ = try shell.scale("beta", to: 1).get()
        #expect(shell.lastActions.isEmpty)
        let activation = shell.activate("gamma")
        #expect(shell.lastActions.isEmpty)
        shell.advance(by: .seconds(30))
        #expect(shell.answers(for: activation) == [.failed(.hostAtCapacity(2))])
        #expect(shell.log.drained.isEmpty)
    }

    @Test("a worker above its tenant's floor may be evicted even if the tenant has a floor")
    func aboveFloorEvictable() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", minWorkers: 1, maxWorkers: 2), .fixture("gamma"), maxWorkers: 2)
        )
        shell.advanceToNextDeadline()
        shell.moveClock(by: .seconds(1))
        shell.activate("acme", additional: true)
        #expect(shell.workers(of: "acme").count == 2)
        shell.moveClock(by: .seconds(1))
        shell.activity(.acme(2), inFlight: 0)  // acme#2 used more recently than acme#1
        shell.activate("gamma")
        #expect(shell.lastActions.drained == [.acme(1): .evicted])
    }

    @Test("a tenant's own idle worker is not evicted for its own growth; another tenant's is")
    func ownWorkersSpared() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 2), .fixture("beta"), maxWorkers: 2))
        _ = try shell.readyWorker(of: "acme")
        shell.moveClock(by: .seconds(1))
        _ = try shell.readyWorker(of: "beta")
        shell.moveClock(by: .seconds(1))
        shell.activate("acme", additional: true)
        #expect(shell.lastActions.drained == [.beta(1): .evicted])
    }

    @Test("one eviction per missing slot, even across many events")
    func noOverEviction() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme"), .fixture("beta"), .fixture("gamma"), .fixture("delta"), maxWorkers: 3)
        )
        for tenant in ["acme", "beta", "gamma"] {
            _ = try shell.readyWorker(of: tenant)
            shell.moveClock(by: .seconds(1))
        }
        shell.activate("delta")
        shell.activate("delta")
        shell.advance(by: .seconds(1))
        shell.activate("delta")
        #expect(shell.log.drained == [.acme(1): .evicted])
    }

    @Test("two tenants waiting at the cap get slots in the order they asked")
    func waitingOrder() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta"), .fixture("gamma"), maxWorkers: 1))
        _ = try shell.readyWorker(of: "acme")
        shell.activity(.acme(1), inFlight: 1)
        shell.moveClock(by: .seconds(1))
        let gamma = shell.activate("gamma")
        shell.moveClock(by: .seconds(1))
        let beta = shell.activate("beta")
        shell.exit(.acme(1), .exited(0))
        #expect(shell.launchedWorkers() == [WorkerID(tenant: "gamma", serial: 1)])
        #expect(shell.answers(for: gamma).count == 1)
        #expect(shell.answers(for: beta).isEmpty)
    }

    @Test("a starting worker is not evicted")
    func startingNotEvicted() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", readiness: .tcp), .fixture("gamma"), maxWorkers: 1)
        )
        shell.activate("acme")
        shell.activate("gamma")
        #expect(shell.lastActions.isEmpty)
        #expect(shell.state(of: .acme(1))?.name == .starting)
    }

    @Test("the cap counts workers that are still leaving")
    func leavingWorkersCount() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", stopTimeout: .seconds(10)), maxWorkers: 1))
        _ = try shell.readyWorker(of: "acme")
        shell.advance(by: .seconds(300))  // idled out, SIGTERM sent, not exited yet
        #expect(shell.lastActions.terminated == [.acme(1)])
        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers().isEmpty)
        shell.advance(by: .seconds(10))
        #expect(shell.lastActions.killed == [.acme(1)])
        shell.exit(.acme(1), .signaled(9))
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    @Test("a restart due while the host is full is no deadline: the shell is not woken over and over")
    func backoffBlockedByCap() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta"), maxWorkers: 1))
        let acme = try shell.readyWorker(of: "acme")
        shell.exit(acme, .exited(1))  // restart due in 100 ms
        let blocker = shell.activate("beta")  // takes the free slot at once
        #expect(shell.answers(for: blocker).first?.readyWorkers == [.beta(1)])
        shell.activity(.beta(1), inFlight: 1)  // and cannot be evicted

        shell.advance(by: .milliseconds(100))
        #expect(shell.lastActions.isEmpty)
        // Nothing is due until something exits: no deadline in the past for the shell to spin on.
        #expect(shell.machine.nextDeadline().map { $0 > shell.now } ?? true)

        // When the slot frees up, acme's restart takes it.
        shell.exit(.beta(1), .exited(0))
        #expect(shell.launchedWorkers() == [.acme(2)])
    }

    @Test("during a roll, eviction takes an outdated worker or one above the floor, never one that needs replacing")
    func evictionDuringRoll() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", readiness: .tcp, maxWorkers: 2), .fixture("gamma"), maxWorkers: 3)
        )
        _ = try shell.scale("acme", to: 2).get()
        shell.reportReady(.acme(1))
        shell.reportReady(.acme(2))
        _ = try shell.restart("acme").get()  // room for one replacement at a time
        #expect(shell.launchedWorkers() == [.acme(3)])
        shell.reportReady(.acme(3))
        #expect(shell.lastActions.drained == [.acme(2): .replaced])
        shell.exit(.acme(2), .exited(0))
        #expect(shell.launchedWorkers() == [.acme(4)])
        shell.moveClock(by: .seconds(1))
        shell.activity(.acme(1), inFlight: 0)  // the old acme#1 is used more recently than the new acme#3
        shell.moveClock(by: .seconds(1))

        // The host is full (acme#1, #3, #4); gamma needs a slot. acme#3 is the least recently used, but taking
        // it would leave acme's new generation below its scale and start another: acme#1 goes instead.
        shell.activate("gamma")
        #expect(shell.lastActions.drained == [.acme(1): .evicted])
        #expect(shell.lastActions.launches.isEmpty)
        #expect(shell.workers(of: "acme").count { $0.isLive && $0.generation == 1 } == 2)
    }

    @Test("asking for an additional worker again while the first one waits for room adds nothing")
    func repeatedAdditionalWhileWaiting() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3), .fixture("beta"), maxWorkers: 2))
        _ = try shell.readyWorker(of: "acme")
        _ = try shell.readyWorker(of: "beta")
        shell.activity(.beta(1), inFlight: 1)
        shell.activate("acme", additional: true)
        shell.activate("acme", additional: true)
        shell.activate("acme", additional: true)
        #expect(shell.pool("acme")?.demand == 2)
        shell.exit(.beta(1), .exited(0))
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.machine.nextDeadline() == shell.now + .seconds(300))
    }
}
