import Testing

@testable import ClusterCore

@Suite("Idle-out and draining")
struct IdleOutTests {
    static let idle = Duration.seconds(300)

    private func shellWithReadyWorker(
        idleTimeout: Duration = idle,
        minWorkers: Int = 0,
        maxWorkers: Int = 1
    ) throws -> (SimulatedShell, WorkerID) {
        var shell = SimulatedShell(
            .fixture(
                .fixture(
                    "acme",
                    idleTimeout: idleTimeout,
                    stopTimeout: .seconds(10),
                    drainTimeout: .seconds(30),
                    minWorkers: minWorkers,
                    maxWorkers: maxWorkers
                )
            )
        )
        let worker = try shell.readyWorker(of: "acme")
        return (shell, worker)
    }

    @Test("idle for idle_timeout: drained, SIGTERM, SIGKILL after stop_timeout, then gone")
    func fullIdleOut() throws {
        var (shell, worker) = try shellWithReadyWorker()
        #expect(shell.machine.nextDeadline() == t0 + Self.idle)
        #expect(shell.machine.status(ofTenant: "acme", now: t0 + .seconds(100))?.workers.first?.idleIn == .seconds(200))

        shell.advance(to: t0 + Self.idle - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)

        shell.advance(to: t0 + Self.idle)
        #expect(shell.lastActions == [.publish(.workerDraining(worker, reason: .idle)), .terminate(worker)])
        #expect(shell.state(of: worker) == .stopping(reason: .idle, killAt: t0 + Self.idle + .seconds(10)))
        #expect(shell.machine.nextDeadline() == t0 + Self.idle + .seconds(10))

        shell.advance(by: .seconds(10) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)
        shell.advance(by: .nanoseconds(1))
        #expect(shell.lastActions == [.kill(worker)])
        #expect(shell.machine.nextDeadline() == nil)

        shell.exit(worker, .signaled(9))
        #expect(shell.lastActions == [.publish(.workerGone(worker, exit: .signaled(9), reason: .idle))])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.machine.workerCount == 0)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.state == .idle)
    }

