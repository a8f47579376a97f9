import ClusterControl
import Foundation
import Testing

@testable import ClusterHAProxy

@Suite("HAProxy configuration")
struct HAProxyConfigurationTests {
    static let settings = HAProxyConfiguration.Settings(
        bindAddress: "127.0.0.1:18080",
        statsSocketPath: "/run/clusterd/haproxy.sock",
        mapFilePath: "/etc/clusterd/haproxy-hosts.map",
        routerAddress: "127.0.0.1:8081",
        dynamicCookieKey: "s3cret-key"
    )

    static var text: String {
        get throws { try HAProxyConfiguration(settings: settings).text(for: .threeTenants) }
    }

    @Test("the important lines are there, in order")
    func importantLines() throws {
        let lines = try Self.text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let expected = [
            "stats socket /run/clusterd/haproxy.sock mode 600 level admin expose-fd listeners",
            "mode http",
            "option idle-close-on-response",
            "timeout connect 5000ms",
            "timeout tunnel 3600000ms",
            "frontend clusterd_http",
            "bind 127.0.0.1:18080",
            "use_backend %[req.hdr(host),field(1,:),lower,map(/etc/clusterd/haproxy-hosts.map)]",
            "default_backend clusterd_router",
            "backend clusterd_router",
            "server router 127.0.0.1:8081",
            "backend t_acme",
            "balance leastconn",
            "cookie clusterd_route insert indirect nocache dynamic",
            "dynamic-cookie-key s3cret-key",
            "option redispatch 1",
            "retries 2",
            "retry-on conn-failure empty-response",
            "http-request disable-l7-retry unless { method GET HEAD OPTIONS TRACE PUT DELETE }",
            "http-after-response replace-header Set-Cookie '^clusterd_route=activator(;.*)?$' "
                + "'clusterd_route=; Max-Age=0\\1'",
            "server-template w 1-6 127.0.0.1:1 disabled",
            "server activator 127.0.0.1:8081 backup cookie activator",
            "backend t_beta",
            "server-template w 1-2 127.0.0.1:1 disabled",
            "backend t_gamma",
            "server-template w 1-2 127.0.0.1:1 disabled",
        ]
        var position = lines.startIndex
        for line in expected {
            guard let found = lines[position...].firstIndex(of: line) else {
                Issue.record("missing, or out of order: \(line)")
                continue
            }
            position = found + 1
        }
        #expect(lines.count { $0.hasPrefix("backend t_") } == 3)
        #expect(lines.count { $0 == "server activator 127.0.0.1:8081 backup cookie activator" } == 3)
    }

