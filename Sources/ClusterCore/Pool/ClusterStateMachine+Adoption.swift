/// A worker process clusterd takes over rather than starts: after an in-place upgrade (same clusterd
/// process, new binary), or, later, after a restart that found its workers still running.
public struct AdoptedWorker: Sendable, Equatable, Codable {
    public var id: WorkerID
    public var port: Int
    public var pid: Int32
    /// What it was doing: starting, ready, or leaving (draining, stopping, killed).
    public var state: WorkerStatus.State
    /// When it became ready (CLOCK_MONOTONIC, which an exec keeps), if it did.
    public var readyAt: Instant?
    public var statusText: String?

    public init(id: WorkerID, port: Int, pid: Int32, state: WorkerStatus.State, readyAt: Instant?, statusText: String?)
    {
        self.id = id
        self.port = port
        self.pid = pid
        self.state = state
        self.readyAt = readyAt
        self.statusText = statusText
    }

    // The id as {"tenant": …, "serial": …}: the form runtime.json and the upgrade hand-over have always had, so
    // that a clusterd reads what an older one left.
    enum CodingKeys: String, CodingKey {
        case id, port, pid, state, readyAt, statusText
    }

    private enum IDKeys: String, CodingKey {
        case tenant, serial
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let id = try container.nestedContainer(keyedBy: IDKeys.self, forKey: .id)
        self.init(
            id: WorkerID(
                tenant: try id.decode(String.self, forKey: .tenant),
                serial: try id.decode(Int.self, forKey: .serial)
            ),
            port: try container.decode(Int.self, forKey: .port),
            pid: try container.decode(Int32.self, forKey: .pid),
            state: try container.decode(WorkerStatus.State.self, forKey: .state),
            readyAt: try container.decodeIfPresent(Instant.self, forKey: .readyAt),
            statusText: try container.decodeIfPresent(String.self, forKey: .statusText)
        )
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        var id = container.nestedContainer(keyedBy: IDKeys.self, forKey: .id)
        try id.encode(self.id.tenant, forKey: .tenant)
        try id.encode(self.id.serial, forKey: .serial)
        try container.encode(port, forKey: .port)
        try container.encode(pid, forKey: .pid)
        try container.encode(state, forKey: .state)
        try container.encodeIfPresent(readyAt, forKey: .readyAt)
        try container.encodeIfPresent(statusText, forKey: .statusText)
    }
}

extension ClusterStateMachine {
    /// The workers of the machine as processes to hand over (every worker with a pid).
    public var workersToHandOver: [AdoptedWorker] {
        pools.values.flatMap(\.workers).compactMap { worker in
            worker.pid.map {
                AdoptedWorker(
                    id: worker.id,
                    port: worker.port,
                    pid: $0,
                    state: worker.state.name,
                    readyAt: worker.readyAt,
                    statusText: worker.statusText
                )
            }
        }
        .sorted { $0.id < $1.id }
    }

    /// The next serial number of every tenant, so that ids are never reused across a hand-over.
    public var nextSerials: [String: Int] { pools.mapValues(\.nextSerial) }

    /// Takes over running workers. Ready ones serve at once (their idle clock starts now), starting ones get a
    /// fresh start timeout, leaving ones are told to stop again. A worker of a tenant no longer configured is
    /// returned in `unknown`: the shell stops it. Serials continue after `nextSerials` and every adopted id.
    public mutating func workersAdopted(
        _ workers: [AdoptedWorker],
        nextSerials: [String: Int] = [:],
        now: Instant
    ) -> (actions: [ClusterAction], unknown: [AdoptedWorker]) {
        var actions: [ClusterAction] = []
        var unknown: [AdoptedWorker] = []
        for (tenant, serial) in nextSerials where pools[tenant] != nil {
            pools[tenant]!.nextSerial = max(pools[tenant]!.nextSerial, serial)
        }
        for adopted in workers {
            guard pools[adopted.id.tenant] != nil, pools[adopted.id.tenant]!.index(of: adopted.id) == nil else {
                unknown.append(adopted)
                continue
            }
            let config = pools[adopted.id.tenant]!.config
            var worker = Worker(
                id: adopted.id,
                port: adopted.port,
                generation: pools[adopted.id.tenant]!.generation,
                now: now,
                startDeadline: now + config.startTimeout
            )
            worker.pid = adopted.pid
            worker.statusText = adopted.statusText
            switch adopted.state {
            case .ready:
                worker.state = .ready
                worker.readyAt = adopted.readyAt ?? now
                if config.watchdog > .zero { worker.watchdogDeadline = now + config.watchdog }
            case .starting:
                break
            default:  // leaving (draining, stopping, killed), or a state this build does not know
                worker.state = .stopping(reason: .replaced, killAt: now + config.stopTimeout)
                actions.append(.terminate(adopted.id))
            }
            ports.adopt(adopted.port)
            pools[adopted.id.tenant]!.workers.append(worker)
            pools[adopted.id.tenant]!.workers.sort { $0.id.serial < $1.id.serial }
            pools[adopted.id.tenant]!.nextSerial = max(pools[adopted.id.tenant]!.nextSerial, adopted.id.serial + 1)
            pools[adopted.id.tenant]!.demand = max(pools[adopted.id.tenant]!.demand, pools[adopted.id.tenant]!.live)
            switch worker.state {
            case .ready: actions.append(.publish(.workerReady(adopted.id, port: adopted.port)))
            case .starting: actions.append(.publish(.workerStarting(adopted.id, port: adopted.port, pid: adopted.pid)))
            default: break
            }
        }
        for adopted in workers { markChanged(adopted.id.tenant) }
        return (actions + reconcile(now: now), unknown)
    }
}
