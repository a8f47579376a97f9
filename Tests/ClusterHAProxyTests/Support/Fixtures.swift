import ClusterControl
import ClusterCore

extension ClusterSnapshot {
    /// A snapshot with `tenants` and nothing else of note.
    static func fixture(domain: String? = "example.test", _ tenants: [TenantSnapshot]) -> ClusterSnapshot {
        ClusterSnapshot(
            domain: domain,
            maxWorkers: 64,
            workersTotal: tenants.reduce(0) { $0 + $1.workers.count },
            shuttingDown: false,
            tenants: tenants
        )
    }

    /// acme (2 hosts, 3 workers), beta (no hosts, 1 worker), gamma (1 host, max_workers 0 read as 1).
    static let threeTenants = ClusterSnapshot.fixture([
        .fixture("acme", hosts: ["acme.example.test", "www.acme.test"], maxWorkers: 3),
        .fixture("beta", maxWorkers: 1),
        .fixture("gamma", hosts: ["gamma.test"], maxWorkers: 0),
    ])
}

extension TenantSnapshot {
    static func fixture(
        _ name: String,
        hosts: [String] = [],
        maxWorkers: Int = 2,
        state: TenantStatus.State = .running,
        workers: [WorkerSnapshot] = []
    ) -> TenantSnapshot {
        TenantSnapshot(
            name: name,
            state: state,
            hosts: hosts,
            scale: nil,
            floor: 0,
            target: workers.count,
            maxWorkers: maxWorkers,
            queueLimit: 100,
            maxConcurrency: 0,
            waiting: 0,
            lastError: nil,
            retryInMilliseconds: nil,
            workers: workers
        )
    }
}

extension WorkerSnapshot {
    static func fixture(_ id: WorkerID, port: Int, state: WorkerStatus.State = .ready) -> WorkerSnapshot {
        WorkerSnapshot(
            id: id,
            pid: 1000 + Int32(id.serial),
            port: port,
            state: state,
            stopReason: nil,
            inFlight: 0,
            uptimeMilliseconds: nil,
            idleInMilliseconds: nil,
            status: nil
        )
    }
}
