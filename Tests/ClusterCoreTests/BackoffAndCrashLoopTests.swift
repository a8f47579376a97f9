import Testing

@testable import ClusterCore

@Suite("Start failures, backoff and crash loops")
struct BackoffAndCrashLoopTests {
    // MARK: - Failed starts

    @Test("start timeout: SIGKILL, counted as a failure, waiters answered startTimedOut")
    func startTimeout() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, startTimeout: .seconds(30))))
        let activation = shell.activate("acme")

        shell.advance(by: .seconds(30))
        #expect(shell.lastActions.killed == [.acme(1)])
        #expect(shell.state(of: .acme(1)) == .killed(reason: .startTimedOut))
        #expect(shell.answers(for: activation) == [.failed(.startTimedOut(.seconds(30)))])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
        #expect(shell.pool("acme")?.restarts.failureTimes == [t0 + .seconds(30)])
        #expect(shell.launchedWorkers().isEmpty)

        shell.exit(.acme(1), .signaled(9))
        #expect(shell.published() == [.workerGone(.acme(1), exit: .signaled(9), reason: .startTimedOut)])
        // Nobody waits any more: nothing is restarted.
        shell.advance(by: .seconds(1))
        #expect(shell.launchedWorkers().isEmpty)
    }

    @Test("a probe that connects after the start timeout changes nothing")
    func lateReadiness() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, startTimeout: .seconds(30))))
        shell.activate("acme")
        shell.advance(by: .seconds(30))
        shell.reportReady(.acme(1))
        #expect(shell.lastActions.isEmpty)
        #expect(shell.state(of: .acme(1)) == .killed(reason: .startTimedOut))
    }

    @Test("an exit before ready is a failure; waiters are answered startFailed")
    func exitBeforeReady() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let first = shell.activate("acme")
        let second = shell.activate("acme")

        shell.moveClock(by: .milliseconds(300))
        shell.exit(.acme(1), .exited(2))
        let failure = ActivationAnswer.failed(.startFailed("exited with status 2 before becoming ready"))
        #expect(shell.answers(for: first) == [failure])
        #expect(shell.answers(for: second) == [failure])
        #expect(shell.published().first == .workerGone(.acme(1), exit: .exited(2), reason: nil))
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
        #expect(shell.pool("acme")?.lastError == "exited with status 2 before becoming ready")
        #expect(shell.launchedWorkers().isEmpty)
    }

    @Test("a clean exit before ready is a failure too")
    func cleanExitBeforeReady() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        shell.exit(.acme(1), .exited(0))
        #expect(shell.answers(for: activation).first?.failure != nil)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
    }

    @Test("a launch failure is a failure; waiters are answered startFailed with the reason")
    func launchFailure() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), ports: 20000...20001), reportsLaunches: false)
        let activation = shell.activate("acme")
        let port = try #require(shell.launches[.acme(1)]?.port)

        shell.reportLaunchFailed(.acme(1), .failed("/usr/bin/app: No such file or directory"))
        #expect(shell.answers(for: activation) == [.failed(.startFailed("/usr/bin/app: No such file or directory"))])
        #expect(shell.published() == [.workerGone(.acme(1), exit: nil, reason: nil)])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
        #expect(shell.machine.worker(.acme(1)) == nil)
        #expect(shell.machine.ports.isInUse(port) == false)
    }

    @Test("a port someone else holds: relaunched at once on another port, not a failure")
    func portUnavailable() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")), reportsLaunches: false)
        let activation = shell.activate("acme")
        let firstPort = try #require(shell.launches[.acme(1)]?.port)

        shell.reportLaunchFailed(.acme(1), .portUnavailable)
        let relaunch = try #require(shell.lastActions.launches.first)
        #expect(shell.lastActions.launches.count == 1)
        #expect(relaunch.worker == .acme(2))
        #expect(relaunch.port != firstPort)
        #expect(shell.answers(for: activation).isEmpty)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.pool("acme")?.restarts.failureTimes.isEmpty == true)

        shell.reportLaunched(.acme(2))
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    @Test("a port that could not be bound is skipped for a while even when the cursor comes round")
    func blockedPortSkipped() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), ports: 20000...20001), reportsLaunches: false)
        shell.activate("acme")
        #expect(shell.launches[.acme(1)]?.port == 20000)
        shell.reportLaunchFailed(.acme(1), .portUnavailable)
        #expect(shell.launches[.acme(2)]?.port == 20001)
        shell.reportLaunched(.acme(2))
        shell.exit(.acme(2), .exited(0))
        shell.activate("acme")
        // 20000 is blocked, 20001 is free again.
        #expect(shell.launchedWorkers() == [.acme(3)])
        #expect(shell.launches[.acme(3)]?.port == 20001)
    }

    // MARK: - Backoff

    @Test("a ready worker's crash is restarted only after the backoff delay")
    func crashRestartedAfterBackoff() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", idleTimeout: .zero)))
        let worker = try shell.readyWorker(of: "acme")
        shell.advance(by: .seconds(1))

        let crashedAt = shell.now
        shell.exit(worker, .signaled(11))
        #expect(shell.published() == [.workerGone(worker, exit: .signaled(11), reason: nil)])
        #expect(shell.launchedWorkers().isEmpty)
        #expect(shell.machine.nextDeadline() == crashedAt + .milliseconds(100))

        shell.advance(to: crashedAt + .milliseconds(100) - .nanoseconds(1))
        #expect(shell.launchedWorkers().isEmpty)
        shell.advance(to: crashedAt + .milliseconds(100))
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.state(of: .acme(2)) == .ready)
    }

    @Test("backoff delays double with consecutive failures: 100, 200, 400, 800 ms")
    func delaysGrow() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", idleTimeout: .zero)))
        var worker = try shell.readyWorker(of: "acme")
        for expected in [100, 200, 400, 800] {
            shell.advance(by: .seconds(1))
            let crashedAt = shell.now
            shell.exit(worker, .exited(1))
            #expect(shell.machine.nextDeadline() == crashedAt + .milliseconds(expected))
            shell.advance(to: crashedAt + .milliseconds(expected) - .nanoseconds(1))
            #expect(shell.launchedWorkers().isEmpty)
            shell.advanceToNextDeadline()
            worker = try #require(shell.launchedWorkers().first)
        }
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 4)
    }

    @Test(
        "RestartPolicy.standard: 100 ms doubling, capped at 30 s",
        arguments: [
            (1, Duration.milliseconds(100)), (2, .milliseconds(200)), (3, .milliseconds(400)), (4, .milliseconds(800)),
            (5, .milliseconds(1600)), (9, .milliseconds(25600)), (10, .seconds(30)), (11, .seconds(30)),
            (64, .seconds(30)), (10_000, .seconds(30)),
        ]
    )
    func standardDelays(failures: Int, delay: Duration) {
        #expect(RestartPolicy.standard.delay(afterConsecutiveFailures: failures) == delay)
    }

    @Test("in the machine, the delay stops growing at 30 s")
    func delayCapped() throws {
        // A policy that never declares a crash loop, so the delay can grow to its cap.
        let policy = RestartPolicy(crashLoopFailures: .max)
        var shell = SimulatedShell(.fixture(.fixture("acme", idleTimeout: .zero)), policy: policy)
        var worker = try shell.readyWorker(of: "acme")
        var delays: [Duration] = []
        for _ in 0..<12 {
            let crashedAt = shell.now
            shell.exit(worker, .exited(1))
            let deadline = try #require(shell.machine.nextDeadline())
            delays.append(deadline - crashedAt)
            shell.advance(to: deadline)
            worker = try #require(shell.launchedWorkers().first)
        }
        #expect(delays.last == .seconds(30))
        #expect(delays.max() == .seconds(30))
        #expect(delays.prefix(3) == [.milliseconds(100), .milliseconds(200), .milliseconds(400)])
    }

    @Test(
        "the delay resets after a worker stayed ready 10 s",
        arguments: [
            (Duration.seconds(10), Duration.milliseconds(100)),
            (.seconds(60), .milliseconds(100)),
            (.seconds(10) - .nanoseconds(1), .milliseconds(800)),
            (.seconds(1), .milliseconds(800)),
        ]
    )
    func delayResets(uptime: Duration, expectedDelay: Duration) throws {
        let policy = RestartPolicy(crashLoopFailures: .max)
        var shell = SimulatedShell(.fixture(.fixture("acme", idleTimeout: .zero)), policy: policy)
        var worker = try shell.readyWorker(of: "acme")
        for _ in 0..<3 {
            shell.exit(worker, .exited(1))
            shell.advanceToNextDeadline()
            worker = try #require(shell.launchedWorkers().first)
        }
        shell.advance(by: uptime)
        let crashedAt = shell.now
        shell.exit(worker, .exited(1))
        #expect(shell.machine.nextDeadline() == crashedAt + expectedDelay)
    }

    @Test("an activation during backoff waits for the restart and gets its worker")
    func activationDuringBackoff() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, startTimeout: .seconds(5))))
        let first = shell.activate("acme")
        shell.reportReady(.acme(1))
        #expect(shell.answers(for: first).count == 1)
        shell.exit(.acme(1), .exited(1))

        let waiting = shell.activate("acme")
        #expect(shell.launchedWorkers().isEmpty)
        shell.advance(by: .milliseconds(100))
        #expect(shell.launchedWorkers() == [.acme(2)])
        // Its wait is measured from the end of the backoff: just under 5 s later it still waits.
        shell.advance(by: .seconds(5) - .nanoseconds(1))
        #expect(shell.answers(for: waiting).isEmpty)
        shell.reportReady(.acme(2))
        #expect(shell.answers(for: waiting).first?.readyWorkers == [.acme(2)])
    }

    @Test("a clean exit (status 0) of a ready worker is not a failure and is not restarted on demand")
    func cleanExitIsNoFailure() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        for round in 1...6 {
            let worker = try shell.readyWorker(of: "acme")
            #expect(worker == .acme(round))
            shell.exit(worker, .exited(0))
            #expect(shell.published() == [.workerGone(worker, exit: .exited(0), reason: nil)])
            #expect(shell.launchedWorkers().isEmpty)
        }
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        #expect(shell.pool("acme")?.mode == .onDemand)
        #expect(shell.machine.nextDeadline() == nil)
    }

    @Test("a clean exit below min_workers is replaced at once, without backoff")
    func cleanExitBelowFloor() {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1)))
        shell.advanceToNextDeadline()
        #expect(shell.launchedWorkers() == [.acme(1)])
        shell.exit(.acme(1), .exited(0))
        #expect(shell.launchedWorkers() == [.acme(2)])
    }

    @Test(
        "a ready worker killed by a signal is a failure",
        arguments: [ExitStatus.signaled(9), .signaled(6), .exited(137)]
    )
    func signalIsFailure(_ status: ExitStatus) throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        let worker = try shell.readyWorker(of: "acme")
        shell.exit(worker, status)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
        #expect(shell.pool("acme")?.lastError == status.description)
    }

    // MARK: - Crash loop

    /// Crashes `acme` 5 times, each right after its restart; returns the shell at the 5th crash.
    private func crashLooping() throws -> SimulatedShell {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        var worker = try shell.readyWorker(of: "acme")
        for crash in 1...5 {
            shell.exit(worker, .exited(1))
            if crash < 5 {
                #expect(shell.published().contains { if case .tenantFailed = $0 { true } else { false } } == false)
                shell.advanceToNextDeadline()
                worker = try #require(shell.launchedWorkers().first)
            }
        }
        return shell
    }

    @Test("5 failures within 60 s: the tenant fails, activations are refused at once, nothing launches")
    func crashLoopFailsTenant() throws {
        var shell = try crashLooping()
        let failedAt = shell.now
        #expect(
            shell.published().last
                == .tenantFailed("acme", reason: "exited with status 1", retryAfter: .milliseconds(1600))
        )
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.state == .failed)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.retryIn == .milliseconds(1600))

        shell.moveClock(by: .milliseconds(600))
        let refused = shell.activate("acme")
        #expect(
            shell.lastActions
                == [
                    .answerActivation(
                        refused,
                        .failed(.tenantFailed(reason: "exited with status 1", retryAfter: .seconds(1)))
                    )
                ]
        )
        #expect(shell.machine.nextDeadline() == failedAt + .milliseconds(1600))
        shell.advance(to: failedAt + .milliseconds(1600) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)

        shell.advance(to: failedAt + .milliseconds(1600))
        #expect(shell.lastActions == [.publish(.tenantRecovered("acme"))])
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.state == .idle)

        let accepted = shell.activate("acme")
        #expect(shell.launchedWorkers().count == 1)
        #expect(shell.answers(for: accepted).first?.readyWorkers == shell.launchedWorkers())
    }

    @Test("an activation arriving just as the failed period ends is not refused")
    func activationAtRecoveryInstant() throws {
        var shell = try crashLooping()
        let until = shell.now + .milliseconds(1600)
        shell.moveClock(to: until)
        let activation = shell.activate("acme")
        #expect(shell.published().contains(.tenantRecovered("acme")))
        #expect(shell.answers(for: activation).first?.readyWorkers?.count == 1)
    }

    @Test("a failing tenant with min_workers restarts when the window ends and fails again sooner")
    func crashLoopWithFloor() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1)))
        shell.advanceToNextDeadline()
        for _ in 1...5 {
            let worker = try #require(shell.workers(of: "acme").first?.id)
            shell.exit(worker, .exited(1))
            if shell.pool("acme")?.mode == .onDemand { shell.advanceToNextDeadline() }
        }
        #expect(shell.pool("acme")?.mode != .onDemand)
        shell.advanceToNextDeadline()
        #expect(shell.published().contains(.tenantRecovered("acme")))
        #expect(shell.launchedWorkers().count == 1)
        // Still 6 failures within the window: failed again with the next, longer delay.
        shell.exit(try #require(shell.launchedWorkers().first), .exited(1))
        #expect(
            shell.published().last
                == .tenantFailed("acme", reason: "exited with status 1", retryAfter: .milliseconds(3200))
        )
    }

    @Test("failures spread over more than 60 s do not fail the tenant")
    func spreadFailures() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp)))
        for _ in 0..<8 {
            shell.advance(by: .seconds(16))  // longer than any backoff so far
            let activation = shell.activate("acme")
            let worker = try #require(shell.launchedWorkers().first)
            shell.exit(worker, .exited(1))
            #expect(shell.answers(for: activation).first?.failure != nil)
            #expect(shell.pool("acme")?.mode == .onDemand)
        }
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 8)
        #expect(!shell.log.published.contains { if case .tenantFailed = $0 { true } else { false } })
    }

    @Test("clusterctl start clears failed at once and starts a worker")
    func startClearsFailed() throws {
        var shell = try crashLooping()
        let actions = try shell.start("acme").get()
        #expect(actions.published.first == .tenantRecovered("acme"))
        #expect(actions.launches.count == 1)
        #expect(shell.pool("acme")?.mode == .onDemand)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers == actions.launches.map(\.worker))
    }

    @Test("clusterctl restart clears failed too")
    func restartClearsFailed() throws {
        var shell = try crashLooping()
        let actions = try shell.restart("acme").get()
        #expect(actions.published.first == .tenantRecovered("acme"))
        #expect(actions.launches.count == 1)
    }

    @Test("a reload that changes the tenant clears failed; one that does not keeps it failed")
    func reloadClearsFailed() throws {
        var shell = try crashLooping()
        shell.reload(.fixture(.fixture("acme")))
        #expect(shell.pool("acme")?.mode != .onDemand)
        #expect(!shell.published().contains(.tenantRecovered("acme")))

        shell.reload(.fixture(.fixture("acme", startTimeout: .seconds(60))))
        #expect(shell.published().contains(.tenantRecovered("acme")))
        #expect(shell.pool("acme")?.mode == .onDemand)
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers?.count == 1)
    }

    @Test("a failed tenant still answers with the workers it has ready")
    func failedTenantKeepsReadyWorkers() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 2)))
        let steady = try shell.readyWorker(of: "acme")
        var flaky = try shell.readyWorker(of: "acme", additional: true)
        for _ in 1...5 {
            shell.exit(flaky, .exited(1))
            if shell.pool("acme")?.mode == .onDemand {
                shell.advanceToNextDeadline()
                flaky = try #require(shell.launchedWorkers().first)
            }
        }
        #expect(shell.pool("acme")?.mode != .onDemand)
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers == [steady])
        shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers().isEmpty)
    }
}
