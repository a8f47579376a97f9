import ClusterCore
import ClusterRouter
import Glibc
import NIOPosix
import Testing

/// Listening (IPv6, adopted sockets) and the graceful stop.
@Suite("Server lifecycle", .serialized, .timeLimit(.minutes(1)))
struct ServerLifecycleTests {
    @Test("a graceful stop lets an in-flight request finish, closes idle connections at once, then returns")
    func gracefulStop() async throws {
        // The busy request's worker answers only when told to, after the stop has visibly begun: with a worker
        // that answers after a fixed sleep, a test starved for that long saw the answer pass before the stop.
        let held = try await ScriptedBackend(.answerWhenReleased)
        let routing = StaticRouting(port: held.port)
        let started = ContinuousClock.now
        // One event loop: the stop tells every connection on a loop at once, so once the idle one has closed,
        // the busy one knows the server is stopping (on two loops, its answer could get there first).
        try await ProxyHarness.run(routing: routing, eventLoopGroup: Self.oneLoop) { proxy in
            let idle = try RawHTTPClient(port: proxy.port)
            try idle.send(RawHTTPClient.get("/"))
            #expect(await eventually { held.requests == 1 })
            held.releaseHeldRequests()
            #expect(try idle.readResponse().status == 200)
            let busy = try RawHTTPClient(port: proxy.port)
            try busy.send(RawHTTPClient.get("/slow"))
            #expect(await eventually { held.requests == 2 })
            proxy.server.triggerGracefulShutdown()
            // Waiting here without blocking a thread lets the stop run on a loaded machine.
            #expect(await eventually(seconds: 15) { proxy.server.openConnections == 1 }, "the idle one closed")
            #expect(idle.waitForClose(seconds: 3))
            #expect(!FreePort.accepts(proxy.port))
            held.releaseHeldRequests()
            let response = try busy.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "released\n")
            #expect(response.header("connection") == "close")
            #expect(busy.waitForClose(seconds: 3))
        }
        #expect(ContinuousClock.now - started < .seconds(20), "well under the 30 s drain timeout")
        await held.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("the drain timeout bounds the stop: a request that never ends is cut off")
    func drainTimeout() async throws {
        let silent = try await ScriptedBackend(.neverAnswer)
        let routing = StaticRouting(port: silent.port)
        var configuration = ProxyConfiguration()
        configuration.drainTimeout = .milliseconds(300)
        let started = ContinuousClock.now
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(RawHTTPClient.get("/"))
            #expect(await eventually { silent.requests == 1 })
            let stopping = ContinuousClock.now
            proxy.server.triggerGracefulShutdown()
            #expect(client.waitForClose(seconds: 15), "cut off at the drain timeout, not left open")
            #expect(ContinuousClock.now - stopping >= .milliseconds(250))
        }
        #expect(ContinuousClock.now - started < .seconds(20), "the stop did not wait for the request that never ends")
        await silent.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("listens on IPv4 and IPv6 at once")
    func ipv6() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let routing = StaticRouting([
            "::1": .init(ports: [worker.port]), "127.0.0.1": .init(ports: [worker.port]),
        ])
        let listeners: [ProxyListener] = [
            .address(ListenAddress(host: "127.0.0.1", port: 0)), .address(ListenAddress(host: "::1", port: 0)),
        ]
        try await ProxyHarness.run(routing: routing, listeners: listeners) { proxy in
            let addresses = try await proxy.server.listeningAddresses()
            #expect(addresses.count == 2)
            let v6Port = try #require(addresses[1].port)
            let result = try Curl.run(["-g", "-w", " %{http_code}", "http://[::1]:\(v6Port)/whoami"])
            #expect(result.status == 0)
            #expect(result.output.hasSuffix(" 200"))
            let forwarded = try Curl.run(["http://127.0.0.1:\(proxy.port)/"])
            #expect(forwarded.status == 0)
        }
        // curl sends `Host: [::1]:port`: the IPv6 literal reaches the routing without brackets and port.
        #expect(routing.snapshot.queries.map(\.host) == ["::1", "127.0.0.1"])
        #expect(routing.finishedExactlyOnce)
    }

    @Test("adopts an already listening socket by fd and keeps its own backlog (NIO would set 128)")
    func adoptedSocket() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let (descriptor, port) = try Self.listeningSocket(backlog: 777)
        let routing = StaticRouting(port: worker.port)
        try await ProxyHarness.run(routing: routing, listeners: [.socket(descriptor: descriptor)]) { proxy in
            #expect(proxy.port == port)
            let client = try RawHTTPClient(port: port)
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
            let listing = try Self.listenQueue(port: port)
            #expect(listing == 777)
        }
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a shared listening socket made blocking by another process stalls nothing (one accept per readiness)")
    func adoptedSocketMadeBlocking() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let (descriptor, port) = try Self.listeningSocket(backlog: 128)
        let routing = StaticRouting(port: worker.port)
        try await ProxyHarness.run(
            routing: routing,
            listeners: [.socket(descriptor: descriptor)],
            eventLoopGroup: Self.oneLoop
        ) { proxy in
            let kept = try RawHTTPClient(port: port, timeoutSeconds: 5)
            #expect(try kept.exchange(RawHTTPClient.get("/")).status == 200)
            // What systemd does to a unit's sockets when it starts the unit again (after a clusterd crash) while
            // the router still accepts on them: O_NONBLOCK belongs to the socket, shared by every process.
            let flags = fcntl(descriptor, F_GETFL)
            #expect(fcntl(descriptor, F_SETFL, flags & ~O_NONBLOCK) == 0)
            defer {
                // Should this fail, the loop sits in accept(): wake it, so the stop can end and the test report.
                _ = fcntl(descriptor, F_SETFL, flags)
                _ = try? RawHTTPClient(port: port)
            }
            for _ in 0..<3 {
                let fresh = try RawHTTPClient(port: port, timeoutSeconds: 5)
                #expect(try fresh.exchange(RawHTTPClient.get("/")).status == 200)
                #expect(try kept.exchange(RawHTTPClient.get("/")).status == 200)
            }
        }
        #expect(routing.finishedExactlyOnce)
    }

    /// One event loop: the listening socket and every connection share it, so a blocked accept stalls them all.
    static let oneLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// A TCP socket on 127.0.0.1, listening with `backlog`, as systemd or clusterd would pass it.
    static func listeningSocket(backlog: CInt) throws -> (descriptor: CInt, port: Int) {
        let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        var address = FreePort.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && listen(descriptor, backlog) == 0
                    && getsockname(descriptor, $0, &length) == 0
            }
        }
        try #require(bound)
        return (descriptor, Int(UInt16(bigEndian: address.sin_port)))
    }

    /// The accept queue length of the listener on `port`, from `ss` (its Send-Q for a listening socket).
    static func listenQueue(port: Int) throws -> Int? {
        let line = try ProcessOutput.run("/usr/bin/ss", ["-ltnH", "sport = :\(port)"])
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\n" })
        return fields.count > 2 ? Int(fields[2]) : nil
    }
}
