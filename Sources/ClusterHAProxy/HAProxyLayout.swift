import ClusterControl

/// What a generated haproxy.cfg and host map hold: one backend per tenant with its number of slots, and the
/// host → backend entries. Two snapshots with equal layouts need no new configuration; workers come and go at
/// runtime, through the slots.
public struct HAProxyLayout: Hashable, Sendable {
    /// A tenant's backend: `t_acme` with servers `w1`…`w<slots>`.
    public struct Backend: Hashable, Sendable {
        public var tenant: String
        public var name: String
        public var slots: Int

        public init(tenant: String, name: String, slots: Int) {
            self.tenant = tenant
            self.name = name
            self.slots = slots
        }
    }

    /// One line of the host map file: `host backend`.
    public struct MapEntry: Hashable, Sendable {
        public var host: String
        public var backend: String

        public init(host: String, backend: String) {
            self.host = host
            self.backend = backend
        }
    }

    /// Sorted by tenant name.
    public var backends: [Backend]
    /// Each tenant's `hosts`, then `TENANT.domain`; a host listed twice keeps its first backend.
    public var mapEntries: [MapEntry]

    /// Slots for a tenant whose `max_workers` is `maxWorkers`: twice that, at least 2.
    ///
    /// Not `max_workers` alone: a worker holds its slot until it is gone, and clusterd starts a replacement
    /// before its predecessor has drained (a rolling restart drains with reason `replaced` once "a new worker
    /// is already ready"; an idled-out worker may still be draining when a request starts a new one). With
    /// only `max_workers` slots, those ordinary moments would find no free slot and force a reload.
    public static func slots(forMaxWorkers maxWorkers: Int) -> Int { 2 * max(1, maxWorkers) }

    /// The layout for `snapshot`'s tenants, hosts, domain and `max_workers`.
    public init(_ snapshot: ClusterSnapshot) throws(HAProxyError) {
        var backends: [Backend] = []
        var entries: [MapEntry] = []
        var mapped: Set<String> = []
        func add(host: String, backend: String) throws(HAProxyError) {
            let key = try HAProxyNames.mapKey(forHost: host)
            if mapped.insert(key).inserted { entries.append(MapEntry(host: key, backend: backend)) }
        }
        for tenant in snapshot.tenants.sorted(by: { $0.name < $1.name }) {
            let backend = try HAProxyNames.backend(forTenant: tenant.name)
            backends.append(
                Backend(tenant: tenant.name, name: backend, slots: Self.slots(forMaxWorkers: tenant.maxWorkers))
            )
            for host in tenant.hosts { try add(host: host, backend: backend) }
            if let domain = snapshot.domain, !domain.isEmpty, tenant.state != .removed {
                try add(host: "\(tenant.name).\(domain)", backend: backend)
            }
        }
        self.backends = backends
        self.mapEntries = entries
    }

    /// The backend of `tenant`, if the layout has one.
    public func backend(forTenant tenant: String) -> Backend? { backends.first { $0.tenant == tenant } }
}
