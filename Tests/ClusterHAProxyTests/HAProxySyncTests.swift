import ClusterControl
import ClusterCore
import Testing

@testable import ClusterHAProxy

/// acme: max_workers 1 → slots w1, w2; beta: max_workers 2 → w1…w4.
private let snapshot = ClusterSnapshot.fixture([
    .fixture("acme", hosts: ["acme.test"], maxWorkers: 1), .fixture("beta", maxWorkers: 2),
])
private let layout = try! HAProxyLayout(snapshot)

private func ready(_ id: WorkerID, _ port: Int) -> ControlEvent {
    var event = ControlEvent(event: .workerReady, tenant: id.tenant, worker: id)
    event.port = port
    return event
}

private func draining(_ id: WorkerID) -> ControlEvent {
    ControlEvent(event: .workerDraining, tenant: id.tenant, worker: id)
}
private func gone(_ id: WorkerID) -> ControlEvent { ControlEvent(event: .workerGone, tenant: id.tenant, worker: id) }

private func lines(_ actions: [HAProxySync.Action]) -> [String] {
    actions.map { action in
        switch action {
        case .run(let command): command.line
        case .noFreeSlot(let tenant, let worker): "no free slot: \(tenant) \(worker)"
        case .configurationStale: "configuration stale"
        }
    }
}

private func synchronized() -> HAProxySync {
    var sync = HAProxySync()
    _ = sync.resynchronized(snapshot, running: layout)
    return sync
}

