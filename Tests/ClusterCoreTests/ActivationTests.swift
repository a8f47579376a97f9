import Testing

@testable import ClusterCore

@Suite("Activation")
struct ActivationTests {
    @Test("a cold tenant's activation launches exactly one worker, with the worker contract filled in")
    func coldActivationLaunchesOneWorker() throws {
        let acme = TenantConfiguration.fixture(
            "acme",
            command: ["/srv/app", "--port={port}", "--name", "{tenant}-{port}"],
            environment: ["DATABASE_URL": "postgres://db/acme"],
            workingDirectory: "/srv/acme"
        )
        var shell = SimulatedShell(.fixture(acme, ports: 20000...20009), reportsLaunches: false)

        let activation = shell.activate("acme")

        let launches = shell.lastActions.launches
        try #require(launches.count == 1)
        let launch = launches[0]
        #expect(launch.worker == .acme(1))
        #expect((20000...20009).contains(launch.port))
        #expect(launch.arguments == ["/srv/app", "--port=\(launch.port)", "--name", "acme-\(launch.port)"])
        #expect(
            launch.environment == [
                "DATABASE_URL": "postgres://db/acme",
                "PORT": "\(launch.port)",
                "CLUSTERD_TENANT": "acme",
                "CLUSTERD_WORKER": "acme#1",
            ]
        )
        #expect(launch.workingDirectory == "/srv/acme")
        #expect(launch.readiness == .listenFDs)
        #expect(shell.answers(for: activation).isEmpty)
        #expect(shell.state(of: .acme(1))?.name == .starting)

