import ClusterControl
import Foundation
import Testing

extension SupervisorIntegrationTests {
    /// A host with 10,000 tenants: every snapshot (status, subscribe, config-reloaded) is a line of over 1 MiB.
    @Suite("10,000 tenants")
    struct LargeCluster {
        static let tenantCount = 10_000

        static var tenants: String {
            """
            [defaults]
            command = ["\(Paths.demoWorker)"]

            """ + (0..<tenantCount).map { "[tenant.t\($0)]" }.joined(separator: "\n")
        }

        @Test("clusterctl status and status --json; the router synchronizes from the snapshot and from a reload")
        func tenThousandTenants() throws {
            let clusterd = try ClusterdProcess(tenants: Self.tenants, router: true)
            let socket = ["--socket", clusterd.socketPath]
            let clusterctl = ClusterctlEndToEnd.clusterctl

            let table = try clusterctl(socket + ["status"])
            #expect(table.status == 0, "\(table.errors)")
            let lines = table.output.split(separator: "\n")
            #expect(lines.first == "clusterd: 10000 tenants, 0 of at most 64 workers on the host")
            #expect(lines.count == 2 + Self.tenantCount)
            #expect(lines.last?.hasPrefix("t9999 ") == true)

            let json = try clusterctl(socket + ["status", "--json"])
            #expect(json.status == 0, "\(json.errors)")
            #expect(json.output.utf8.count > 1 << 20)
            let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(json.output.utf8))
            #expect(snapshot.tenants.map(\.name) == (0..<Self.tenantCount).map { "t\($0)" }.sorted())

            // The router's subscription began with such a snapshot: it knows the last tenant's host.
            let port = try #require(clusterd.routerPort)
            #expect(HTTPGet.get(port: port, host: "t9999.example.test")?.body == "hello from t9999\n")

            // A reload sends the router another one, in a config-reloaded event; it keeps routing.
            let reload = try clusterctl(socket + ["reload"])
            #expect(reload.status == 0, "\(reload.errors)")
            #expect(reload.output == "reloaded: 10000 tenants\n")
            #expect(HTTPGet.get(port: port, host: "t5000.example.test")?.body == "hello from t5000\n")
            let after = try clusterd.snapshot()
            #expect(after.tenants.count == Self.tenantCount)
            #expect(after.tenants.first { $0.name == "t9999" }?.workers.first?.state == .ready)
        }
    }
}
