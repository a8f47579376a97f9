import ClusterControl
import ClusterCore
import Testing

@testable import ClusterHAProxy

/// Random (seeded) event sequences against a model of clusterd's workers and of HAProxy's servers: after each
/// step the sync's slots, its commands and the simulated HAProxy agree, and the invariants hold.
@Suite("HAProxy sync, randomized")
struct HAProxySyncRandomizedTests {
    @Test("invariants hold after every random event", arguments: Array(UInt64(1)...16))
    func invariants(seed: UInt64) throws {
        var run = SyncRun(seed: seed)
        for _ in 0..<2000 { try run.step() }
        #expect(run.resyncs > 0 && run.stale > 0 && run.overflows > 0, "the run should reach every case")
    }
}

private struct Broken: Error, CustomStringConvertible {
    var description: String
}

/// One slot as the simulated HAProxy has it.
private struct SimulatedServer: Equatable {
    var port = 1
    var state = HAProxyServerState.maint
}

private struct SyncRun {
    /// acme: max_workers 1 (2 slots), beta: 2 (4 slots).
    static let snapshot = ClusterSnapshot.fixture([.fixture("acme", maxWorkers: 1), .fixture("beta", maxWorkers: 2)])
    static let grown = ClusterSnapshot.fixture([.fixture("acme", maxWorkers: 1), .fixture("beta", maxWorkers: 3)])
    let layout = try! HAProxyLayout(snapshot)

    var random: SplitMix64
    var sync = HAProxySync()
    /// What clusterd has: live workers, ready or draining, in start order.
    var workers: [WorkerID: (port: Int, ready: Bool)] = [:]
    var order: [WorkerID] = []
    var serials: [String: Int] = [:]
    /// HAProxy's servers by backend and slot.
    var haproxy: [String: [SimulatedServer]] = [:]
    var resyncs = 0
    var stale = 0
    var overflows = 0

