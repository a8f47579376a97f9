import ClusterControl
import ClusterCore
import ClusterRouter
import Foundation
import Testing

/// What the proxy answers itself: refusals from the routing, request smuggling, size limits and slow clients.
@Suite("Limits and refusals", .serialized, .timeLimit(.minutes(1)))
struct LimitsAndRefusalsTests {
    @Test(
        "the router's own refusals: queue full 503 with Retry-After; clusterd's start-failed 502, start-timeout 504, unknown-tenant 404"
    )
    func routingRefusals() async throws {
        let app = OneTenantRouting(queueLimit: 1)
        try await ProxyHarness.run(routing: app.routing) { proxy in
            for (code, status) in [(ControlError.Code.startFailed, 502), (.startTimeout, 504), (.unknownTenant, 404)] {
                let waiting = try RawHTTPClient(port: proxy.port)
                try waiting.send(RawHTTPClient.get("/"))
                #expect(await eventually { app.activations.count == 1 })
                // The queue holds one: the next request is refused at once, the first still waits.
                let full = try RawHTTPClient(port: proxy.port).exchange(RawHTTPClient.get("/"))
                #expect(full.status == 503)
                #expect(full.header("retry-after") == "1")
                #expect(full.text == "too many requests waiting for tenant app (queue_limit 1)\n")
                app.refuse(code, "the reason from clusterd")
                let refused = try waiting.readResponse()
                #expect(refused.status == status, "\(code)")
                #expect(refused.text == "tenant app: the reason from clusterd\n")
                #expect(refused.header("content-type") == "text/plain; charset=utf-8")
                app.forgetActivations()
            }
        }
    }

    @Test("refusals: 404 for an unknown host, 503 with Retry-After; the connection stays usable")
    func refusals() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting([
            "app.test": .init(ports: [backend.port]),
            "full.test": .init(
                ports: [],
                refusal: RouterRefusal(status: .serviceUnavailable, reason: "queue full", retryAfterSeconds: 7)
            ),
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let unknown = try client.exchange(RawHTTPClient.get("/", host: "nobody.test"))
            #expect(unknown.status == 404)
            #expect(unknown.text == "unknown host nobody.test\n")
            #expect(unknown.header("content-type") == "text/plain; charset=utf-8")
            let full = try client.exchange(RawHTTPClient.get("/", host: "full.test"))
            #expect(full.status == 503)
            #expect(full.header("retry-after") == "7")
            #expect(full.text == "queue full\n")
            // A refused request with a small body: the body is read and dropped, the connection kept.
            let post = try client.exchange(
                "POST /x HTTP/1.1\r\nHost: full.test\r\nContent-Length: 5\r\n\r\nhello"
            )
            #expect(post.status == 503)
            #expect(post.header("connection") == nil)
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
        }
        await backend.stop()
        #expect(backend.requests == 1)
        #expect(routing.finishedExactlyOnce)
    }