@Suite("HAProxy sync")
struct HAProxySyncTests {
    @Test("commands render as HAProxy 2.6's runtime API wants them")
    func commandLines() {
        #expect(
            HAProxyCommand.setAddress(backend: "t_acme", slot: 1, port: 20001).line
                == "set server t_acme/w1 addr 127.0.0.1 port 20001"
        )
        #expect(HAProxyCommand.setState(backend: "t_acme", slot: 1, .ready).line == "set server t_acme/w1 state ready")
        #expect(HAProxyCommand.setState(backend: "t_b", slot: 12, .drain).line == "set server t_b/w12 state drain")
        #expect(HAProxyCommand.setState(backend: "t_b", slot: 2, .maint).line == "set server t_b/w2 state maint")
    }

    @Test("resync of an empty cluster puts every slot in maintenance")
    func resyncEmpty() {
        var sync = HAProxySync()
        #expect(
            lines(sync.resynchronized(snapshot, running: layout)) == [
                "set server t_acme/w1 state maint", "set server t_acme/w2 state maint",
                "set server t_beta/w1 state maint", "set server t_beta/w2 state maint",
                "set server t_beta/w3 state maint", "set server t_beta/w4 state maint",
            ]
        )
    }

    @Test("resync: ready → addr + ready, draining or stopping → addr + maint, starting → nothing, free → maint")
    func resyncWorkers() {
        let busy = ClusterSnapshot.fixture([
            .fixture(
                "acme",
                hosts: ["acme.test"],
                maxWorkers: 1,
                workers: [.fixture("acme#1", port: 20001, state: .draining), .fixture("acme#2", port: 20002)]
            ),
            .fixture(
                "beta",
                maxWorkers: 2,
                workers: [
                    .fixture("beta#1", port: 20011, state: .starting),
                    .fixture("beta#2", port: 20012, state: .stopping),
                    .fixture("beta#3", port: 20013),
                ]
            ),
        ])
        var sync = HAProxySync()
        #expect(
            lines(sync.resynchronized(busy, running: layout)) == [
                "set server t_acme/w1 addr 127.0.0.1 port 20002", "set server t_acme/w1 state ready",
                "set server t_acme/w2 addr 127.0.0.1 port 20001", "set server t_acme/w2 state maint",
                "set server t_beta/w1 addr 127.0.0.1 port 20013", "set server t_beta/w1 state ready",
                "set server t_beta/w2 addr 127.0.0.1 port 20012", "set server t_beta/w2 state maint",
                "set server t_beta/w3 state maint", "set server t_beta/w4 state maint",
            ]
        )
        #expect(sync.occupants(ofTenant: "acme")[2]?.isDraining == true)
    }

    @Test("a second resync keeps each worker in its slot")
    func resyncKeepsSlots() {
        var sync = synchronized()
        _ = sync.apply(ready("beta#1", 20001))
        _ = sync.apply(ready("beta#2", 20002))
        _ = sync.apply(gone("beta#1"))
        #expect(sync.slot(of: "beta#2") == 2)
        let later = ClusterSnapshot.fixture([
            .fixture("acme", hosts: ["acme.test"], maxWorkers: 1),
            .fixture(
                "beta",
                maxWorkers: 2,
                workers: [.fixture("beta#2", port: 20002), .fixture("beta#3", port: 20003)]
            ),
        ])
        let actions = lines(sync.resynchronized(later, running: layout))
        #expect(sync.slot(of: "beta#2") == 2)
        #expect(sync.slot(of: "beta#3") == 1)
        #expect(actions.contains("set server t_beta/w2 addr 127.0.0.1 port 20002"))
        #expect(!actions.contains("configuration stale"))
    }

    @Test("ready takes the lowest free slot; draining → maint; gone → maint and free again")
    func lifecycle() {
        var sync = synchronized()
        #expect(
            lines(sync.apply(ready("beta#1", 20001)))
                == ["set server t_beta/w1 addr 127.0.0.1 port 20001", "set server t_beta/w1 state ready"]
        )
        #expect(
            lines(sync.apply(ready("beta#2", 20002)))
                == ["set server t_beta/w2 addr 127.0.0.1 port 20002", "set server t_beta/w2 state ready"]
        )
        #expect(lines(sync.apply(draining("beta#1"))) == ["set server t_beta/w1 state maint"])
        #expect(sync.apply(draining("beta#1")).isEmpty)
        #expect(lines(sync.apply(gone("beta#1"))) == ["set server t_beta/w1 state maint"])
        #expect(
            lines(sync.apply(ready("beta#3", 20003)))
                == ["set server t_beta/w1 addr 127.0.0.1 port 20003", "set server t_beta/w1 state ready"]
        )
        #expect(sync.apply(gone("beta#1")).isEmpty)
    }

    @Test("a worker that goes without draining frees its slot at once")
    func goneWithoutDraining() {
        var sync = synchronized()
        _ = sync.apply(ready("acme#1", 20001))
        #expect(lines(sync.apply(gone("acme#1"))) == ["set server t_acme/w1 state maint"])
        #expect(sync.occupants(ofTenant: "acme").isEmpty)
    }

    @Test("a repeated worker-ready is nothing; one with a new port moves the slot's address")
    func repeatedReady() {
        var sync = synchronized()
        _ = sync.apply(ready("acme#1", 20001))
        #expect(sync.apply(ready("acme#1", 20001)).isEmpty)
        #expect(
            lines(sync.apply(ready("acme#1", 20009)))
                == ["set server t_acme/w1 addr 127.0.0.1 port 20009", "set server t_acme/w1 state ready"]
        )
    }

    @Test("no free slot: reported with the configuration stale, and placed when a slot frees up")
    func noFreeSlot() {
        var sync = synchronized()
        _ = sync.apply(ready("acme#1", 20001))
        _ = sync.apply(ready("acme#2", 20002))
        #expect(lines(sync.apply(ready("acme#3", 20003))) == ["no free slot: acme acme#3", "configuration stale"])
        #expect(sync.unplacedWorkers(ofTenant: "acme") == ["acme#3"])
        #expect(sync.apply(ready("acme#3", 20004)).isEmpty)
        #expect(
            lines(sync.apply(gone("acme#1"))) == [
                "set server t_acme/w1 state maint", "set server t_acme/w1 addr 127.0.0.1 port 20004",
                "set server t_acme/w1 state ready",
            ]
        )
        #expect(sync.unplacedWorkers(ofTenant: "acme").isEmpty)
    }

    @Test("an unplaced worker that drains or goes is forgotten")
    func unplacedLeaves() {
        var sync = synchronized()
        _ = sync.apply(ready("acme#1", 20001))
        _ = sync.apply(ready("acme#2", 20002))
        _ = sync.apply(ready("acme#3", 20003))
        _ = sync.apply(ready("acme#4", 20004))
        #expect(sync.apply(draining("acme#3")).isEmpty)
        #expect(sync.apply(gone("acme#4")).isEmpty)
        #expect(lines(sync.apply(gone("acme#1"))) == ["set server t_acme/w1 state maint"])
    }

    @Test("resync with more ready workers than slots reports each one and the configuration stale")
    func resyncOverflow() {
        let crowded = ClusterSnapshot.fixture([
            .fixture(
                "acme",
                hosts: ["acme.test"],
                maxWorkers: 1,
                workers: [
                    .fixture("acme#1", port: 1), .fixture("acme#2", port: 2), .fixture("acme#3", port: 3),
                    .fixture("acme#4", port: 4, state: .draining),
                ]
            ),
            .fixture("beta", maxWorkers: 2),
        ])
        var sync = HAProxySync()
        let actions = lines(sync.resynchronized(crowded, running: layout))
        #expect(actions.contains("no free slot: acme acme#3"))
        #expect(actions.last == "configuration stale")
        #expect(sync.slot(of: "acme#4") == nil)
    }

    @Test(
        "config-reloaded is stale when tenants, hosts, domain or max_workers changed",
        arguments: [
            (snapshot, false),
            (
                ClusterSnapshot.fixture([
                    .fixture("acme", hosts: ["acme.test"], maxWorkers: 1, workers: [.fixture("acme#9", port: 9)]),
                    .fixture("beta", maxWorkers: 2, state: .failed),
                ]), false
            ),
            (ClusterSnapshot.fixture([.fixture("acme", hosts: ["acme.test"], maxWorkers: 1)]), true),
            (
                ClusterSnapshot.fixture([
                    .fixture("acme", hosts: ["acme.test", "new.test"], maxWorkers: 1), .fixture("beta", maxWorkers: 2),
                ]), true
            ),
            (
                ClusterSnapshot.fixture([
                    .fixture("acme", hosts: ["acme.test"], maxWorkers: 2), .fixture("beta", maxWorkers: 2),
                ]), true
            ),
            (
                ClusterSnapshot.fixture(
                    domain: "other.test",
                    [.fixture("acme", hosts: ["acme.test"], maxWorkers: 1), .fixture("beta", maxWorkers: 2)]
                ), true
            ),
            (
                ClusterSnapshot.fixture([
                    .fixture("acme", hosts: ["acme.test"], maxWorkers: 1), .fixture("beta", maxWorkers: 2),
                    .fixture("gamma"),
                ]), true
            ),
        ]
    )
    func configurationReloaded(reloaded: ClusterSnapshot, stale: Bool) {
        var sync = synchronized()
        var event = ControlEvent(event: .configurationReloaded)
        event.snapshot = reloaded
        #expect(sync.apply(event) == (stale ? [.configurationStale] : []))
    }

    @Test("resync against a stale running layout says so after rewriting the slots it has")
    func resyncStale() {
        let grown = ClusterSnapshot.fixture([
            .fixture("acme", hosts: ["acme.test"], maxWorkers: 1), .fixture("beta", maxWorkers: 2), .fixture("gamma"),
        ])
        var sync = HAProxySync()
        let actions = sync.resynchronized(grown, running: layout)
        #expect(actions.last == .configurationStale)
        #expect(actions.count == 7)
    }

    @Test("a worker-ready for a tenant the running configuration lacks is stale")
    func unknownTenant() {
        var sync = synchronized()
        #expect(sync.apply(ready("gamma#1", 1)) == [.configurationStale])
        #expect(sync.apply(draining("gamma#1")).isEmpty)
        #expect(sync.apply(gone("gamma#1")).isEmpty)
    }

    @Test("events before the first resync, other kinds and events without their fields do nothing")
    func ignored() {
        var fresh = HAProxySync()
        #expect(fresh.apply(ready("acme#1", 1)).isEmpty)
        var sync = synchronized()
        var starting = ControlEvent(event: .workerStarting, tenant: "acme", worker: "acme#1")
        starting.port = 20001
        for event in [
            starting, ControlEvent(event: .tenantFailed, tenant: "acme"), ControlEvent(event: .overflow),
            ControlEvent(event: .init(rawValue: "from-the-future"), tenant: "acme", worker: "acme#1"),
            ControlEvent(event: .workerReady, tenant: "acme", worker: "acme#1"),
            ControlEvent(event: .workerGone, tenant: "acme"), ControlEvent(event: .configurationReloaded),
        ] {
            #expect(sync.apply(event).isEmpty, "\(event.event)")
        }
    }
}