    init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        reloadHAProxy()
        let actions = sync.resynchronized(workerSnapshot(), running: layout)
        try! check(actions, afterResync: true)
    }

    mutating func reloadHAProxy() {
        for backend in layout.backends {
            haproxy[backend.name] = Array(repeating: SimulatedServer(), count: backend.slots)
        }
    }

    func workerSnapshot(base: ClusterSnapshot = snapshot) -> ClusterSnapshot {
        var snapshot = base
        for index in snapshot.tenants.indices {
            let tenant = snapshot.tenants[index].name
            snapshot.tenants[index].workers = order.filter { $0.tenant == tenant }.map { id in
                .fixture(id, port: workers[id]!.port, state: workers[id]!.ready ? .ready : .draining)
            }
        }
        return snapshot
    }

    mutating func step() throws {
        let tenant = Bool.random(using: &random) ? "acme" : "beta"
        let live = order.filter { $0.tenant == tenant }
        var event: ControlEvent?
        var resync = false
        switch Int.random(in: 0..<100, using: &random) {
        case 0..<35 where live.count < 7:
            serials[tenant, default: 0] += 1
            let id = WorkerID(tenant: tenant, serial: serials[tenant]!)
            let port = 20000 + Int.random(in: 0..<1000, using: &random)
            workers[id] = (port, true)
            order.append(id)
            event = ControlEvent(event: .workerReady, tenant: tenant, worker: id)
            event?.port = port
        case 35..<40 where !live.isEmpty:
            let id = live.randomElement(using: &random)!
            guard workers[id]!.ready else { return }
            event = ControlEvent(event: .workerReady, tenant: tenant, worker: id)
            event?.port = workers[id]!.port
        case 40..<62 where !live.isEmpty:
            let id = live.randomElement(using: &random)!
            workers[id]!.ready = false
            event = ControlEvent(event: .workerDraining, tenant: tenant, worker: id)
        case 62..<90 where !live.isEmpty:
            let id = live.randomElement(using: &random)!
            workers[id] = nil
            order.removeAll { $0 == id }
            event = ControlEvent(event: .workerGone, tenant: tenant, worker: id)
        case 90..<93:
            event = ControlEvent(event: .workerGone, tenant: tenant, worker: WorkerID(tenant: tenant, serial: 999))
        case 93..<96:
            event = ControlEvent(event: .configurationReloaded)
            event?.snapshot = Bool.random(using: &random) ? workerSnapshot() : workerSnapshot(base: Self.grown)
        default:
            resync = true
            if Bool.random(using: &random) { reloadHAProxy() }
        }
        let actions: [HAProxySync.Action]
        if resync {
            resyncs += 1
            actions = sync.resynchronized(workerSnapshot(), running: layout)
        } else if let event {
            actions = sync.apply(event)
            if event.event == .configurationReloaded {
                let expectStale = event.snapshot!.tenants.map(\.maxWorkers) != [1, 2]
                guard actions == (expectStale ? [.configurationStale] : []) else {
                    throw Broken(description: "config-reloaded gave \(actions)")
                }
            }
        } else {
            return
        }
        try check(actions, afterResync: resync)
    }

    mutating func check(_ actions: [HAProxySync.Action], afterResync: Bool) throws {
        var stateSet: [String: [Int: Int]] = [:]
        for action in actions {
            switch action {
            case .configurationStale:
                stale += 1
            case .noFreeSlot:
                overflows += 1
            case .run(let command):
                guard var servers = haproxy[command.backend], (1...servers.count).contains(command.slot) else {
                    throw Broken(description: "\(command.line) names no slot of the layout")
                }
                switch command {
                case .setAddress(_, let slot, let port): servers[slot - 1].port = port
                case .setState(_, let slot, let state):
                    servers[slot - 1].state = state
                    stateSet[command.backend, default: [:]][slot, default: 0] += 1
                }
                haproxy[command.backend] = servers
            }
        }
        if actions.contains(where: { if case .noFreeSlot = $0 { true } else { false } }) {
            guard actions.last == .configurationStale else { throw Broken(description: "noFreeSlot without stale") }
        }
        for backend in layout.backends {
            let occupants = sync.occupants(ofTenant: backend.tenant)
            if afterResync {
                for slot in 1...backend.slots where stateSet[backend.name]?[slot] != 1 {
                    throw Broken(
                        description: "resync set \(backend.name)/w\(slot) \(stateSet[backend.name]?[slot] ?? 0) times"
                    )
                }
            }
            // A slot holds at most one worker, a worker at most one slot, every slot within 1…N.
            let held = occupants.values.map(\.worker)
            guard Set(held).count == held.count, occupants.keys.allSatisfy({ (1...backend.slots).contains($0) }) else {
                throw Broken(description: "slots of \(backend.tenant): \(occupants)")
            }
            // HAProxy, as the commands left it, is what the sync believes.
            for slot in 1...backend.slots {
                let server = haproxy[backend.name]![slot - 1]
                if let occupant = occupants[slot] {
                    let state = occupant.isDraining ? HAProxySync.drainingState : .ready
                    guard server == SimulatedServer(port: occupant.port, state: state) else {
                        throw Broken(description: "\(backend.name)/w\(slot) is \(server), the sync has \(occupant)")
                    }
                    // Only live workers hold slots, in the state clusterd has them.
                    guard let worker = workers[occupant.worker], worker.port == occupant.port,
                        worker.ready == !occupant.isDraining
                    else { throw Broken(description: "\(occupant) is not what clusterd has") }
                } else if server.state != .maint {
                    throw Broken(description: "free slot \(backend.name)/w\(slot) is \(server.state)")
                }
            }
            // A ready worker has a slot unless none is free; then it waits, in start order.
            let ready = order.filter { $0.tenant == backend.tenant && workers[$0]!.ready }
            let unplaced = sync.unplacedWorkers(ofTenant: backend.tenant)
            for id in ready where sync.slot(of: id) == nil {
                guard unplaced.contains(id), occupants.count == backend.slots else {
                    throw Broken(description: "ready \(id) has no slot while one is free")
                }
            }
            guard unplaced.allSatisfy({ ready.contains($0) }) else {
                throw Broken(description: "unplaced \(unplaced) are not all ready")
            }
        }
    }
}
