import ClusterCore
import TenantsFile
import Testing

/// The defaults the contract (design.md, "tenants.conf (contract)") documents, checked against a minimal file.
///
/// Every expected value is a literal copied from design.md, never a default-constructed value of the
/// implementation, so a changed default fails here:
/// - design.md:62 `listen = "127.0.0.1:8080"`
/// - design.md:63 `control_socket = "/run/clusterd/control.sock"`
/// - design.md:64 `state_dir = "/var/lib/clusterd"`
/// - design.md:65 `ports = "20000-29999"`
/// - design.md:66 `max_workers = 512` (host-wide)
/// - design.md:71 `idle_timeout = "5m"`
/// - design.md:72 `start_timeout = "30s"`
/// - design.md:73 `stop_timeout = "10s"`
/// - design.md:74 `min_workers = 0`
/// - design.md:75 `max_workers = 1`
/// - design.md:76 `readiness = "listen-fds"`
/// - design.md:77 `queue_limit = 100`
/// - design.md:78 `max_concurrency = 0`
///
/// Not checked, because design.md gives them no default: `domain` (design.md:67 is an example host name),
/// `command` (design.md:70 is an example program; a tenant without one is an error), and the `[tenant.acme]`
/// example keys `hosts`, `env`, `working_directory` (design.md:81-84).
@Suite("Defaults documented in design.md")
struct DocumentedDefaultsTests {
    static let minimal = "[tenant.a]\ncommand = [\"/bin/true\"]"

    /// The minimal file, loaded the way `clusterd start` and `check` load it: from a real file.
    static func loadMinimal() throws -> ClusterConfiguration {
        var directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("tenants.conf", text: minimal)
        return try TenantsFile.load(path: path).get()
    }

    @Test("[cluster] keys left out take design.md's values (design.md:62-66)")
    func clusterDefaults() throws {
        let config = try Self.loadMinimal()
        // design.md:62
        #expect(config.listen.map(\.host) == ["127.0.0.1"])
        #expect(config.listen.map(\.port) == [8080])
        // design.md:63 (absolute: not resolved against the file's directory)
        #expect(config.controlSocket == "/run/clusterd/control.sock")
        // design.md:64
        #expect(config.stateDirectory == "/var/lib/clusterd")
        // design.md:65
        #expect(config.ports.lowerBound == 20000)
        #expect(config.ports.upperBound == 29999)
        // design.md:66
        #expect(config.maxWorkers == 512)
    }

    @Test("per-tenant keys left out (no [defaults] either) take design.md's values (design.md:71-78)")
    func tenantDefaults() throws {
        let config = try Self.loadMinimal()
        #expect(config.tenantNames == ["a"])
        let tenant = try #require(config.tenants["a"])
        #expect(tenant.command == ["/bin/true"])
        Self.expectDocumentedDefaults(tenant)
    }

    @Test("an empty [defaults] table changes none of the per-tenant defaults (design.md:69-78)")
    func emptyDefaultsTable() throws {
        let text = "[defaults]\n\n[tenant.a]\ncommand = [\"/bin/true\"]\n"
        let config = try TenantsFile.parse(text, fileName: "tenants.conf", baseDirectory: nil).get()
        Self.expectDocumentedDefaults(try #require(config.tenants["a"]))
    }

    static func expectDocumentedDefaults(_ tenant: TenantConfiguration) {
        // design.md:71 "5m"
        #expect(tenant.idleTimeout == .seconds(5 * 60))
        // design.md:72 "30s"
        #expect(tenant.startTimeout == .seconds(30))
        // design.md:73 "10s"
        #expect(tenant.stopTimeout == .seconds(10))
        // design.md:74
        #expect(tenant.minWorkers == 0)
        // design.md:75
        #expect(tenant.maxWorkers == 1)
        // design.md:76
        #expect(tenant.readiness.rawValue == "listen-fds")
        // design.md:77
        #expect(tenant.queueLimit == 100)
        // design.md:78: 0 = no cap
        #expect(tenant.maxConcurrency == 0)
    }
}
