import Testing

@testable import ClusterCore

@Suite("Reload")
struct ReloadTests {
    /// The pair of tenants most reload tests start from: acme with one ready worker, beta with one ready worker.
    private func runningPair(
        acme: TenantConfiguration = .fixture("acme"),
        beta: TenantConfiguration = .fixture("beta")
    ) throws -> SimulatedShell {
        var shell = SimulatedShell(.fixture(acme, beta))
        _ = try shell.readyWorker(of: "acme")
        _ = try shell.readyWorker(of: "beta")
        return shell
    }

    @Test("an unchanged tenant is untouched: no action concerns it")
    func unchangedUntouched() throws {
        var shell = try runningPair()
        let actions = shell.reload(.fixture(.fixture("acme"), .fixture("beta", command: ["/usr/bin/other", "{port}"])))
        #expect(!actions.mentions(tenant: "acme"))
        #expect(actions.mentions(tenant: "beta"))
        #expect(actions.published.contains(.configurationReloaded))
        #expect(shell.state(of: .acme(1)) == .ready)
        #expect(shell.machine.worker(.acme(1))?.lastActivity == t0)
    }

    @Test("reloading the very same configuration does nothing but announce it")
    func identicalReload() throws {
        var shell = try runningPair()
        let actions = shell.reload(shell.machine.configuration)
        #expect(actions == [.publish(.configurationReloaded)])
    }

