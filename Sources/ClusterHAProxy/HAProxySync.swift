import ClusterControl
import ClusterCore

/// Keeps HAProxy's runtime state in step with clusterd: which worker each tenant backend's slots point at,
/// and in which state. Events in (a snapshot at resync, control events), runtime API commands out; no I/O.
///
/// A ready worker takes the lowest free slot (`addr`, then `ready`); a draining one goes to
/// ``drainingState``; a gone one's slot goes `maint` and is free again. The slots are those of the running
/// configuration's ``HAProxyLayout``: when clusterd's tenants, hosts or `max_workers` no longer fit it, the
/// output says ``Action/configurationStale`` and the shell regenerates the configuration, reloads HAProxy and
/// resynchronizes.
public struct HAProxySync: Sendable {
    /// What the shell does, in order.
    public enum Action: Hashable, Sendable {
        /// Send this command on the stats socket.
        case run(HAProxyCommand)
        /// A ready worker found every slot of its tenant taken; it gets the next one that frees up.
        case noFreeSlot(tenant: String, worker: WorkerID)
        /// The running configuration no longer fits clusterd: regenerate it, reload HAProxy, resynchronize.
        case configurationStale
    }

    /// The worker a slot points at.
    public struct Occupant: Hashable, Sendable {
        public var worker: WorkerID
        public var port: Int
        /// Draining (or stopping): no new requests, in-flight ones finish.
        public var isDraining: Bool
    }

    /// The state a draining worker's slot is set to: `maint`, not `drain`.
    ///
    /// HAProxy 2.6's `drain` "only removes the server from load balancing but still allows it ... to accept
    /// new persistent connections" (management.txt, `set server <backend>/<server> state`): clients with its
    /// sticky cookie would keep coming, where control-protocol.md's `worker-draining` says sticky sessions go
    /// to another worker, and the worker would not reach 0 in flight before `drain_timeout`. `maint` stops all
    /// new traffic to it (a cookie for it is then ignored) and lets the requests in flight finish.
    public static let drainingState = HAProxyServerState.maint

    private struct Backend: Sendable {
        var name: String
        /// Index 0 is slot 1.
        var slots: [Occupant?]
        /// Ready workers that found no free slot, oldest first, with their ports.
        var unplaced: [(worker: WorkerID, port: Int)] = []

        func slot(of worker: WorkerID) -> Int? {
            slots.firstIndex { $0?.worker == worker }.map { $0 + 1 }
        }

        var lowestFreeSlot: Int? { slots.firstIndex { $0 == nil }.map { $0 + 1 } }
    }

    /// Per slot: the last `show stat` counters seen.
    private struct Sample: Sendable {
        var current: Int
        var total: Int
    }

    private var layout: HAProxyLayout?
    /// By tenant name.
    private var backends: [String: Backend] = [:]
    /// By backend name and slot.
    private var samples: [String: [Int: Sample]] = [:]

    /// Nothing known until the first ``resynchronized(_:running:)``; events before it are ignored.
    public init() {}

    // MARK: - Events

