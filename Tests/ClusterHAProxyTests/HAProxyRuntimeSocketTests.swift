import ClusterHAProxy
import Foundation
import Testing

/// The runtime API client against a real HAProxy that the test starts (and stops) on its own stats socket.
@Suite("HAProxy runtime socket", .timeLimit(.minutes(1)))
struct HAProxyRuntimeSocketTests {
    @Test(
        "commands are answered; a missing socket says what to check",
        .enabled(if: HAProxyBinary.path != nil, "haproxy is not installed (looked in PATH, /usr/sbin, /usr/local/sbin)")
    )
    func realHAProxy() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("clusterd-haproxy-runtime-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = directory + "/admin.sock"
        let config = """
            global
                stats socket \(socket) mode 600 level admin
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            backend t_acme
                server-template w 1-2 127.0.0.1:1 disabled

            """
        try config.write(toFile: directory + "/haproxy.cfg", atomically: true, encoding: .utf8)
        let haproxy = Process()
        haproxy.executableURL = URL(fileURLWithPath: HAProxyBinary.path!)
        haproxy.arguments = ["-db", "-f", directory + "/haproxy.cfg"]
        haproxy.standardOutput = FileHandle.nullDevice
        haproxy.standardError = FileHandle.nullDevice
        try haproxy.run()
        defer {
            haproxy.terminate()
            haproxy.waitUntilExit()
        }
        let runtime = HAProxyRuntimeSocket(path: socket, timeout: .seconds(5))
        var info = ""
        for _ in 0..<100 where !info.contains("Version:") {
            info = (try? runtime.send("show info")) ?? ""
            if !info.contains("Version:") { usleep(50_000) }
        }
        #expect(info.contains("Version: 2."), "show info: \(info.prefix(200))")

        _ = try runtime.send("set server t_acme/w1 addr 127.0.0.1 port 20001")
        _ = try runtime.send("set server t_acme/w1 state ready")
        let servers = try runtime.send("show servers state t_acme")
        let w1 = servers.split(separator: "\n").first { $0.contains(" w1 ") }.map(String.init) ?? ""
        #expect(w1.contains("127.0.0.1") && w1.contains("20001"), "show servers state: \(servers)")

        let missing = HAProxyRuntimeSocket(path: directory + "/nothing.sock", timeout: .seconds(1))
        #expect {
            try missing.send("show info")
        } throws: { error in
            "\(error)".contains("is HAProxy running with `stats socket")
        }
    }
}