    @Test("the map holds every host and TENANT.domain, each once")
    func mapFile() throws {
        let map = try HAProxyConfiguration.mapFile(.threeTenants)
        #expect(
            map.split(separator: "\n").dropFirst() == [
                "acme.example.test t_acme", "www.acme.test t_acme", "beta.example.test t_beta", "gamma.test t_gamma",
                "gamma.example.test t_gamma",
            ]
        )
        #expect(map.hasPrefix("#"))
    }

    @Test("without a domain, only hosts; a removed tenant keeps its backend but not TENANT.domain")
    func domainAndRemoved() throws {
        let noDomain = ClusterSnapshot.fixture(domain: nil, [.fixture("acme", hosts: ["a.test"]), .fixture("beta")])
        #expect(try HAProxyLayout(noDomain).mapEntries == [.init(host: "a.test", backend: "t_acme")])
        let removed = ClusterSnapshot.fixture([.fixture("acme", state: .removed)])
        let layout = try HAProxyLayout(removed)
        #expect(layout.mapEntries.isEmpty)
        #expect(layout.backends.map(\.name) == ["t_acme"])
    }

    @Test("slots are twice max_workers, at least 2", arguments: [(0, 2), (1, 2), (3, 6), (64, 128)])
    func slots(maxWorkers: Int, slots: Int) {
        #expect(HAProxyLayout.slots(forMaxWorkers: maxWorkers) == slots)
    }

    @Test("an unsafe tenant or host refuses the whole configuration")
    func unsafeNames() {
        let configuration = HAProxyConfiguration(settings: Self.settings)
        #expect(throws: HAProxyError.self) {
            try configuration.text(for: ClusterSnapshot.fixture([.fixture("ac/me")]))
        }
        #expect(throws: HAProxyError.self) {
            try HAProxyConfiguration.mapFile(ClusterSnapshot.fixture([.fixture("acme", hosts: ["a b"])]))
        }
    }

    @Test(
        "a setting that would break a line is refused",
        arguments: ["bindAddress", "statsSocketPath", "mapFilePath", "routerAddress", "dynamicCookieKey"]
    )
    func unsafeSettings(setting: String) {
        for bad in ["", "a b", "a#b", "a\"b", "a)b", "a\nb"] {
            var settings = Self.settings
            switch setting {
            case "bindAddress": settings.bindAddress = bad
            case "statsSocketPath": settings.statsSocketPath = bad
            case "mapFilePath": settings.mapFilePath = bad
            case "routerAddress": settings.routerAddress = bad
            default: settings.dynamicCookieKey = bad
            }
            #expect(throws: HAProxyError.self) { try HAProxyConfiguration(settings: settings).text(for: .threeTenants) }
        }
    }

    @Test("with a server state file, HAProxy saves and loads it across reloads")
    func serverStateFile() throws {
        var settings = Self.settings
        #expect(try !HAProxyConfiguration(settings: settings).text(for: .threeTenants).contains("server-state"))
        settings.serverStateFilePath = "/var/lib/clusterd-haproxy/servers.state"
        let lines = try HAProxyConfiguration(settings: settings).text(for: .threeTenants).split(separator: "\n")
            .map { $0.trimmingCharacters(in: .whitespaces) }
        let global = try #require(lines.firstIndex(of: "global"))
        let defaults = try #require(lines.firstIndex(of: "defaults"))
        let state = try #require(lines.firstIndex(of: "server-state-file /var/lib/clusterd-haproxy/servers.state"))
        let load = try #require(lines.firstIndex(of: "load-server-state-from-file global"))
        #expect(global < state && state < defaults && defaults < load)
        settings.serverStateFilePath = "/var/lib/a b"
        #expect(throws: HAProxyError.self) { try HAProxyConfiguration(settings: settings).text(for: .threeTenants) }
    }

    @Test("a timeout below a millisecond is refused; others are whole milliseconds")
    func timeouts() {
        var settings = Self.settings
        settings.timeouts.server = .microseconds(10)
        #expect(throws: HAProxyError.self) { try HAProxyConfiguration(settings: settings).text(for: .threeTenants) }
        #expect(HAProxyConfiguration.milliseconds(.milliseconds(1500)) == "1500ms")
        #expect(HAProxyConfiguration.milliseconds(.seconds(90)) == "90000ms")
    }

    @Test(
        "haproxy -c accepts the generated configuration",
        .enabled(
            if: HAProxyBinary.path != nil,
            "haproxy is not installed (looked in PATH, /usr/sbin, /usr/local/sbin)"
        ),
        .timeLimit(.minutes(1))
    )
    func realHAProxyAccepts() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("clusterd-haproxy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let mapPath = directory.appendingPathComponent("hosts.map").path
        var settings = Self.settings
        settings.mapFilePath = mapPath
        settings.statsSocketPath = directory.appendingPathComponent("haproxy.sock").path
        settings.serverStateFilePath = directory.appendingPathComponent("servers.state").path
        try HAProxyFiles.noServerState.write(toFile: settings.serverStateFilePath!, atomically: true, encoding: .utf8)
        let configPath = directory.appendingPathComponent("haproxy.cfg").path
        try HAProxyConfiguration(settings: settings).text(for: .threeTenants)
            .write(toFile: configPath, atomically: true, encoding: .utf8)
        try HAProxyConfiguration.mapFile(.threeTenants).write(toFile: mapPath, atomically: true, encoding: .utf8)

        let result = try HAProxyBinary.run(["-c", "-f", configPath])
        #expect(result.status == 0, "haproxy -c said:\n\(result.output)")
        #expect(!result.output.contains("[WARNING]"), "haproxy -c warned:\n\(result.output)")
    }
}

/// The installed haproxy, for checking generated configurations.
enum HAProxyBinary {
    static let path: String? = {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let directories = path.split(separator: ":").map(String.init) + ["/usr/sbin", "/usr/local/sbin"]
        return directories.map { $0 + "/haproxy" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    /// Runs haproxy with `arguments`; its exit status and its stdout and stderr together.
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}
