import ClusterCore
import ClusterRouter
import Foundation
import Testing

/// Requests and responses through the proxy to real backends: bodies both ways, framing, keep-alive reuse, the
/// headers the proxy adds and removes.
@Suite("Forwarding", .serialized, .timeLimit(.minutes(1)))
struct ForwardingTests {
    @Test("GET through the proxy to demo-worker, keep-alive on both sides")
    func getThroughProxy() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let routing = StaticRouting(port: worker.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            for _ in 0..<3 {
                let response = try client.exchange(RawHTTPClient.get("/whoami"))
                #expect(response.status == 200)
                #expect(response.text.contains("\"worker\":\"app#1\""))
                #expect(response.header("connection") == nil)
            }
            try client.send("HEAD / HTTP/1.1\r\nHost: app.test\r\n\r\n")
            let headResponse = try client.readResponse(forHead: true)
            #expect(headResponse.status == 200)
            #expect(headResponse.header("content-length") != nil)
            let after = try client.exchange(RawHTTPClient.get("/"))
            #expect(after.status == 200)
        }
        #expect(routing.finishedExactlyOnce)
        #expect(routing.snapshot.forwarded == 5)
    }

    @Test("POST bodies of 0 B and 1 KiB are echoed back", arguments: [0, 1024])
    func postEcho(size: Int) async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let routing = StaticRouting(port: worker.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let body = String((0..<size).map { _ in Character(UnicodeScalar(UInt8.random(in: 97...122))) })
            for _ in 0..<2 {
                let response = try client.exchange(
                    "POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: \(size)\r\n\r\n\(body)"
                )
                #expect(response.status == 200)
                #expect(response.text == body)
            }
        }
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a 5 MiB POST streams through and back (curl, with its Expect: 100-continue)")
    func largePost() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let routing = StaticRouting(port: worker.port)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("in")
        let output = directory.appendingPathComponent("out")
        var bytes = [UInt8](repeating: 0, count: 5 * 1024 * 1024)
        for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: index &* 7 &+ index >> 12) }
        let expected = Data(bytes)
        try expected.write(to: input)
        try await ProxyHarness.run(routing: routing) { proxy in
            for chunked in [false, true] {
                var arguments = ["-H", "Host: app.test", "--data-binary", "@\(input.path)", "-o", output.path]
                if chunked { arguments += ["-H", "Transfer-Encoding: chunked"] }
                arguments += ["-w", "%{http_code}", "http://127.0.0.1:\(proxy.port)/echo"]
                let result = try Curl.run(arguments)
                #expect(result.status == 0)
                #expect(result.output == "200")
                #expect(try Data(contentsOf: output) == expected)
            }
        }
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a chunked request body is forwarded chunked and echoed back chunked")
    func chunkedRequest() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let routing = StaticRouting(port: worker.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send("POST /echo HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n")
            try client.send("5\r\nhello\r\n")
            try client.send("7\r\n, world\r\n0\r\n\r\n")
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.text == "hello, world")
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
        }
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a chunked response reaches an HTTP/1.1 client chunked and an HTTP/1.0 client until close")
    func chunkedResponse() async throws {
        let backend = try await ScriptedBackend(.chunkedEcho)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(RawHTTPClient.get("/chunks"))
            #expect(response.status == 200)
            #expect(response.header("transfer-encoding") == "chunked")
            #expect(response.text.hasPrefix("GET /chunks HTTP/1.1\n"))
            #expect(response.text.hasSuffix("body-bytes: 0\n"))

            let old = try RawHTTPClient(port: proxy.port)
            let oldResponse = try old.exchange("GET /old HTTP/1.0\r\nHost: app.test\r\n\r\n")
            #expect(oldResponse.status == 200)
            #expect(oldResponse.header("transfer-encoding") == nil)
            #expect(oldResponse.header("connection") == "close")
            #expect(oldResponse.text.hasSuffix("body-bytes: 0\n"))
            #expect(old.peerClosed)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("keep-alive connections to the worker are reused")
    func upstreamReuse() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            for index in 0..<10 {
                #expect(try client.exchange(RawHTTPClient.get("/\(index)")).status == 200)
            }
            #expect(backend.connections == 1)
            // New client connections land on either of the two event loops, each with its own pool.
            for index in 0..<10 {
                let other = try RawHTTPClient(port: proxy.port)
                #expect(try other.exchange(RawHTTPClient.get("/other/\(index)")).status == 200)
            }
            #expect(backend.connections <= 2)
            #expect(backend.requests == 20)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("hop-by-hop headers are removed both ways; X-Forwarded-For/-Proto/-Host are set; Host is kept")
    func forwardedHeaders() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(
                "GET /h HTTP/1.1\r\nHost: App.Test:8080\r\nConnection: keep-alive, X-Private\r\nX-Private: 1\r\n"
                    + "Keep-Alive: 300\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nTrailer: X-T\r\n"
                    + "Upgrade: h2c\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Proto: https\r\n"
                    + "X-Forwarded-Host: spoofed\r\nX-Kept: yes\r\n\r\n"
            )
            #expect(response.status == 200)
            let lines = Set(response.text.lowercased().split(separator: "\n").map(String.init))
            #expect(lines.contains("host: app.test:8080"))
            #expect(lines.contains("x-kept: yes"))
            #expect(lines.contains("x-forwarded-for: 10.0.0.1, 127.0.0.1"))
            #expect(lines.contains("x-forwarded-proto: http"))
            #expect(lines.contains("x-forwarded-host: app.test:8080"))
            for removed in ["connection", "x-private", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"] {
                #expect(!lines.contains { $0.hasPrefix("\(removed):") }, "\(removed) reached the worker")
            }
            #expect(response.header("x-backend-private") == nil)
            #expect(response.header("keep-alive") == nil)
            #expect(response.header("connection") == nil)
            #expect(routing.snapshot.queries.last?.host == "app.test")
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("route cookie is read from any Cookie header; Set-Cookie and X-Clusterd-Cold-Start are added")
    func cookieAndColdStart() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting([
            "app.test": .init(ports: [backend.port], setRouteCookie: "app#2", coldStart: .milliseconds(1234))
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(
                RawHTTPClient.get("/", extraHeaders: "Cookie: a=1\r\nCookie: b=2; clusterd_route=app#7; c=3\r\n")
            )
            #expect(response.status == 200)
            #expect(response.header("x-clusterd-cold-start") == "1234")
            #expect(response.header("set-cookie") == "clusterd_route=app#2; Path=/; HttpOnly; SameSite=Lax")
            #expect(routing.snapshot.queries.last?.routeCookie == "app#7")
            _ = try client.exchange(RawHTTPClient.get("/"))
            #expect(routing.snapshot.queries.last?.routeCookie == nil)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("pipelined requests are answered in order, one at a time")
    func pipelining() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(
                RawHTTPClient.get("/1") + "POST /2 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 3\r\n\r\nabc"
                    + RawHTTPClient.get("/3") + "GET /4 HTTP/1.1\r\nHost: nobody.test\r\n\r\n" + RawHTTPClient.get("/5")
            )
            for (index, status) in [200, 200, 200, 404, 200].enumerated() {
                let response = try client.readResponse()
                #expect(response.status == status)
                if status == 200 {
                    #expect(response.text.contains(" /\(index + 1) HTTP/1.1\n"))
                }
            }
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
        #expect(routing.snapshot.forwarded == 4)
    }

    @Test("idle pooled connections to a worker are closed after the idle timeout")
    func upstreamIdleTimeout() async throws {
        let backend = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(port: backend.port)
        var configuration = ProxyConfiguration()
        configuration.upstreamIdleTimeout = .milliseconds(200)
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
            #expect(backend.closedConnections == 0)
            #expect(await eventually(seconds: 3) { backend.closedConnections == 1 })
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
            #expect(backend.connections == 2)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }
}
