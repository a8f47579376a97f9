import ClusterControl
import Foundation
import Testing

extension SupervisorIntegrationTests {
    /// The real clusterctl against a real clusterd: what an operator types.
    @Suite("clusterctl against clusterd")
    struct ClusterctlEndToEnd {
        @Test("start, status --json, scale 3, scale 0, reload unchanged and broken, and a refused user")
        func operatorSession() async throws {
            let clusterd = try ClusterdProcess(tenants: ControlChannel.demoTenants)
            let socket = ["--socket", clusterd.socketPath]

            #expect(try Self.clusterctl(socket + ["start", "acme"]).status == 0)
            let json = try Self.clusterctl(socket + ["status", "--json"])
            #expect(json.status == 0)
            let snapshot = try JSONDecoder().decode(ClusterSnapshot.self, from: Data(json.output.utf8))
            let worker = try #require(snapshot.tenant("acme").workers.first)
            #expect(worker.state == .ready)
            #expect(HTTPGet.get(port: worker.port)?.body == "hello from acme\n")

            #expect(try Self.clusterctl(socket + ["scale", "acme=3"]).status == 0)
            try await eventually("3 ready workers") {
                try clusterd.snapshot().tenant("acme").workers.filter { $0.state == .ready }.count == 3
            }
            let table = try Self.clusterctl(socket + ["status"])
            #expect(table.status == 0)
            #expect(table.output.contains("acme"))
            #expect(table.output.components(separatedBy: "ready").count - 1 >= 3)

            let pids = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            #expect(try Self.clusterctl(socket + ["reload"]).status == 0)
            #expect(
                try clusterd.snapshot().tenant("acme").workers.map(\.pid) == pids,
                "an unchanged tenant keeps its pids"
            )

            let config = try String(contentsOfFile: clusterd.configPath, encoding: .utf8)
            try clusterd.rewrite(config + "\n[tenant.beta.oops]\n")
            let refused = try Self.clusterctl(socket + ["reload"])
            #expect(refused.status == 1)
            #expect(refused.errors.contains("tenants.conf:"), "the errors name the file and line: \(refused.errors)")
            #expect(try clusterd.snapshot().tenant("acme").workers.map(\.pid) == pids)
            try clusterd.rewrite(config)

            #expect(try Self.clusterctl(socket + ["scale", "acme=0"]).status == 0)
            try await eventually("no worker left") { try clusterd.snapshot().tenant("acme").workers.isEmpty }

            #expect(try Self.clusterctl(socket + ["start", "nope"]).status == 1)
            #expect(try Self.clusterctl(socket + ["scale", "acme=lots"]).status == 2)
            let nobody = try Self.run(
                [
                    "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    Paths.products + "/clusterctl",
                ]
                    + socket + ["status"]
            )
            #expect(nobody.status == 3)
            #expect(nobody.errors.contains(clusterd.socketPath), "says which socket was tried: \(nobody.errors)")
            #expect(try Self.clusterctl(["--socket", clusterd.directory + "/missing.sock", "status"]).status == 3)
        }

        static func clusterctl(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
            try run([Paths.products + "/clusterctl"] + arguments)
        }

        static func run(_ arguments: [String]) throws -> (status: Int32, output: String, errors: String) {
            try Spawned.run(arguments)
        }
    }
}