    @Test("a changed command rolls the tenant: the new worker is launched, then the old one is replaced")
    func changedCommandRolls() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp), .fixture("beta")))
        shell.activate("acme")
        shell.reportReady(.acme(1))
        let actions = shell.reload(
            .fixture(.fixture("acme", command: ["/usr/bin/app2", "{port}"], readiness: .tcp), .fixture("beta"))
        )
        let launch = try #require(actions.launches.first)
        #expect(actions.launches.count == 1)
        #expect(launch.worker == .acme(2))
        #expect(launch.arguments == ["/usr/bin/app2", "\(launch.port)"])
        #expect(actions.drained.isEmpty)
        #expect(shell.state(of: .acme(1)) == .ready)

        shell.reportReady(.acme(2))
        #expect(shell.lastActions.drained == [.acme(1): .replaced])
        shell.exit(.acme(1), .exited(0))
        #expect(shell.published() == [.workerGone(.acme(1), exit: .exited(0), reason: .replaced)])
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 0)
    }

    @Test("a changed idle_timeout is applied without rolling")
    func changedIdleTimeoutNotRolled() throws {
        var shell = try runningPair()
        let actions = shell.reload(.fixture(.fixture("acme", idleTimeout: .seconds(60)), .fixture("beta")))
        #expect(!actions.mentions(tenant: "acme"))
        #expect(shell.pool("acme")?.config.idleTimeout == .seconds(60))
        shell.advance(to: t0 + .seconds(60))
        #expect(shell.lastActions.drained == [.acme(1): .idle])
    }

    @Test(
        "which changes roll workers",
        arguments: [
            ("command", TenantConfiguration.fixture("acme", command: ["/bin/other"]), true),
            ("environment", .fixture("acme", environment: ["A": "1"]), true),
            ("working_directory", .fixture("acme", workingDirectory: "/srv"), true),
            ("readiness", .fixture("acme", readiness: .tcp), true),
            ("watchdog", .fixture("acme", watchdog: .seconds(5)), true),
            ("idle_timeout", .fixture("acme", idleTimeout: .seconds(1)), false),
            ("start_timeout", .fixture("acme", startTimeout: .seconds(1)), false),
            ("stop_timeout", .fixture("acme", stopTimeout: .seconds(1)), false),
            ("drain_timeout", .fixture("acme", drainTimeout: .seconds(1)), false),
            ("max_workers", .fixture("acme", maxWorkers: 3), false),
        ]
    )
    func rollingKeys(key: String, changed: TenantConfiguration, rolls: Bool) throws {
        var shell = try runningPair()
        let actions = shell.reload(.fixture(changed, .fixture("beta")))
        #expect(changed.launchesDifferently(from: .fixture("acme")) == rolls, "\(key)")
        #expect((actions.launches.count == 1) == rolls, "\(key)")
        #expect(shell.pool("acme")?.config == changed)
    }

    @Test("hosts, queue_limit and max_concurrency are router settings: not rolled")
    func routerSettingsNotRolled() throws {
        var shell = try runningPair()
        var changed = TenantConfiguration.fixture("acme")
        changed.hosts = ["www.acme.com"]
        changed.queueLimit = 7
        changed.maxConcurrency = 3
        let actions = shell.reload(.fixture(changed, .fixture("beta")))
        #expect(!actions.mentions(tenant: "acme"))
        #expect(shell.pool("acme")?.config == changed)
    }

    @Test("a raised min_workers starts workers at once")
    func raisedFloor() throws {
        var shell = try runningPair()
        let actions = shell.reload(.fixture(.fixture("acme", minWorkers: 3, maxWorkers: 3), .fixture("beta")))
        #expect(actions.launches.map(\.worker) == [.acme(2), .acme(3)])
    }

    @Test("a lowered max_workers drains the workers above it")
    func loweredMaxWorkers() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3)))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activate("acme", additional: true)
        let actions = shell.reload(.fixture(.fixture("acme", maxWorkers: 1)))
        #expect(actions.drained.count == 2)
        #expect(actions.launches.isEmpty)
        #expect(shell.workers(of: "acme").count { $0.isLive } == 1)
    }

    @Test("a removed tenant is drained and stopped, waiters are answered, then it is forgotten")
    func removedTenant() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 2), .fixture("beta", readiness: .notify)))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activity(.acme(2), inFlight: 1)
        let betaWaiter = shell.activate("beta")

        let actions = shell.reload(.fixture(.fixture("beta", readiness: .notify)))
        #expect(actions.drained == [.acme(1): .stopped, .acme(2): .stopped])
        #expect(actions.terminated == [.acme(1)])  // acme#2 finishes its request first
        #expect(shell.answers(for: betaWaiter).isEmpty)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.state == .removed)

        let refused = shell.activate("acme")
        #expect(shell.answers(for: refused) == [.failed(.unknownTenant("acme"))])
        #expect(shell.scale("acme", to: 1).rejection?.code == .unknownTenant)
        #expect(shell.start("acme").rejection?.code == .unknownTenant)

        shell.exit(.acme(1), .exited(0))
        #expect(shell.pool("acme") != nil)
        shell.activity(.acme(2), inFlight: 0)
        #expect(shell.lastActions.terminated == [.acme(2)])
        shell.exit(.acme(2), .exited(0))
        #expect(shell.pool("acme") == nil)
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now) == nil)
        #expect(shell.machine.status(now: shell.now).tenants.map(\.name) == ["beta"])
    }

    @Test("activations waiting for a removed tenant are answered unknownTenant")
    func removedTenantWaiters() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let waiter = shell.activate("acme")
        let actions = shell.reload(.fixture())
        #expect(shell.answers(for: waiter) == [.failed(.unknownTenant("acme"))])
        #expect(actions.terminated == [.acme(1)])
    }

    @Test("a removed tenant with no workers is forgotten at once")
    func removedIdleTenant() {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta")))
        shell.reload(.fixture(.fixture("beta")))
        #expect(shell.pool("acme") == nil)
    }

    @Test("a new tenant is available at once")
    func newTenant() throws {
        var shell = try runningPair()
        let actions = shell.reload(
            .fixture(.fixture("acme"), .fixture("beta"), .fixture("gamma", minWorkers: 1))
        )
        #expect(actions.launches.map(\.worker) == [WorkerID(tenant: "gamma", serial: 1)])
        let activation = shell.activate("gamma")
        #expect(shell.answers(for: activation).first?.readyWorkers == [WorkerID(tenant: "gamma", serial: 1)])
    }

    @Test("a tenant removed and added back does not reuse worker ids")
    func readdedTenantKeepsSerials() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta")))
        _ = try shell.readyWorker(of: "acme")
        shell.reload(.fixture(.fixture("beta")))
        shell.exit(.acme(1), .exited(0))
        #expect(shell.pool("acme") == nil)

        shell.reload(.fixture(.fixture("acme"), .fixture("beta")))
        shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
    }

    @Test("a tenant removed and added back before its workers left rolls them")
    func readdedBeforeGone() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta")))
        _ = try shell.readyWorker(of: "acme")
        shell.activity(.acme(1), inFlight: 1)
        shell.reload(.fixture(.fixture("beta")))
        #expect(shell.state(of: .acme(1))?.name == .draining)
        shell.reload(.fixture(.fixture("acme"), .fixture("beta")))
        let activation = shell.activate("acme")
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }

    @Test("a scale survives a reload, also one that rolls the tenant")
    func scaleSurvivesReload() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        _ = try shell.scale("acme", to: 2).get()
        shell.reload(.fixture(.fixture("acme", idleTimeout: .seconds(1))))
        #expect(shell.machine.scales == ["acme": 2])
        shell.advance(by: .seconds(10))
        #expect(shell.log.drained.isEmpty)

        let actions = shell.reload(.fixture(.fixture("acme", command: ["/usr/bin/new", "{port}"])))
        #expect(actions.launches.count == 2)
        #expect(shell.machine.scales == ["acme": 2])
        #expect(shell.workers(of: "acme").count { $0.isLive } == 2)
    }

    @Test("a new port range applies to new workers")
    func newPortRange() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta"), ports: 20000...20009))
        _ = try shell.readyWorker(of: "acme")
        shell.reload(.fixture(.fixture("acme"), .fixture("beta"), ports: 30000...30009))
        shell.activate("beta")
        let port = try #require(shell.launches[.beta(1)]?.port)
        #expect((30000...30009).contains(port))
        #expect(shell.machine.configuration.ports == PortRange(30000...30009))
    }

    @Test("a reload while a restart backoff runs keeps the tenant's history unless it changed")
    func reloadKeepsBackoff() throws {
        var shell = try runningPair()
        shell.exit(.acme(1), .exited(1))
        shell.reload(shell.machine.configuration)
        #expect(shell.launchedWorkers().isEmpty)
        #expect(shell.pool("acme")?.restarts.consecutiveFailures == 1)
    }
}