    @Test("a worker that exits on SIGTERM is gone without SIGKILL, and not restarted")
    func idleOutCleanExit() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.advance(to: t0 + Self.idle)
        shell.moveClock(by: .seconds(1))
        shell.exit(worker, .exited(0))
        #expect(shell.lastActions == [.publish(.workerGone(worker, exit: .exited(0), reason: .idle))])
        shell.advance(by: .seconds(3600))
        #expect(shell.log.killed.isEmpty)
        #expect(shell.log.launches.count == 1)
    }

    @Test("the next activation after an idle-out starts a fresh worker")
    func coldAgainAfterIdleOut() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.advance(to: t0 + Self.idle)
        shell.exit(worker, .exited(0))
        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    @Test("activity pushes the idle deadline")
    func activityExtends() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.moveClock(by: .seconds(200))
        shell.activity(worker, inFlight: 0)
        #expect(shell.machine.nextDeadline() == t0 + .seconds(200) + Self.idle)
        shell.advance(to: t0 + Self.idle)
        #expect(shell.lastActions.isEmpty)
        shell.advance(to: t0 + .seconds(200) + Self.idle)
        #expect(shell.lastActions.terminated == [worker])
    }

    @Test("never idled while a request is in flight; idled idle_timeout after it drops to 0")
    func inFlightKeepsWorker() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.moveClock(by: .seconds(1))
        shell.activity(worker, inFlight: 1)
        #expect(shell.machine.nextDeadline() == nil)
        shell.advance(by: .seconds(3600))
        #expect(shell.lastActions.isEmpty)
        #expect(shell.state(of: worker) == .ready)

        let droppedAt = shell.now
        shell.activity(worker, inFlight: 0)
        #expect(shell.machine.nextDeadline() == droppedAt + Self.idle)
        shell.advance(to: droppedAt + Self.idle - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)
        shell.advance(to: droppedAt + Self.idle)
        #expect(shell.lastActions.drained == [worker: .idle])
    }

    @Test("idle_timeout = 0 never idles out")
    func zeroIdleTimeout() throws {
        var (shell, worker) = try shellWithReadyWorker(idleTimeout: .zero)
        #expect(shell.machine.nextDeadline() == nil)
        shell.advance(by: .seconds(86_400 * 365))
        #expect(shell.lastActions.isEmpty)
        #expect(shell.state(of: worker) == .ready)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.workers.first?.idleIn == nil)
    }

    @Test("never idled below min_workers")
    func minWorkersKept() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1, maxWorkers: 3)))
        shell.advanceToNextDeadline()
        #expect(shell.launchedWorkers() == [.acme(1)])
        shell.moveClock(by: .seconds(5))
        shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers() == [.acme(2)])
        shell.moveClock(by: .seconds(5))
        shell.activity(.acme(1), inFlight: 0)  // acme#1 is now the more recently used

        shell.advance(by: Self.idle)
        // The least recently used goes; the floor stays.
        #expect(shell.lastActions.drained == [.acme(2): .idle])
        shell.advance(by: .seconds(86_400))
        #expect(shell.log.drained.keys.sorted() == [.acme(2)])
        #expect(shell.state(of: .acme(1)) == .ready)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.workers.first?.idleIn == nil)
    }

    @Test("never idled below the scale")
    func scaleKept() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 1)))
        _ = try shell.scale("acme", to: 2).get()
        #expect(shell.launchedWorkers() == [.acme(1), .acme(2)])
        shell.advance(by: .seconds(86_400))
        #expect(shell.log.drained.isEmpty)
        #expect(shell.machine.nextDeadline() == nil)
    }

    @Test("workers above the floor idle out down to it, the least recently used first")
    func idleDownToFloor() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3)))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activate("acme", additional: true)
        #expect(shell.workers(of: "acme").count == 3)
        shell.moveClock(by: .seconds(1))
        shell.advance(by: Self.idle)
        #expect(Set(shell.log.drained.keys) == [.acme(1), .acme(2), .acme(3)])
    }

    @Test("a starting worker is not idled out")
    func startingNotIdled() {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", readiness: .tcp, idleTimeout: .seconds(1), startTimeout: .seconds(30)))
        )
        shell.activate("acme")
        shell.advance(by: .seconds(20))
        #expect(shell.lastActions.isEmpty)
    }

    // MARK: - Idle-out racing a new request

    @Test("an activation at the idle deadline, handled before timeElapsed, keeps the worker")
    func activationBeforeIdleDeadlineKeepsWorker() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.moveClock(to: t0 + Self.idle)
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers == [worker])

        shell.advance(to: t0 + Self.idle)
        #expect(shell.lastActions.isEmpty)
        #expect(shell.state(of: worker) == .ready)
        #expect(shell.machine.nextDeadline() == t0 + Self.idle + Self.idle)
    }

    @Test("an activation at the idle deadline, handled after timeElapsed, gets a new worker; the old one stops")
    func activationAfterIdleDeadlineStartsNewWorker() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.advance(to: t0 + Self.idle)
        #expect(shell.lastActions.terminated == [worker])

        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
        let port = try #require(shell.launches[.acme(2)]?.port)
        #expect(shell.answers(for: activation) == [.ready([ReadyWorker(id: .acme(2), port: port)])])
        #expect(shell.state(of: worker) == .stopping(reason: .idle, killAt: t0 + Self.idle + .seconds(10)))
        #expect(port != shell.launches[worker]?.port)

        shell.exit(worker, .exited(0))
        #expect(shell.lastActions == [.publish(.workerGone(worker, exit: .exited(0), reason: .idle))])
        #expect(shell.state(of: .acme(2)) == .ready)
    }

    @Test("the same race with notify readiness: the activation waits for the new worker")
    func raceWithSlowStart() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, idleTimeout: Self.idle)))
        shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        let readyAt = shell.now
        shell.advance(to: readyAt + Self.idle)
        #expect(shell.lastActions.terminated == [.acme(1)])

        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.answers(for: activation).isEmpty)
        shell.notify(.acme(2), "READY=1")
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    // MARK: - Draining

    @Test("a draining worker with requests in flight waits for them before SIGTERM")
    func drainWaitsForInFlight() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.activity(worker, inFlight: 2)
        _ = try shell.drain("acme").get()
        #expect(shell.published() == [.workerDraining(worker, reason: .drained)])
        #expect(shell.lastActions.terminated.isEmpty)
        #expect(shell.state(of: worker) == .draining(reason: .drained, deadline: shell.now + .seconds(30)))

        shell.moveClock(by: .seconds(5))
        shell.activity(worker, inFlight: 1)
        #expect(shell.lastActions.isEmpty)
        shell.moveClock(by: .seconds(5))
        shell.activity(worker, inFlight: 0)
        #expect(shell.lastActions == [.terminate(worker)])
        #expect(shell.state(of: worker) == .stopping(reason: .drained, killAt: shell.now + .seconds(10)))
    }

    @Test("a draining worker is told to stop at drain_timeout even with requests in flight, killed after stop_timeout")
    func drainTimeout() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.activity(worker, inFlight: 2)
        _ = try shell.drain("acme").get()
        #expect(shell.machine.nextDeadline() == shell.now + .seconds(30))
        shell.advance(by: .seconds(30) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)
        shell.advance(by: .nanoseconds(1))
        #expect(shell.lastActions == [.terminate(worker)])
        shell.advance(by: .seconds(10))
        #expect(shell.lastActions == [.kill(worker)])
        shell.exit(worker, .signaled(9))
        #expect(shell.lastActions.published == [.workerGone(worker, exit: .signaled(9), reason: .drained)])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
    }

    @Test("a draining worker takes no new activations")
    func drainingWorkerNotOffered() throws {
        var (shell, worker) = try shellWithReadyWorker()
        shell.activity(worker, inFlight: 1)
        _ = try shell.drain("acme").get()
        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }
}