        shell.reportLaunched(.acme(1), pid: 4242)
        #expect(
            shell.lastActions == [
                .publish(.workerStarting(.acme(1), port: launch.port, pid: 4242)),
                .publish(.workerReady(.acme(1), port: launch.port)),
                .answerActivation(activation, .ready([ReadyWorker(id: .acme(1), port: launch.port)])),
            ]
        )
        #expect(shell.machine.worker(.acme(1))?.pid == 4242)
    }

    @Test("the tenant's env cannot override PORT, CLUSTERD_TENANT or CLUSTERD_WORKER")
    func contractVariablesWin() throws {
        let acme = TenantConfiguration.fixture(
            "acme",
            environment: ["PORT": "1", "CLUSTERD_TENANT": "evil", "CLUSTERD_WORKER": "x#1"]
        )
        var shell = SimulatedShell(.fixture(acme))
        shell.activate("acme")
        let launch = try #require(shell.log.launches.first)
        #expect(launch.environment["PORT"] == "\(launch.port)")
        #expect(launch.environment["CLUSTERD_TENANT"] == "acme")
        #expect(launch.environment["CLUSTERD_WORKER"] == "acme#1")
    }

    @Test("200 concurrent activations of a cold tenant start one worker and all get it once it is ready")
    func concurrentActivationsShareOneStart() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, maxWorkers: 1)))

        let activations = (0..<200).map { _ in shell.activate("acme") }

        #expect(shell.launchedWorkers(in: shell.log) == [.acme(1)])
        #expect(activations.allSatisfy { shell.answers(for: $0).isEmpty })
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.waiting == 200)

        shell.notify(.acme(1), "READY=1")

        let port = try #require(shell.launches[.acme(1)]?.port)
        let expected = ActivationAnswer.ready([ReadyWorker(id: .acme(1), port: port)])
        for activation in activations {
            #expect(shell.answers(for: activation) == [expected])
        }
        #expect(shell.lastActions.answers.count == 200)
        #expect(shell.launchedWorkers(in: shell.log) == [.acme(1)])
        #expect(shell.machine.status(ofTenant: "acme", now: shell.now)?.waiting == 0)
    }

    @Test("an activation with a ready worker is answered at once, launching nothing")
    func readyWorkerAnswersAtOnce() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        let worker = try shell.readyWorker(of: "acme")
        let port = try #require(shell.launches[worker]?.port)

        let activation = shell.activate("acme")

        #expect(shell.lastActions == [.answerActivation(activation, .ready([ReadyWorker(id: worker, port: port)]))])
    }

    @Test("additional activations grow the tenant up to max_workers and no further")
    func additionalGrowsUpToMaxWorkers() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3)))
        #expect(try shell.readyWorker(of: "acme") == .acme(1))

        let second = shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers() == [.acme(2)])
        // Answered at once with the workers that are ready now; the new one comes on top.
        #expect(shell.lastActions.answers(for: second).first?.readyWorkers == [.acme(1)])

        shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers() == [.acme(3)])

        shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers().isEmpty)
        #expect(shell.workers(of: "acme").map(\.id) == [.acme(1), .acme(2), .acme(3)])

        // A plain activation never adds a worker.
        shell.activate("acme")
        #expect(shell.launchedWorkers().isEmpty)
    }

    @Test("additional while no worker is ready yet waits for the one starting")
    func additionalWhileStartingWaits() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, maxWorkers: 3)))
        shell.activate("acme")
        let second = shell.activate("acme", additional: true)
        #expect(shell.launchedWorkers(in: shell.log) == [.acme(1)])
        #expect(shell.answers(for: second).isEmpty)
    }

    @Test("an unknown tenant is answered at once")
    func unknownTenant() {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        let activation = shell.activate("nope")
        #expect(shell.lastActions == [.answerActivation(activation, .failed(.unknownTenant("nope")))])
    }

    @Test("an activation still waiting at start_timeout fails with startTimedOut")
    func waitingBeyondStartTimeout() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, startTimeout: .seconds(30))))
        let activation = shell.activate("acme")
        #expect(shell.machine.nextDeadline() == t0 + .seconds(30))

        shell.advance(to: t0 + .seconds(30) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)

        shell.advance(to: t0 + .seconds(30))
        #expect(shell.lastActions.killed == [.acme(1)])
        #expect(shell.answers(for: activation) == [.failed(.startTimedOut(.seconds(30)))])
    }

    @Test("a later activation joining a start that times out is answered with the start's failure")
    func lateJoinerAnsweredWithTheStart() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify, startTimeout: .seconds(30))))
        let first = shell.activate("acme")
        shell.moveClock(by: .seconds(20))
        let second = shell.activate("acme")

        shell.advance(to: t0 + .seconds(30))
        #expect(shell.answers(for: first) == [.failed(.startTimedOut(.seconds(30)))])
        #expect(shell.answers(for: second) == [.failed(.startTimedOut(.seconds(30)))])
    }

    @Test("a cancelled activation is never answered; the worker it caused still starts")
    func cancelledActivation() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        let cancelled = shell.activate("acme")
        shell.cancel(cancelled, tenant: "acme")
        let kept = shell.activate("acme")

        shell.notify(.acme(1), "READY=1")
        #expect(shell.answers(for: cancelled).isEmpty)
        #expect(shell.answers(for: kept).first?.readyWorkers == [.acme(1)])
        #expect(shell.state(of: .acme(1)) == .ready)
    }

    @Test("activations beyond the pending limit are refused")
    func pendingLimit() {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        for _ in 0..<ClusterStateMachine.pendingActivationLimit { shell.activate("acme") }
        let refused = shell.activate("acme")
        #expect(
            shell.answers(for: refused) == [.failed(.tooManyWaiting(ClusterStateMachine.pendingActivationLimit))]
        )
    }

    @Test("tenants start independently")
    func tenantsAreIndependent() {
        var shell = SimulatedShell(.fixture(.fixture("acme"), .fixture("beta")))
        shell.activate("acme")
        shell.activate("beta")
        #expect(shell.launchedWorkers(in: shell.log) == [.acme(1), .beta(1)])
        #expect(shell.launches[.acme(1)]?.port != shell.launches[.beta(1)]?.port)
        #expect(shell.launches[.beta(1)]?.environment["CLUSTERD_TENANT"] == "beta")
    }

    @Test("an activation refreshes the ready workers' last activity")
    func activationCountsAsActivity() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme")))
        let worker = try shell.readyWorker(of: "acme")
        shell.moveClock(by: .seconds(42))
        shell.activate("acme")
        #expect(shell.machine.worker(worker)?.lastActivity == t0 + .seconds(42))
    }
}
