/// Which tenant a `Host` names: its `hosts` list first, then `TENANT.domain`.
public struct RoutingTable: Sendable, Equatable {
    public private(set) var domain: String?
    private var tenantByHost: [String: String] = [:]
    private var tenants: Set<String> = []

    public init(domain: String?, hosts: [String: [String]]) {
        self.domain = domain.map { $0.lowercased() }
        for (tenant, names) in hosts {
            tenants.insert(tenant)
            for name in names { tenantByHost[name.lowercased()] = tenant }
        }
    }

    /// The tenant for a host (already lower-cased, port stripped), or nil.
    public func tenant(forHost host: String) -> String? {
        if let tenant = tenantByHost[host] { return tenant }
        guard let domain, host.count > domain.count + 1, host.hasSuffix(domain) else { return nil }
        let prefix = host.dropLast(domain.count)
        guard prefix.last == "." else { return nil }
        let name = String(prefix.dropLast())
        return tenants.contains(name) ? name : nil
    }

    /// Lower-cases a `Host` header value and strips its port (`[::1]:8080` → `[::1]`, `Acme.Test:80` → `acme.test`).
    public static func normalizeHost(_ value: Substring) -> String {
        var host = value
        if host.hasPrefix("[") {
            if let close = host.firstIndex(of: "]") { host = host[...close] }
        } else if let colon = host.lastIndex(of: ":") {
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.lowercased()
    }
}
