import Testing

@testable import ClusterCore

@Suite("Readiness")
struct ReadinessTests {
    @Test("listen-fds: ready as soon as the spawn is reported")
    func listenFDsReadyAtLaunch() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .listenFDs)), reportsLaunches: false)
        let activation = shell.activate("acme")
        #expect(shell.state(of: .acme(1))?.name == .starting)

        shell.reportLaunched(.acme(1), pid: 7)
        let port = try #require(shell.launches[.acme(1)]?.port)
        #expect(
            shell.published() == [
                .workerStarting(.acme(1), port: port, pid: 7), .workerReady(.acme(1), port: port),
            ]
        )
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1)])
        #expect(shell.machine.worker(.acme(1))?.readyAt == shell.now)
    }

    @Test("notify: ready only at READY=1")
    func notifyReadyAtReady() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        #expect(shell.state(of: .acme(1))?.name == .starting)

        shell.notify(.acme(1), "STATUS=loading")
        shell.notify(.acme(1), "READY=0")
        shell.notify(.acme(1), "WATCHDOG=1")
        #expect(shell.state(of: .acme(1))?.name == .starting)
        #expect(shell.answers(for: activation).isEmpty)

        shell.moveClock(by: .milliseconds(1500))
        shell.notify(.acme(1), "READY=1\nSTATUS=serving")
        let port = try #require(shell.launches[.acme(1)]?.port)
        #expect(shell.published() == [.workerReady(.acme(1), port: port)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1)])
        #expect(shell.machine.worker(.acme(1))?.readyAt == t0 + .milliseconds(1500))
        #expect(shell.machine.worker(.acme(1))?.statusText == "serving")

        // A second READY=1 changes nothing.
        shell.notify(.acme(1), "READY=1")
        #expect(shell.lastActions.isEmpty)
    }

    @Test("tcp: ready when the probe connects, not at launch")
    func tcpReadyAtProbe() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp)))
        let activation = shell.activate("acme")
        #expect(shell.state(of: .acme(1))?.name == .starting)
        #expect(shell.answers(for: activation).isEmpty)

        shell.reportReady(.acme(1))
        #expect(shell.state(of: .acme(1)) == .ready)
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1)])

        shell.reportReady(.acme(1))
        #expect(shell.lastActions.isEmpty)
    }

    @Test("READY=1 is ignored unless readiness is notify", arguments: [Readiness.tcp])
    func readyIgnoredForOtherModes(_ readiness: Readiness) {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: readiness)))
        let activation = shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        #expect(shell.state(of: .acme(1))?.name == .starting)
        #expect(shell.answers(for: activation).isEmpty)
        #expect(shell.lastActions.isEmpty)
    }

    @Test("READY=1 from a listen-fds worker neither re-announces nor re-answers")
    func readyIgnoredForListenFDs() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .listenFDs)))
        shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        #expect(shell.lastActions.isEmpty)
    }

    @Test("events about unknown workers are ignored")
    func unknownWorkers() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        #expect(shell.reportLaunched(.acme(9)).isEmpty)
        #expect(shell.reportReady(.acme(9)).isEmpty)
        #expect(shell.notify(.acme(9), "READY=1").isEmpty)
        #expect(shell.exit(.acme(9)).isEmpty)
        #expect(shell.activity(.acme(9), inFlight: 3).isEmpty)
        #expect(shell.reportLaunchFailed(.acme(9), .failed("x")).isEmpty)
        #expect(shell.notify(WorkerID(tenant: "ghost", serial: 1), "READY=1").isEmpty)
        #expect(shell.machine.workerCount == 0)
    }

    @Test("STATUS= is kept and shown in status, the latest one winning")
    func statusText() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        shell.activate("acme")
        shell.notify(.acme(1), "STATUS=warming caches")
        var status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.workers.first?.statusText == "warming caches")

        shell.notify(.acme(1), "READY=1\nSTATUS=42 sessions")
        status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.workers.first?.statusText == "42 sessions")
        #expect(shell.machine.status(now: shell.now).tenants.first?.workers.first?.statusText == "42 sessions")
    }

    @Test("STOPPING=1: draining published, the exit is no failure, a replacement keeps the floor")
    func stoppingRequestedByWorker() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", readiness: .notify, stopTimeout: .seconds(10), minWorkers: 1))
        )
        shell.advanceToNextDeadline()  // startup: the floor is due at once
        #expect(shell.launchedWorkers() == [.acme(1)])
        shell.notify(.acme(1), "READY=1")

        shell.notify(.acme(1), "STOPPING=1")
        #expect(shell.published().first == .workerDraining(.acme(1), reason: .workerRequested))
        #expect(shell.state(of: .acme(1)) == .stopping(reason: .workerRequested, killAt: shell.now + .seconds(10)))
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.lastActions.terminated.isEmpty)  // it is stopping by itself

        shell.moveClock(by: .seconds(1))
        shell.exit(.acme(1), .exited(0))
        #expect(shell.published() == [.workerGone(.acme(1), exit: .exited(0), reason: .workerRequested)])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.launchedWorkers().isEmpty)
    }

    @Test("STOPPING=1 with a non-zero exit is still no failure")
    func stoppingThenCrash() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        #expect(shell.answers(for: activation).count == 1)
        shell.notify(.acme(1), "STOPPING=1")
        shell.exit(.acme(1), .exited(3))
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.pool("acme")?.restarts.failureTimes.isEmpty == true)
    }

    @Test("a worker that said STOPPING=1 but does not exit is killed after stop_timeout")
    func stoppingWorkerKilled() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, stopTimeout: .seconds(10))))
        shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        shell.notify(.acme(1), "STOPPING=1")
        #expect(shell.machine.nextDeadline() == shell.now + .seconds(10))
        shell.advance(by: .seconds(10))
        #expect(shell.lastActions.killed == [.acme(1)])
    }

    @Test("watchdog: WATCHDOG_USEC is passed, pings extend it, a missed ping kills and counts as a failure")
    func watchdog() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, watchdog: .seconds(5))))
        let activation = shell.activate("acme")
        #expect(shell.launches[.acme(1)]?.environment["WATCHDOG_USEC"] == "5000000")
        shell.notify(.acme(1), "READY=1")
        #expect(shell.answers(for: activation).count == 1)

        // Pinging every 4 s keeps it alive well past 5 s.
        for _ in 0..<5 {
            shell.advance(by: .seconds(4))
            #expect(shell.lastActions.isEmpty)
            shell.notify(.acme(1), "WATCHDOG=1")
        }
        let lastPing = shell.now
        #expect(shell.machine.nextDeadline() == lastPing + .seconds(5))

        shell.advance(to: lastPing + .seconds(5) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)
        shell.advance(to: lastPing + .seconds(5))
        #expect(shell.lastActions.killed == [.acme(1)])
        #expect(shell.state(of: .acme(1)) == .killed(reason: .watchdog))
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
        #expect(shell.pool("acme")?.lastError?.contains("WATCHDOG") == true)

        shell.exit(.acme(1), .signaled(9))
        #expect(shell.published() == [.workerGone(.acme(1), exit: .signaled(9), reason: .watchdog)])
        // Restarted after the first backoff step.
        #expect(shell.launchedWorkers().isEmpty)
        shell.advance(to: lastPing + .seconds(5) + .milliseconds(100))
        #expect(shell.launchedWorkers() == [.acme(2)])
    }

    @Test("the watchdog is armed when the worker is ready, not while it starts (as systemd does)")
    func watchdogArmedAtReady() {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", readiness: .notify, startTimeout: .seconds(30), watchdog: .seconds(5)))
        )
        let activation = shell.activate("acme")
        #expect(shell.machine.nextDeadline() == t0 + .seconds(30))
        shell.advance(by: .seconds(20))
        #expect(shell.lastActions.isEmpty)

        shell.notify(.acme(1), "READY=1")
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1)])
        #expect(shell.machine.nextDeadline() == t0 + .seconds(25))
        shell.advance(to: t0 + .seconds(25))
        #expect(shell.lastActions.killed == [.acme(1)])
    }

    @Test("WATCHDOG=trigger kills at once and counts as a failure")
    func watchdogTrigger() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, watchdog: .seconds(5))))
        shell.activate("acme")
        shell.notify(.acme(1), "READY=1")
        shell.notify(.acme(1), "WATCHDOG=trigger")
        #expect(shell.lastActions.killed == [.acme(1)])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
    }

    @Test("WATCHDOG=trigger while starting fails the waiting activations")
    func watchdogTriggerWhileStarting() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        shell.notify(.acme(1), "WATCHDOG=trigger")
        #expect(shell.lastActions.killed == [.acme(1)])
        #expect(shell.answers(for: activation) == [.failed(.startFailed("the worker triggered its watchdog"))])
    }

    @Test("without a watchdog setting, pings are ignored and nothing is ever killed for silence")
    func noWatchdog() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, idleTimeout: .zero)))
        shell.activate("acme")
        #expect(shell.launches[.acme(1)]?.environment["WATCHDOG_USEC"] == nil)
        shell.notify(.acme(1), "READY=1\nWATCHDOG=1")
        #expect(shell.machine.nextDeadline() == nil)
        shell.advance(by: .seconds(3600))
        #expect(shell.lastActions.isEmpty)
    }
}