    static let smuggling: [(String, String)] = [
        ("Content-Length and Transfer-Encoding", "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n"),
        ("Transfer-Encoding and Content-Length", "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n"),
        ("two differing Content-Length", "Content-Length: 4\r\nContent-Length: 5\r\n"),
        ("a Content-Length list that differs", "Content-Length: 4, 5\r\n"),
        ("a signed Content-Length", "Content-Length: +4\r\n"),
        ("a non-numeric Content-Length", "Content-Length: four\r\n"),
        ("Transfer-Encoding gzip", "Transfer-Encoding: gzip\r\n"),
        ("Transfer-Encoding gzip, chunked", "Transfer-Encoding: gzip, chunked\r\n"),
        ("Transfer-Encoding chunked twice", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
        ("Transfer-Encoding xchunked", "Transfer-Encoding: xchunked\r\n"),
        ("a space before the colon", "Transfer-Encoding : chunked\r\n"),
        ("a control byte in a header value", "X-Bad: a\u{01}b\r\n"),
        ("a header name with a space", "Bad Name: x\r\n"),
        ("an obs-fold continuation line", "X-Folded: a\r\n  b\r\n"),
        ("two Host headers", "Host: other.test\r\n"),
    ]

    @Test("request smuggling and malformed heads get 400 and never reach a worker", arguments: Self.smuggling)
    func smugglingRejected(_ name: String, _ headers: String) async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: app.test\r\n\(headers)\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 400, "\(name): \(response)")
            #expect(response.header("connection") == "close")
            #expect(client.waitForClose(seconds: 5))
        }
        await backend.stop()
        #expect(backend.requests == 0)
        #expect(routing.snapshot.forwarded == 0)
    }

    @Test("missing Host on HTTP/1.1 and HTTP/1.0 with Transfer-Encoding get 400")
    func hostAndVersion() async throws {
        let routing = StaticRouting(port: 1)
        try await ProxyHarness.run(routing: routing) { proxy in
            for request in [
                "GET / HTTP/1.1\r\n\r\n",
                "POST / HTTP/1.0\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                "GET / HTTP/1.1\r\nHost: bad host\r\n\r\n",
            ] {
                let client = try RawHTTPClient(port: proxy.port)
                let response = try client.exchange(request)
                #expect(response.status == 400, "\(request.debugDescription): \(response)")
            }
        }
        #expect(routing.snapshot.routed == 0)
    }

    @Test("a request head over the limit gets 431 (one large header, many headers, a long URL)")
    func headerTooLarge() async throws {
        let routing = StaticRouting(port: 1)
        try await ProxyHarness.run(routing: routing) { proxy in
            let big = String(repeating: "a", count: 20 * 1024)
            let many = (0..<400).map { "X-Header-\($0): \(String(repeating: "v", count: 40))\r\n" }.joined()
            for request in [
                RawHTTPClient.get("/", extraHeaders: "X-Big: \(big)\r\n"),
                RawHTTPClient.get("/", extraHeaders: many),
                RawHTTPClient.get("/\(big)"),
            ] {
                let client = try RawHTTPClient(port: proxy.port)
                try? client.send(request)
                let response = try client.readResponse()
                #expect(response.status == 431)
                #expect(client.waitForClose(seconds: 5))
            }
            // Just under the limit still works (refused by the routing double, but read and routed).
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(
                RawHTTPClient.get(
                    "/",
                    host: "x.test",
                    extraHeaders: "X-Fine: \(String(repeating: "b", count: 15_000))\r\n"
                )
            )
            #expect(response.status == 404)
        }
    }

    @Test("a Content-Length over the body limit gets 413 at once, without the body being sent")
    func bodyTooLarge() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        var configuration = ProxyConfiguration()
        configuration.maxBodyBytes = 1000
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5000\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 413)
            #expect(client.waitForClose(seconds: 5))

            // Chunked: cut off when the limit is crossed (no response had started).
            let chunked = try RawHTTPClient(port: proxy.port)
            try chunked.send("POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n")
            try chunked.send("258\r\n\(String(repeating: "x", count: 600))\r\n")
            try chunked.send("258\r\n\(String(repeating: "y", count: 600))\r\n")
            let chunkedResponse = try chunked.readResponse()
            #expect(chunkedResponse.status == 413)
            #expect(chunked.waitForClose(seconds: 5))
        }
        await backend.stop()
        #expect(backend.requests <= 1)
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a slowloris client gets 408 and is closed while another client is served")
    func slowloris() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        var configuration = ProxyConfiguration()
        configuration.requestHeadTimeout = .seconds(1)
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let slow = try RawHTTPClient(port: proxy.port)
            let fast = try RawHTTPClient(port: proxy.port)
            let trickle = Array(
                RawHTTPClient.get("/slow", extraHeaders: "X-Padding: aaaaaaaaaaaaaaaaaaaaaaaa\r\n").utf8
            )
            var served = 0
            var sent = 0
            let start = ContinuousClock.now
            // One byte every 50 ms for 0.8 s (the head never completes), while the other client is served: every
            // one of its requests meanwhile (how many fit in 0.8 s depends on the machine's load, so none is
            // counted on).
            while ContinuousClock.now - start < .milliseconds(800), sent < trickle.count - 2 {
                try slow.send([trickle[sent]])
                sent += 1
                if try fast.exchange(RawHTTPClient.get("/fast")).status == 200 { served += 1 }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(sent >= 1 && served == sent, "\(served) of \(sent) served")
            let response = try slow.readResponse()
            #expect(response.status == 408)
            #expect(slow.waitForClose(seconds: 5))
            #expect(try fast.exchange(RawHTTPClient.get("/fast")).status == 200)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a stalled request body gets 408; an idle keep-alive connection is closed")
    func bodyAndIdleTimeouts() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        var configuration = ProxyConfiguration()
        configuration.bodyReadTimeout = .milliseconds(500)
        configuration.keepAliveTimeout = .milliseconds(500)
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let stalled = try RawHTTPClient(port: proxy.port)
            try stalled.send("POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 10\r\n\r\nabc")
            let response = try stalled.readResponse()
            #expect(response.status == 408)
            #expect(stalled.waitForClose(seconds: 5))

            let idle = try RawHTTPClient(port: proxy.port)
            #expect(try idle.exchange(RawHTTPClient.get("/")).status == 200)
            let started = ContinuousClock.now
            #expect(idle.waitForClose(seconds: 5))
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("beyond the connection limit a new connection gets 503 and is closed")
    func connectionLimit() async throws {
        let routing = StaticRouting(port: 1)
        var configuration = ProxyConfiguration()
        configuration.maxClientConnections = 2
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let first = try RawHTTPClient(port: proxy.port)
            let second = try RawHTTPClient(port: proxy.port)
            #expect(await eventually { proxy.server.openConnections == 2 })
            let third = try RawHTTPClient(port: proxy.port)
            let response = try third.readResponse()
            #expect(response.status == 503)
            #expect(third.waitForClose(seconds: 5))
            #expect(try first.exchange(RawHTTPClient.get("/", host: "x.test")).status == 404)
            _ = second
        }
    }

    @Test("beyond the connection limit, a client that sends its request at once still reads the 503, not a reset")
    func connectionLimitWithRequestSent() async throws {
        let routing = StaticRouting(port: 1)
        var configuration = ProxyConfiguration()
        configuration.maxClientConnections = 1
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let holder = try RawHTTPClient(port: proxy.port)
            #expect(await eventually { proxy.server.openConnections == 1 })
            let outcomes = try Self.postLargeBodies(port: proxy.port, host: "app.test", times: 40)
            #expect(outcomes == ["exit 0 http 503": 40])
            _ = holder
        }
    }

    @Test("a refusal while the client still sends a large body: it reads the 404, not a reset")
    func refusalWithLargeBodySent() async throws {
        let routing = StaticRouting(port: 1)
        try await ProxyHarness.run(routing: routing) { proxy in
            let outcomes = try Self.postLargeBodies(port: proxy.port, host: "nobody.test", times: 40)
            #expect(outcomes == ["exit 0 http 404": 40])
        }
    }

    /// POSTs a 4 MiB body (larger than the socket buffers, so the client is still sending when an early answer
    /// is written) with curl `times` times; counts the outcomes as "exit N http STATUS".
    static func postLargeBodies(port: Int, host: String, times: Int) throws -> [String: Int] {
        let body = NSTemporaryDirectory() + "large-body-\(getpid())-\(port)"
        #expect(FileManager.default.createFile(atPath: body, contents: Data(repeating: 120, count: 4 << 20)))
        defer { try? FileManager.default.removeItem(atPath: body) }
        var outcomes: [String: Int] = [:]
        for _ in 0..<times {
            let (status, output) = try Curl.run([
                "-o", "/dev/null", "-w", "%{http_code}", "-H", "Expect:", "-H", "Host: \(host)",
                "--data-binary", "@" + body, "http://127.0.0.1:\(port)/",
            ])
            outcomes["exit \(status) http \(output)", default: 0] += 1
        }
        return outcomes
    }
}
