import Testing

@testable import ClusterCore

@Suite("Status")
struct StatusTests {
    @Test("a tenant's state follows its workers and mode")
    func tenantStates() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify), .fixture("beta")))
        func state(_ tenant: String) -> TenantStatus.State? {
            shell.machine.status(ofTenant: tenant, now: shell.now)?.state
        }

        #expect(state("acme") == .idle)
        shell.activate("acme")
        #expect(state("acme") == .starting)
        shell.notify(.acme(1), "READY=1")
        #expect(state("acme") == .running)
        _ = try shell.stop("acme").get()
        #expect(state("acme") == .stopped)
        _ = try shell.start("acme").get()
        #expect(state("acme") == .starting)
        shell.reload(.fixture(.fixture("beta")))
        #expect(state("acme") == .removed)
        #expect(state("ghost") == nil)
    }

    @Test("status shows the workers: pid, port, state, stop reason, in flight, uptime, idle countdown")
    func workerDetails() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", idleTimeout: .seconds(300), maxWorkers: 2)))
        shell.activate("acme")
        shell.moveClock(by: .seconds(10))
        shell.activate("acme", additional: true)
        shell.activity(.acme(2), inFlight: 4)
        _ = try shell.drain("acme").get()
        shell.moveClock(by: .seconds(5))

        let status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.workers.map(\.id) == [.acme(1), .acme(2)])
        let first = status.workers[0]
        #expect(first.pid == shell.pids[.acme(1)])
        #expect(first.port == shell.launches[.acme(1)]?.port)
        #expect(first.state == .stopping)
        #expect(first.stopReason == .drained)
        #expect(first.uptime == .seconds(15))
        let second = status.workers[1]
        #expect(second.state == .draining)
        #expect(second.inFlight == 4)
        #expect(second.uptime == .seconds(5))
        #expect(second.idleIn == nil)
    }

    @Test("the host view: every tenant sorted, the worker count, the cap, shutdown")
    func hostView() throws {
        var shell = SimulatedShell(.fixture(.fixture("beta"), .fixture("acme"), maxWorkers: 7))
        shell.activate("beta")
        let status = shell.machine.status(now: shell.now)
        #expect(status.tenants.map(\.name) == ["acme", "beta"])
        #expect(status.workerCount == 1)
        #expect(status.maxWorkers == 7)
        #expect(!status.shuttingDown)
    }

    @Test("a failed tenant shows why and when it retries; waiting activations are counted")
    func failedAndWaiting() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify)))
        shell.activate("acme")
        shell.activate("acme")
        var status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.waiting == 2)
        #expect(status.target == 1)
        #expect(status.floor == 0)

        for _ in 1...5 {
            let worker = try #require(shell.workers(of: "acme").first { $0.isStarting }?.id)
            shell.exit(worker, .exited(3))
            if shell.pool("acme")?.mode == .onDemand {
                shell.activate("acme")
                shell.advanceToNextDeadline()
            }
        }
        status = try #require(shell.machine.status(ofTenant: "acme", now: shell.now))
        #expect(status.state == .failed)
        #expect(status.lastError == "exited with status 3 before becoming ready")
        #expect(status.retryIn == .milliseconds(1600))
        #expect(status.waiting == 0)
    }

    @Test("the summary line counts tenants, ready workers and failed tenants")
    func summary() {
        func worker(_ serial: Int, _ state: WorkerStatus.State) -> WorkerStatus {
            WorkerStatus(id: .acme(serial), port: 7000 + serial, state: state, inFlight: 0)
        }
        func tenant(_ name: String, _ state: TenantStatus.State, _ workers: [WorkerStatus] = []) -> TenantStatus {
            TenantStatus(name: name, state: state, floor: 0, target: 0, maxWorkers: 1, workers: workers, waiting: 0)
        }
        func status(_ tenants: [TenantStatus]) -> ClusterStatus {
            ClusterStatus(tenants: tenants, workerCount: 0, maxWorkers: 10, shuttingDown: false)
        }

        #expect(status([]).summary == "0 tenants, 0 workers ready, 0 failed")
        let mixed = status([
            tenant("acme", .running, [worker(1, .ready), worker(2, .starting), worker(3, .ready)]),
            tenant("beta", .failed),
            tenant("gamma", .running, [worker(4, .draining), worker(5, .ready)]),
            tenant("delta", .failed, [worker(6, .stopping)]),
            tenant("epsilon", .idle),
        ])
        #expect(mixed.summary == "5 tenants, 3 workers ready, 2 failed")
    }

    @Test("the summary of a running machine")
    func summaryOfMachine() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .notify), .fixture("beta")))
        #expect(shell.machine.status(now: shell.now).summary == "2 tenants, 0 workers ready, 0 failed")
        shell.activate("acme")
        #expect(shell.machine.status(now: shell.now).summary == "2 tenants, 0 workers ready, 0 failed")
        shell.notify(.acme(1), "READY=1")
        #expect(shell.machine.status(now: shell.now).summary == "2 tenants, 1 workers ready, 0 failed")
    }
}
