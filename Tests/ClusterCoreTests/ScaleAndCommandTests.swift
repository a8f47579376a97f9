import Testing

@testable import ClusterCore

@Suite("Scale and operator commands")
struct ScaleAndCommandTests {
    // MARK: - Startup

    @Test("min_workers are due at startup and launched at the first timeElapsed")
    func floorAtStartup() {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 2, maxWorkers: 2), .fixture("beta")))
        let deadline = shell.machine.nextDeadline()
        #expect(deadline != nil && deadline! <= shell.now)
        shell.advance(by: .zero)
        #expect(shell.launchedWorkers() == [.acme(1), .acme(2)])
        #expect(shell.machine.nextDeadline() == nil)
    }

    // MARK: - Scale

    @Test("scale N launches N workers now", arguments: [1, 2, 5])
    func scaleUp(count: Int) throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 1)))
        let actions = try shell.scale("acme", to: count).get()
        #expect(actions.launches.map(\.worker) == (1...count).map { WorkerID.acme($0) })
        #expect(Set(actions.launches.map(\.port)).count == count)
        #expect(shell.machine.scales == ["acme": count])
        let status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.scale == count)
        #expect(status.floor == count)
        #expect(status.maxWorkers == max(1, count))
        #expect(status.workers.allSatisfy { $0.state == .ready })
    }

    @Test("scale spreads activations: every ready worker is offered")
    func scaledActivation() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.scale("acme", to: 3).get()
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1), .acme(2), .acme(3)])
    }

    @Test("scale down drains the surplus: least busy first, newest first among equals")
    func scaleDown() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.scale("acme", to: 4).get()
        shell.activity(.acme(1), inFlight: 0)
        shell.activity(.acme(2), inFlight: 5)
        shell.activity(.acme(3), inFlight: 0)
        shell.activity(.acme(4), inFlight: 1)

        let actions = try shell.scale("acme", to: 2).get()
        #expect(actions.drained == [.acme(3): .surplus, .acme(1): .surplus])
        #expect(actions.terminated.sorted() == [.acme(1), .acme(3)])
        #expect(shell.state(of: .acme(2)) == .ready)
        #expect(shell.state(of: .acme(4)) == .ready)

        let fewer = try shell.scale("acme", to: 1).get()
        #expect(fewer.drained == [.acme(4): .surplus])
        // It has a request in flight: it drains before SIGTERM.
        #expect(fewer.terminated.isEmpty)
    }

    @Test("scale down drains starting workers before ready ones")
    func scaleDownStartingFirst() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp)))
        _ = try shell.scale("acme", to: 3).get()
        shell.reportReady(.acme(1))
        shell.reportReady(.acme(3))
        let actions = try shell.scale("acme", to: 2).get()
        #expect(actions.drained == [.acme(2): .surplus])
        #expect(actions.terminated == [.acme(2)])
    }

    @Test("scale 0 stops every worker and returns the tenant to on-demand")
    func scaleZero() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.scale("acme", to: 3).get()
        let actions = try shell.scale("acme", to: 0).get()
        #expect(Set(actions.terminated) == [.acme(1), .acme(2), .acme(3)])
        #expect(shell.machine.scales.isEmpty)
        for serial in 1...3 { shell.exit(.acme(serial), .exited(0)) }
        #expect(shell.log.launches.count == 3)

        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(4)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(4)])
        // …and it idles out again.
        shell.advance(by: .seconds(300))
        #expect(shell.lastActions.drained == [.acme(4): .idle])
    }

    @Test("scale 0 keeps min_workers")
    func scaleZeroKeepsFloor() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1)))
        _ = try shell.scale("acme", to: 3).get()
        let actions = try shell.scale("acme", to: 0).get()
        #expect(actions.drained.count == 2)
        #expect(shell.workers(of: "acme").count { $0.isLive } == 1)
    }

    @Test("scale 0 while an activation waits: a worker still starts for it")
    func scaleZeroWithWaiter() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        _ = try shell.scale("acme", to: 0).get()
        let worker = try #require(shell.workers(of: "acme").first { $0.isLive }?.id)
        shell.notify(worker, "READY=1")
        #expect(shell.answers(for: activation).first?.readyWorkers == [worker])
    }

    @Test("restoreScale sets a scale from state_dir; bad values are ignored")
    func restoreScale() {
        var shell = SimulatedShell(.fixture(.fixture("acme"), maxWorkers: 4))
        #expect(shell.restoreScale("acme", to: 2).launches.count == 2)
        #expect(shell.machine.scales == ["acme": 2])
        #expect(shell.restoreScale("ghost", to: 2).isEmpty)
        #expect(shell.restoreScale("acme", to: 0).isEmpty)
        #expect(shell.restoreScale("acme", to: -1).isEmpty)
        #expect(shell.restoreScale("acme", to: 5).isEmpty)
        #expect(shell.machine.scales == ["acme": 2])
    }

    @Test(
        "scale is refused for an unknown tenant, a negative count, or above the host cap",
        arguments: [
            ("ghost", 1, CommandRejection.Code.unknownTenant),
            ("acme", -1, .invalidArgument),
            ("acme", 9, .invalidArgument),
        ]
    )
    func scaleRejected(tenant: String, count: Int, code: CommandRejection.Code) {
        var shell = SimulatedShell(.fixture(.fixture("acme"), maxWorkers: 8))
        let rejection = shell.scale(tenant, to: count).rejection
        #expect(rejection?.code == code)
        #expect(rejection?.message.isEmpty == false)
        #expect(shell.log.isEmpty)
        #expect(shell.machine.scales.isEmpty)
    }

    @Test("scale up to exactly the host cap is allowed")
    func scaleToCap() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), maxWorkers: 8))
        #expect(try shell.scale("acme", to: 8).get().launches.count == 8)
    }

    // MARK: - Commands refused

    @Test("commands for an unknown tenant are refused")
    func unknownTenantCommands() {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        #expect(shell.start("ghost").rejection?.code == .unknownTenant)
        #expect(shell.stop("ghost").rejection?.code == .unknownTenant)
        #expect(shell.drain("ghost").rejection?.code == .unknownTenant)
        #expect(shell.restart("ghost").rejection?.code == .unknownTenant)
    }

    // MARK: - Stop and start

    @Test("stop: every worker gets SIGTERM, waiters and new activations are refused until start")
    func stopAndStart() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, maxWorkers: 2)))
        shell.activate("acme")
        shell.reportReady(.acme(1))
        shell.activate("acme", additional: true)
        shell.activity(.acme(1), inFlight: 3)
        let waiting = shell.activate("acme")  // answered at once: acme#1 is ready
        #expect(shell.answers(for: waiting).count == 1)

        let actions = try shell.stop("acme").get()
        #expect(actions.drained == [.acme(1): .stopped, .acme(2): .stopped])
        #expect(Set(actions.terminated) == [.acme(1), .acme(2)])
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.state == .stopped)

        let refused = shell.activate("acme")
        #expect(shell.answers(for: refused) == [.failed(.tenantStopped)])
        shell.exit(.acme(1), .exited(0))
        shell.exit(.acme(2), .signaled(15))
        shell.advance(by: .seconds(60))
        #expect(shell.log.launches.count == 2)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)

        let started = try shell.start("acme").get()
        #expect(started.launches.map(\.worker) == [.acme(3)])
        shell.reportReady(.acme(3))
        let accepted = shell.activate("acme")
        #expect(shell.answers(for: accepted).first?.readyWorkers == [.acme(3)])
    }

    @Test("stop answers the activations that were waiting")
    func stopAnswersWaiters() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let first = shell.activate("acme")
        let second = shell.activate("acme")
        _ = try shell.stop("acme").get()
        #expect(shell.answers(for: first) == [.failed(.tenantStopped)])
        #expect(shell.answers(for: second) == [.failed(.tenantStopped)])
        #expect(shell.lastActions.terminated == [.acme(1)])
        // A READY=1 that was already on its way changes nothing.
        shell.notify(.acme(1), "READY=1")
        #expect(shell.lastActions.isEmpty)
    }

    @Test("a stopped tenant keeps neither its floor nor its scale running, and gets them back at start")
    func stopOverridesFloor() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1)))
        _ = try shell.scale("acme", to: 2).get()
        _ = try shell.stop("acme").get()
        shell.exit(.acme(1), .exited(0))
        shell.exit(.acme(2), .exited(0))
        shell.advance(by: .seconds(10))
        #expect(shell.machine.workerCount == 0)
        #expect(shell.machine.scales == ["acme": 2])
        let actions = try shell.start("acme").get()
        #expect(actions.launches.count == 2)
    }

    @Test("start of a running tenant is harmless")
    func startRunning() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.readyWorker(of: "acme")
        #expect(try shell.start("acme").get().isEmpty)
    }

    @Test("a stopped tenant's worker that was still starting is terminated, and its late exit is no failure")
    func stopStartingWorker() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp)))
        shell.activate("acme")
        _ = try shell.stop("acme").get()
        shell.exit(.acme(1), .signaled(15))
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
    }

    // MARK: - Drain

    @Test("drain: every worker drains; the tenant is back to on-demand")
    func drain() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 2)))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activity(.acme(2), inFlight: 1)
        let actions = try shell.drain("acme").get()
        #expect(actions.drained == [.acme(1): .drained, .acme(2): .drained])
        #expect(actions.terminated == [.acme(1)])
        #expect(actions.launches.isEmpty)

        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(3)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(3)])
    }

    @Test("drain refills the floor with fresh workers")
    func drainRefillsFloor() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", minWorkers: 1)))
        shell.advance(by: .zero)
        let actions = try shell.drain("acme").get()
        #expect(actions.drained == [.acme(1): .drained])
        #expect(actions.launches.map(\.worker) == [.acme(2)])
    }

    @Test("drain while an activation waits: a fresh worker starts for it")
    func drainWithWaiter() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let activation = shell.activate("acme")
        let actions = try shell.drain("acme").get()
        #expect(actions.terminated == [.acme(1)])
        #expect(actions.launches.map(\.worker) == [.acme(2)])
        shell.notify(.acme(2), "READY=1")
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    // MARK: - Restart

    @Test("restart is rolling: each new worker is ready before an old one drains")
    func rollingRestart() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, maxWorkers: 2)))
        shell.activate("acme")
        shell.reportReady(.acme(1))
        shell.activate("acme", additional: true)
        shell.reportReady(.acme(2))

        let actions = try shell.restart("acme").get()
        #expect(actions.launches.map(\.worker) == [.acme(3), .acme(4)])
        #expect(actions.drained.isEmpty)
        #expect(actions.terminated.isEmpty)

        // While the new ones start, the old ones keep serving.
        let meanwhile = shell.activate("acme")
        #expect(shell.answers(for: meanwhile).first?.readyWorkers == [.acme(1), .acme(2)])

        shell.reportReady(.acme(3))
        #expect(shell.lastActions.drained.count == 1)
        #expect(shell.lastActions.drained.values.allSatisfy { $0 == .replaced })
        shell.reportReady(.acme(4))
        #expect(shell.lastActions.drained.count == 1)
        #expect(Set(shell.log.drained.keys) == [.acme(1), .acme(2)])
        #expect(shell.workers(of: "acme").filter(\.isLive).map(\.id) == [.acme(3), .acme(4)])
    }

    @Test("restart with listen-fds replaces a worker in one step: new ready, then old drained")
    func restartListenFDs() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.readyWorker(of: "acme")
        let actions = try shell.restart("acme").get()
        let port = try #require(shell.launches[.acme(2)]?.port)
        let readyIndex = try #require(actions.firstIndex(of: .publish(.workerReady(.acme(2), port: port))))
        let drainIndex = try #require(actions.firstIndex(of: .publish(.workerDraining(.acme(1), reason: .replaced))))
        #expect(readyIndex < drainIndex)
    }

    @Test("if the new worker never becomes ready, the old one keeps serving")
    func restartWithFailingNewWorker() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, startTimeout: .seconds(5))))
        shell.activate("acme")
        shell.reportReady(.acme(1))
        _ = try shell.restart("acme").get()
        shell.exit(.acme(2), .exited(1))
        #expect(shell.state(of: .acme(1)) == .ready)
        let activation = shell.activate("acme")
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(1)])
        shell.advanceToNextDeadline()
        #expect(shell.launchedWorkers() == [.acme(3)])
        #expect(shell.state(of: .acme(1)) == .ready)
    }

    @Test("restart of a stopped tenant starts it")
    func restartStopped() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.stop("acme").get()
        #expect(try shell.restart("acme").get().launches.count == 1)
    }

    @Test("a scaled tenant restarts all its workers and keeps its scale")
    func restartScaled() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.scale("acme", to: 3).get()
        let actions = try shell.restart("acme").get()
        #expect(actions.launches.count == 3)
        #expect(actions.drained.count == 3)
        #expect(shell.machine.scales == ["acme": 3])
        #expect(shell.workers(of: "acme").count { $0.isLive } == 3)
    }

    @Test("a rolling restart of a scaled, idle tenant keeps the old workers until the new ones are ready")
    func rollingRestartOfIdleScaledTenant() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, idleTimeout: .seconds(5))))
        _ = try shell.scale("acme", to: 2).get()
        shell.reportReady(.acme(1))
        shell.reportReady(.acme(2))
        shell.advance(by: .seconds(60))  // long idle, but kept by the scale

        _ = try shell.restart("acme").get()
        shell.advance(by: .seconds(1))
        #expect(shell.log.drained.isEmpty)
        #expect(shell.state(of: .acme(1)) == .ready)
        #expect(shell.state(of: .acme(2)) == .ready)

        shell.reportReady(.acme(3))
        shell.reportReady(.acme(4))
        #expect(Set(shell.log.drained.keys) == [.acme(1), .acme(2)])
        #expect(shell.log.drained.values.allSatisfy { $0 == .replaced })
    }

    @Test("a second restart during a roll does not ask for more workers than the tenant may run")
    func restartDuringRoll() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp, maxWorkers: 2)))
        shell.activate("acme")
        shell.reportReady(.acme(1))
        shell.activate("acme", additional: true)
        shell.reportReady(.acme(2))
        _ = try shell.restart("acme").get()  // acme#3, acme#4
        let actions = try shell.restart("acme").get()
        #expect(actions.launches.count == 2)
        #expect((shell.pool("acme")?.demand ?? 0) <= 2)
        #expect(shell.pool("acme")?.liveCurrent == 2)
    }

    @Test("restoring a lower scale leaves no more workers than it allows")
    func restoreLowerScale() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 1)))
        _ = try shell.scale("acme", to: 4).get()
        shell.exit(.acme(4), .exited(1))  // 3 live, a restart pending
        shell.activate("acme", additional: true)  // on-demand growth within the scale: 4 wanted
        let actions = shell.restoreScale("acme", to: 1)
        #expect(actions.drained.count == 2)
        #expect(shell.pool("acme")?.liveCurrent == 1)
        #expect(shell.pool("acme")?.demand == 1)
        shell.advance(by: .seconds(1))
        #expect(shell.launchedWorkers().isEmpty)
    }
}

@Suite("Scaling several tenants at once")
struct MultiTenantScaleTests {
    @Test("every count is checked before any is applied: one unknown tenant or bad count changes nothing")
    func allOrNothing() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 4), .fixture("beta", maxWorkers: 4)))
        for counts in [["acme": 2, "ghost": 1], ["acme": 2, "beta": -1], ["beta": 1, "acme": 100_000]] {
            #expect(shell.scale(counts).rejection != nil, "\(counts)")
            #expect(shell.machine.scales == [:], "\(counts)")
            #expect(shell.launches.isEmpty, "\(counts)")
        }
        let actions = try shell.scale(["beta": 1, "acme": 2]).get()
        #expect(shell.machine.scales == ["acme": 2, "beta": 1])
        // Applied in name order: acme's two launches before beta's one.
        let launched = actions.compactMap { action -> WorkerID? in
            if case .launch(let launch) = action { return launch.worker }
            return nil
        }
        #expect(launched == [.acme(1), .acme(2), .beta(1)])
    }
}
