import ClusterCore
import ClusterRouter
import Testing

/// `Expect: 100-continue` answered by the proxy, and upgrades tunnelled byte for byte.
@Suite("100-continue and upgrades", .serialized, .timeLimit(.minutes(1)))
struct ContinueAndUpgradeTests {
    @Test("100 Continue comes from the proxy once a worker is chosen; Expect is not forwarded")
    func continueForwarded() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(["app.test": .init(ports: [backend.port], delay: .milliseconds(100))])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(
                "POST /up HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
            )
            let interim = try client.readResponse()
            #expect(interim.status == 100)
            #expect(routing.snapshot.forwarded == 1)
            try client.send("hello")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.text.contains("body-bytes: 5"))
            #expect(!response.text.lowercased().contains("expect:"))
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a refused request with Expect: 100-continue gets its final status without 100 and without its body")
    func continueRefused() async throws {
        let routing = StaticRouting([:])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(
                "POST /up HTTP/1.1\r\nHost: nobody.test\r\nContent-Length: 5000000\r\nExpect: 100-continue\r\n\r\n"
            )
            let response = try client.readResponse()
            #expect(response.status == 404)
            #expect(response.header("connection") == "close")
            #expect(client.waitForClose(seconds: 5))
        }
    }

    @Test("an upgrade is tunnelled both ways after 101; finished only when the tunnel closes")
    func upgradeTunnel() async throws {
        let backend = try await ScriptedBackend(.upgradeEcho)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            // Bytes sent right behind the upgrade request must reach the worker too.
            try client.send(
                "GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly-bytes|"
            )
            let response = try client.readResponse()
            #expect(response.status == 101)
            #expect(response.header("upgrade") == "test")
            #expect(response.header("connection")?.lowercased() == "upgrade")
            var echoed = ""
            for message in ["hello|", "world|", String(repeating: "z", count: 100_000) + "|"] {
                try client.send(message)
                echoed += message
            }
            var received: [UInt8] = []
            client.setTimeout(seconds: 5)
            while received.count < ("early-bytes|" + echoed).utf8.count {
                received += try client.readRaw()
            }
            #expect(String(decoding: received, as: UTF8.self) == "early-bytes|" + echoed)
            #expect(routing.snapshot.finished.isEmpty)
            #expect(routing.snapshot.inFlight == 1)
        }
        // The client socket closed with the test body: that closed the tunnel, and the worker's end with it.
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("the client closing a tunnel closes the worker end and calls finished once")
    func tunnelClosedByClient() async throws {
        let backend = try await ScriptedBackend(.upgradeEcho)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(
                "GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: test\r\n\r\n"
            )
            #expect(response.status == 101)
            #expect(routing.snapshot.finished.isEmpty)
            client.shutdownWrite()
            #expect(client.waitForClose(seconds: 5))
            #expect(await eventually { routing.snapshot.finished.count == 1 })
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("an upgrade request answered without 101 (by the worker or the proxy) ends with the connection closed")
    func upgradeNotSwitched() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            for host in ["app.test", "nobody.test"] {
                let client = try RawHTTPClient(port: proxy.port)
                let response = try client.exchange(
                    "GET /ws HTTP/1.1\r\nHost: \(host)\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n"
                )
                #expect(response.status == (host == "app.test" ? 200 : 404))
                #expect(response.header("connection") == "close")
                #expect(response.header("upgrade") == nil)
                #expect(client.waitForClose(seconds: 5))
            }
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }
}
