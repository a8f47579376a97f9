import ClusterCore
import TenantsFile
import Testing

@Suite("examples/tenants.conf")
struct ExampleFileTests {
    @Test func loadsWithEveryValue() throws {
        let path = try #require(RepositoryFile.path("examples/tenants.conf"))
        let config = try TenantsFile.load(path: path).get()

        #expect(config.listen == [ListenAddress(host: "127.0.0.1", port: 8080)])
        #expect(config.controlSocket == "/tmp/clusterd-example/control.sock")
        #expect(config.stateDirectory == "/tmp/clusterd-example/state")
        #expect(config.ports == PortRange(20000...20999))
        #expect(config.maxWorkers == 64)
        #expect(config.domain == "example.test")
        #expect(config.controlGroup == nil)
        #expect(config.tenantNames == ["acme", "beta", "gamma"])

        let command = [".build/debug/demo-worker", "--port", "{port}"]
        let acme = try #require(config.tenants["acme"])
        #expect(acme.hosts == ["acme.example.test", "www.acme.test"])
        #expect(acme.maxWorkers == 4)
        #expect(acme.minWorkers == 0)
        #expect(acme.environment == ["GREETING": "hello"])
        #expect(acme.command == command)
        #expect(acme.readiness == .listenFDs)
        #expect(acme.idleTimeout == .seconds(300))
        #expect(acme.startTimeout == .seconds(10))
        #expect(acme.stopTimeout == .seconds(5))
        #expect(acme.queueLimit == 100)
        #expect(acme.workingDirectory == nil)

        let beta = try #require(config.tenants["beta"])
        #expect(beta.readiness == .notify)
        #expect(beta.idleTimeout == .seconds(30))
        #expect(beta.maxWorkers == 1)
        #expect(beta.hosts.isEmpty)
        #expect(beta.environment.isEmpty)
        #expect(beta.command == command)

        let gamma = try #require(config.tenants["gamma"])
        #expect(gamma.readiness == .tcp)
        #expect(gamma.minWorkers == 1)
        #expect(gamma.maxWorkers == 1)
        #expect(gamma.idleTimeout == .seconds(300))
        #expect(gamma.stopTimeout == .seconds(5))
    }

    @Test func parsesTheSameAsItLoads() throws {
        let path = try #require(RepositoryFile.path("examples/tenants.conf"))
        let text = try #require(RepositoryFile.text(path))
        let loaded = try TenantsFile.load(path: path).get()
        let parsed = try TenantsFile.parse(text, fileName: "tenants.conf", baseDirectory: nil).get()
        #expect(parsed == loaded)
    }
}
