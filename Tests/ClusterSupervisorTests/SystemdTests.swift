import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// clusterd as systemd runs it: sockets passed by name, the notify protocol on a socket the test reads.
    @Suite("systemd integration")
    struct Systemd {
        static let tenants = """
            [tenant.acme]
            command = ["\(Paths.demoWorker)"]
            """

        @Test("named fds adopted, the backlog kept, READY when serving, STATUS, WATCHDOG, RELOADING, STOPPING")
        func socketActivationAndNotify() throws {
            let directory = Paths.temporaryDirectory("systemd")
            let notify = NotifyListener(path: directory + "/notify.sock")
            let port = Self.freePort()
            let control = directory + "/control.sock"
            let clusterd = try ClusterdProcess(
                tenants: Self.tenants,
                router: true,
                launcher: [
                    "/usr/bin/env", "python3", Paths.fixture("socket-activate.py"),
                    "http=tcp:127.0.0.1:\(port):777", "control=unix:\(control):64", "--",
                ],
                environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"],
                socketPath: control
            )
            #expect(notify.waitFor("READY=1"), "READY=1 once serving: \(notify.all)")
            let ready = try #require(notify.matching("READY=1").first)
            #expect(ready.text.contains("STATUS=1 tenants, 0 workers ready, 0 failed"))

            // The router serves on the passed socket, with its accept queue as systemd made it.
            let response = try #require(HTTPGet.get(port: port, path: "/", host: "acme.example.test"))
            #expect(response.status == 200)
            #expect(Self.listenBacklog(port: port) == 777, "the socket's backlog is kept (NIO would make it 128)")
            #expect(clusterd.log().contains("from=systemd"), "the control socket came from systemd")
            #expect(notify.waitFor("STATUS=1 tenants, 1 workers ready"), "STATUS follows the workers: \(notify.all)")

            // WATCHDOG=1 at half of WATCHDOG_USEC (1 s), from the supervisor's loop.
            let pings = notify.matching("WATCHDOG=1").count
            usleep(1_600_000)
            #expect(notify.matching("WATCHDOG=1").count - pings >= 2, "\(notify.all)")

            kill(clusterd.pid, SIGHUP)
            #expect(notify.waitFor("RELOADING=1"))
            #expect(notify.waitFor("READY=1", count: 2), "READY=1 again after the reload")
            let reloading = try #require(notify.matching("RELOADING=1").first)
            #expect(reloading.text.contains("MONOTONIC_USEC="))
            #expect(notify.matching("READY=1").last!.at >= reloading.at)

            #expect(clusterd.stop() == 0)
            #expect(notify.matching("STOPPING=1").count == 1, "STOPPING=1 once, on SIGTERM")
        }

        @Test("systemd-socket-activate, the real tool, passes http and control; requests are served")
        func realSocketActivate() throws {
            let directory = Paths.temporaryDirectory("ssa")
            let port = Self.freePort()
            let control = directory + "/control.sock"
            let clusterd = try ClusterdProcess(
                tenants: Self.tenants,
                router: true,
                launcher: [
                    "/usr/bin/systemd-socket-activate", "-l", "127.0.0.1:\(port)", "-l", control,
                    "--fdname=http:control", "-E", "PATH", "--",
                ],
                socketPath: control
            )
            #expect(HTTPGet.get(port: port, path: "/", host: "acme.example.test")?.body == "hello from acme\n")
            #expect(try clusterd.snapshot().tenants.map(\.name) == ["acme"])
        }

        @Test(
            "a socket that is not what its name says is refused with a clear message",
            arguments: [
                ("http=udp:127.0.0.1:PORT", "named http is not a listening TCP socket"),
                ("http=tcp-unlistened:127.0.0.1:PORT", "named http is not a listening TCP socket"),
                ("control=tcp:127.0.0.1:PORT:16", "named control is not a listening Unix stream socket"),
            ]
        )
        func badSockets(spec: String, message: String) throws {
            let directory = Paths.temporaryDirectory("badsock")
            let config = directory + "/tenants.conf"
            try """
            [cluster]
            control_socket = "\(directory)/control.sock"
            state_dir = "\(directory)/state"
            ports = "\(PortBlocks.take())"
            max_workers = 64
            \(Self.tenants)
            """.write(toFile: config, atomically: true, encoding: .utf8)
            let result = try ClusterctlEndToEnd.run(
                [
                    "/usr/bin/env", "python3", Paths.fixture("socket-activate.py"),
                    spec.replacingOccurrences(of: "PORT", with: String(Self.freePort())), "--",
                    Paths.clusterd, "start", "--tenants", config,
                ]
            )
            #expect(result.status == 1)
            #expect(result.errors.contains(message), "\(result.errors)")
        }

        static func freePort() -> Int {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    _ = bind(fd, $0, length)
                    return getsockname(fd, $0, &length)
                }
            }
            return Int(UInt16(bigEndian: address.sin_port))
        }

        /// Send-Q of the listening socket in `ss`: its accept-queue length.
        static func listenBacklog(port: Int) -> Int? {
            guard let output = try? ClusterctlEndToEnd.run(["/usr/bin/ss", "-Hltn", "sport = :\(port)"]).output else {
                return nil
            }
            let fields = output.split(whereSeparator: \.isWhitespace)
            return fields.count > 2 ? Int(fields[2]) : nil
        }
    }
}