    /// After subscribing, after HAProxy reloaded, after reconnecting to either side: rewrites every slot of
    /// `layout` (the running configuration's) from `snapshot`. A worker keeps its slot when it can.
    public mutating func resynchronized(_ snapshot: ClusterSnapshot, running layout: HAProxyLayout) -> [Action] {
        let previous = backends
        self.layout = layout
        backends = [:]
        var actions: [Action] = []
        var stale = (try? HAProxyLayout(snapshot)) != layout
        let tenants = Dictionary(snapshot.tenants.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        for layoutBackend in layout.backends {
            var backend = Backend(
                name: layoutBackend.name,
                slots: Array(repeating: nil, count: max(1, layoutBackend.slots))
            )
            let workers = tenants[layoutBackend.tenant]?.workers ?? []
            let ready = workers.filter { $0.state == .ready }
            let draining = workers.filter { [.draining, .stopping, .killed].contains($0.state) }
            // Keep the slots workers had, then fill: ready workers first, then draining ones.
            for worker in ready + draining {
                if let slot = previous[layoutBackend.tenant]?.slot(of: worker.id), slot <= backend.slots.count,
                    backend.slots[slot - 1] == nil
                {
                    backend.slots[slot - 1] = Occupant(
                        worker: worker.id,
                        port: worker.port,
                        isDraining: worker.state != .ready
                    )
                }
            }
            for worker in ready + draining where backend.slot(of: worker.id) == nil {
                if let slot = backend.lowestFreeSlot {
                    backend.slots[slot - 1] = Occupant(
                        worker: worker.id,
                        port: worker.port,
                        isDraining: worker.state != .ready
                    )
                } else if worker.state == .ready {
                    backend.unplaced.append((worker.id, worker.port))
                    actions.append(.noFreeSlot(tenant: layoutBackend.tenant, worker: worker.id))
                    stale = true
                }
            }
            for (index, occupant) in backend.slots.enumerated() {
                let slot = index + 1
                if let occupant {
                    actions.append(.run(.setAddress(backend: backend.name, slot: slot, port: occupant.port)))
                    let state = occupant.isDraining ? Self.drainingState : .ready
                    actions.append(.run(.setState(backend: backend.name, slot: slot, state)))
                } else {
                    actions.append(.run(.setState(backend: backend.name, slot: slot, .maint)))
                }
            }
            backends[layoutBackend.tenant] = backend
        }
        if stale { actions.append(.configurationStale) }
        return actions
    }

    /// A control event from the subscription. Kinds that do not move a slot give nothing.
    public mutating func apply(_ event: ControlEvent) -> [Action] {
        guard let layout else { return [] }
        switch event.event {
        case .workerReady:
            guard let worker = event.worker, let port = event.port else { return [] }
            return workerReady(worker, port: port)
        case .workerDraining:
            guard let worker = event.worker else { return [] }
            return workerDraining(worker)
        case .workerGone:
            guard let worker = event.worker else { return [] }
            return workerGone(worker)
        case .configurationReloaded:
            guard let snapshot = event.snapshot else { return [] }
            return (try? HAProxyLayout(snapshot)) == layout ? [] : [.configurationStale]
        default:
            return []
        }
    }

    private mutating func workerReady(_ worker: WorkerID, port: Int) -> [Action] {
        guard var backend = backends[worker.tenant] else { return [.configurationStale] }
        defer { backends[worker.tenant] = backend }
        if let slot = backend.slot(of: worker) {
            let occupant = backend.slots[slot - 1]!
            if occupant.port == port && !occupant.isDraining { return [] }
            backend.slots[slot - 1] = Occupant(worker: worker, port: port, isDraining: false)
            return [
                .run(.setAddress(backend: backend.name, slot: slot, port: port)),
                .run(.setState(backend: backend.name, slot: slot, .ready)),
            ]
        }
        if let index = backend.unplaced.firstIndex(where: { $0.worker == worker }) {
            backend.unplaced[index].port = port
            return []
        }
        guard let slot = backend.lowestFreeSlot else {
            backend.unplaced.append((worker, port))
            return [.noFreeSlot(tenant: worker.tenant, worker: worker), .configurationStale]
        }
        backend.slots[slot - 1] = Occupant(worker: worker, port: port, isDraining: false)
        return [
            .run(.setAddress(backend: backend.name, slot: slot, port: port)),
            .run(.setState(backend: backend.name, slot: slot, .ready)),
        ]
    }

    private mutating func workerDraining(_ worker: WorkerID) -> [Action] {
        guard var backend = backends[worker.tenant] else { return [] }
        defer { backends[worker.tenant] = backend }
        backend.unplaced.removeAll { $0.worker == worker }
        guard let slot = backend.slot(of: worker), !backend.slots[slot - 1]!.isDraining else { return [] }
        backend.slots[slot - 1]!.isDraining = true
        return [.run(.setState(backend: backend.name, slot: slot, Self.drainingState))]
    }

    private mutating func workerGone(_ worker: WorkerID) -> [Action] {
        guard var backend = backends[worker.tenant] else { return [] }
        defer { backends[worker.tenant] = backend }
        backend.unplaced.removeAll { $0.worker == worker }
        guard let slot = backend.slot(of: worker) else { return [] }
        backend.slots[slot - 1] = nil
        var actions: [Action] = [.run(.setState(backend: backend.name, slot: slot, .maint))]
        if !backend.unplaced.isEmpty {
            let next = backend.unplaced.removeFirst()
            backend.slots[slot - 1] = Occupant(worker: next.worker, port: next.port, isDraining: false)
            actions += [
                .run(.setAddress(backend: backend.name, slot: slot, port: next.port)),
                .run(.setState(backend: backend.name, slot: slot, .ready)),
            ]
        }
        return actions
    }

    // MARK: - Activity

    /// The `activity` report from a `show stat` answer: each assigned slot's worker whose total sessions
    /// (`stot`) grew or whose current sessions (`scur`) changed since the last answer, with `scur` as its
    /// in-flight count; and every draining worker, so that clusterd sees it reach 0 and stops it at once.
    ///
    /// A slot seen for the first time counts as changed only when `scur` is above 0. Counters that went down
    /// mean HAProxy restarted them (a reload): the new `stot`, if above 0, is growth.
    public mutating func activity(fromStatistics csv: String) throws(HAProxyError) -> [WorkerActivity] {
        activity(from: try HAProxyStatistics.parse(csv))
    }

    /// ``activity(fromStatistics:)`` for rows already parsed.
    public mutating func activity(from rows: [HAProxyStatistics.Row]) -> [WorkerActivity] {
        var occupants: [String: [Occupant?]] = [:]
        for backend in backends.values { occupants[backend.name] = backend.slots }
        var report: [WorkerActivity] = []
        for row in rows {
            guard let slots = occupants[row.proxy], let slot = HAProxyNames.slot(ofServer: row.server),
                slot <= slots.count
            else { continue }
            let previous = samples[row.proxy]?[slot]
            samples[row.proxy, default: [:]][slot] = Sample(current: row.currentSessions, total: row.totalSessions)
            guard let occupant = slots[slot - 1] else { continue }
            let grew: Bool =
                switch previous {
                case nil: false
                case let previous? where row.totalSessions < previous.total: row.totalSessions > 0
                case let previous?: row.totalSessions > previous.total
                }
            let changed = row.currentSessions != (previous?.current ?? 0)
            if grew || changed || occupant.isDraining {
                report.append(WorkerActivity(worker: occupant.worker, inFlight: max(0, row.currentSessions)))
            }
        }
        return report
    }

    // MARK: - Reading the state

    /// The slots of `tenant`'s backend that point at a worker, by slot number.
    public func occupants(ofTenant tenant: String) -> [Int: Occupant] {
        var result: [Int: Occupant] = [:]
        for (index, occupant) in (backends[tenant]?.slots ?? []).enumerated() {
            if let occupant { result[index + 1] = occupant }
        }
        return result
    }

    /// Ready workers of `tenant` waiting for a free slot, oldest first.
    public func unplacedWorkers(ofTenant tenant: String) -> [WorkerID] {
        backends[tenant]?.unplaced.map(\.worker) ?? []
    }

    /// The slot `worker` holds, if any.
    public func slot(of worker: WorkerID) -> Int? { backends[worker.tenant]?.slot(of: worker) }
}
