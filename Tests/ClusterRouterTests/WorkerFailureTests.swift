import ClusterControl
import ClusterCore
import ClusterRouter
import Foundation
import Synchronization
import Testing

/// Workers that fail: reset, close, vanish or never answer; clients that leave. `finished` stays exactly once.
@Suite("Worker failures", .serialized, .timeLimit(.minutes(1)))
struct WorkerFailureTests {
    @Test(
        "a worker that resets or closes before responding gives 502, and the next request succeeds",
        arguments: [ScriptedBackend.Behaviour.resetAfterHead, .closeAfterHead]
    )
    func failsBeforeResponse(_ behaviour: ScriptedBackend.Behaviour) async throws {
        let bad = try await ScriptedBackend(behaviour)
        let good = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting([
            "bad.test": .init(ports: [bad.port]), "app.test": .init(ports: [good.port]),
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let failed = try client.exchange(RawHTTPClient.get("/", host: "bad.test"))
            #expect(failed.status == 502)
            #expect(failed.text == "worker closed the connection before responding\n")
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
            // With a body in flight the answer is the same; the connection then closes or stays usable.
            let post = try RawHTTPClient(port: proxy.port)
            let postFailed = try post.exchange(
                "POST /x HTTP/1.1\r\nHost: bad.test\r\nContent-Length: 5\r\n\r\nhello"
            )
            #expect(postFailed.status == 502)
        }
        await bad.stop()
        await good.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a demo-worker killed mid-request gives 502; a new worker then serves")
    func workerKilledMidRequest() async throws {
        let first = try DemoWorkerProcess()
        let second = try DemoWorkerProcess()
        defer {
            first.stop()
            second.stop()
        }
        let routing = StaticRouting([
            "app.test": .init(ports: [first.port]), "next.test": .init(ports: [second.port]),
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(RawHTTPClient.get("/sleep?ms=5000"))
            try await Task.sleep(for: .milliseconds(200))
            first.stop()
            let response = try client.readResponse()
            #expect(response.status == 502)
            #expect(try client.exchange(RawHTTPClient.get("/whoami", host: "next.test")).status == 200)
        }
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a worker that resets mid-response: the client connection is closed, not left hanging")
    func resetMidResponse() async throws {
        let backend = try await ScriptedBackend(.resetMidResponse)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(RawHTTPClient.get("/"))
            #expect(client.waitForClose(seconds: 5))
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("an unreachable worker is reported and the request routed to the next; every stale worker is tried")
    func unreachableRerouted() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let closed = try (0..<8).map { _ in try FreePort.take() }
        let (first, stale, gone) = (closed[0], Array(closed[1...4]), Array(closed[5...7]))
        // "stale.test": the four workers of a scale-down that stopped listening before the router heard of it.
        let routing = StaticRouting([
            "app.test": .init(ports: [first, worker.port]),
            "stale.test": .init(ports: stale + [worker.port]),
            "gone.test": .init(ports: gone),
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(RawHTTPClient.get("/whoami"))
            #expect(response.status == 200)
            #expect(routing.snapshot.unreachable.map(\.port) == [first])

            let afterStale = try client.exchange(RawHTTPClient.get("/", host: "stale.test"))
            #expect(afterStale.status == 200, "past four unreachable workers, the fifth answers")
            #expect(routing.snapshot.unreachable.map(\.port) == [first] + stale)

            // No worker left: the routing's own refusal, after every one was tried.
            let none = try client.exchange(RawHTTPClient.get("/", host: "gone.test"))
            #expect(none.status == 502)
            #expect(none.text == "no live worker\n")
            #expect(routing.snapshot.unreachable.map(\.port) == [first] + stale + gone)
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)
        }
        #expect(routing.finishedExactlyOnce)
        #expect(routing.snapshot.forwarded == 2 + 5 + 3 + 1)
    }

    @Test("a worker still offered after it was unreachable is tried again twice, then 502")
    func unreachableRepeated() async throws {
        let closed = try FreePort.take()
        let routing = StaticRouting(["app.test": .init(ports: [closed], workerPerPort: true)])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(RawHTTPClient.get("/"))
            #expect(response.status == 502)
            #expect(response.text == "worker unreachable\n")
            #expect(routing.snapshot.unreachable.map(\.port) == [closed, closed, closed])
            #expect(routing.snapshot.inFlight == 0)
        }
        #expect(routing.snapshot.forwarded == 3)
        #expect(routing.snapshot.finished.count == 3)
    }

    @Test("at most maxRouteAttempts connects for one request, however many workers are unreachable")
    func attemptsBounded() async throws {
        let closed = try (0..<20).map { _ in try FreePort.take() }
        let routing = StaticRouting(["app.test": .init(ports: closed)])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let response = try client.exchange(RawHTTPClient.get("/"))
            #expect(response.status == 502)
            #expect(response.text == "worker unreachable\n")
        }
        #expect(routing.snapshot.unreachable.map(\.port) == Array(closed.prefix(ProxyConfiguration().maxRouteAttempts)))
        #expect(routing.finishedExactlyOnce)
    }

    @Test("the router's routing: past a scale-down's stale workers, the request waits for their drain, then one")
    func staleWorkersThenActivation() async throws {
        let worker = try DemoWorkerProcess()
        defer { worker.stop() }
        let stale = try (0..<3).map { _ in try FreePort.take() }
        // clusterd's view a moment ago: three ready workers, which have since stopped listening.
        let app = OneTenantRouting(readyPorts: stale)
        try await ProxyHarness.run(routing: app.routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(RawHTTPClient.get("/whoami"))
            // Every stale worker tried and held: the request waits, and clusterd, which would list them again,
            // is not asked until it reports them draining.
            #expect(await eventually { app.routing.waitingCount(tenant: "app") == 1 })
            #expect(app.activations == [])
            for serial in 1...3 {
                var draining = ControlEvent(
                    event: .workerDraining,
                    tenant: "app",
                    worker: WorkerID(tenant: "app", serial: serial)
                )
                draining.reason = "scaled down"
                app.routing.apply(draining)
            }
            #expect(await eventually { app.activations == ["app"] })
            app.answer(worker: "app#4", port: worker.port)
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(try client.exchange(RawHTTPClient.get("/whoami")).status == 200)
        }
        #expect(app.activations == ["app"])
    }

    @Test("the router's routing: a worker clusterd keeps listing that refuses is tried after each hold, then 502")
    func unreachableHoldEnds() async throws {
        let app = OneTenantRouting(readyPorts: [try FreePort.take()])
        // The router's own ticker, which ends holds (the harness runs no Router).
        let stop = Atomic<Bool>(false)
        let ticker = Thread {
            while !stop.load(ordering: .relaxed) {
                app.routing.timeElapsed()
                usleep(20_000)
            }
        }
        ticker.start()
        defer { stop.store(true, ordering: .relaxed) }
        try await ProxyHarness.run(routing: app.routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            // Before the first refusal: each hold ends at least `unreachableHold` after it began.
            let sent = ContinuousClock.now
            let response = try client.exchange(RawHTTPClient.get("/whoami"))
            #expect(response.status == 502)
            #expect(response.text == "worker unreachable\n")
            let holds = ProxyConfiguration().maxRouteRetries
            #expect(
                ContinuousClock.now - sent >= TenantDispatch.unreachableHold * holds,
                "tried again only after each hold"
            )
        }
        // clusterd would only have answered with the same worker.
        #expect(app.activations == [])
    }

    @Test("a pooled connection the worker closed is replaced by a fresh one, once, without an error")
    func stalePooledConnection() async throws {
        let backend = try await ScriptedBackend(.dropSecondRequest)
        let routing = StaticRouting(port: backend.port)
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            #expect(try client.exchange(RawHTTPClient.get("/1")).status == 200)
            #expect(try client.exchange(RawHTTPClient.get("/2")).status == 200)
            let post = try client.exchange("POST /3 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello")
            #expect(post.status == 200)
            #expect(post.text.contains("body-bytes: 5"))
            #expect(backend.connections == 3)
        }
        await backend.stop()
        #expect(routing.finishedExactlyOnce)
    }

    /// A POST the worker may have acted on is not sent to another worker.
    @Test(
        "a worker dies with a request on a kept-alive connection: a GET goes on, a POST gets 502",
        arguments: ["GET", "POST"]
    )
    func workerDiesWithReusedConnection(method: String) async throws {
        let dying = try await ScriptedBackend(.dieOnSecondRequest)
        let next = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting(["app.test": .init(ports: [dying.port, next.port])])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            #expect(try client.exchange(RawHTTPClient.get("/1")).text.contains("GET /1"))
            let response = try client.exchange(
                "\(method) /2 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 5\r\n\r\nhello"
            )
            if method == "GET" {
                #expect(response.status == 200)
                #expect(response.text.contains("GET /2"), "the next worker answered")
            } else {
                #expect(response.status == 502)
                #expect(response.text == "worker closed the connection before responding\n")
                #expect(next.requests == 0, "not sent to another worker")
            }
            #expect(dying.requests == 2)
            #expect(routing.snapshot.unreachable.map(\.port) == [dying.port])
        }
        await dying.stop()
        await next.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test("a client that leaves while its request waits for routing cancels it")
    func clientLeavesWhileRouting() async throws {
        let routing = StaticRouting(["app.test": .init(ports: [], hold: true)])
        try await ProxyHarness.run(routing: routing) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            try client.send(RawHTTPClient.get("/"))
            #expect(await eventually { routing.snapshot.routed == 1 })
            _ = consume client
            #expect(await eventually { routing.snapshot.cancelled.count == 1 })
        }
        routing.releaseHeld()
    }

    @Test("a worker handed over after the client left is finished at once; so is one that never answers")
    func clientLeavesAfterRouting() async throws {
        let silent = try await ScriptedBackend(.neverAnswer)
        let routing = StaticRouting([
            "slow.test": .init(ports: [silent.port], delay: .milliseconds(300)),
            "app.test": .init(ports: [silent.port]),
        ])
        try await ProxyHarness.run(routing: routing) { proxy in
            do {
                let client = try RawHTTPClient(port: proxy.port)
                try client.send(RawHTTPClient.get("/", host: "slow.test"))
                #expect(await eventually { routing.snapshot.routed == 1 })
            }
            #expect(await eventually { routing.snapshot.finished.count == 1 })
            do {
                let client = try RawHTTPClient(port: proxy.port)
                try client.send("POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                #expect(await eventually { silent.requests == 1 })
            }
            #expect(await eventually { routing.snapshot.finished.count == 2 })
        }
        await silent.stop()
        #expect(routing.finishedExactlyOnce)
    }

    @Test(
        "a worker that never begins its response: 504 after the response timeout, naming the worker; a slow body does not count"
    )
    func responseTimeout() async throws {
        let silent = try await ScriptedBackend(.neverAnswer)
        let good = try await ScriptedBackend(.echoHeaders)
        let routing = StaticRouting([
            "silent.test": .init(ports: [silent.port]), "app.test": .init(ports: [good.port]),
        ])
        var configuration = ProxyConfiguration()
        configuration.upstreamResponseTimeout = .milliseconds(500)
        try await ProxyHarness.run(routing: routing, configuration: configuration) { proxy in
            let client = try RawHTTPClient(port: proxy.port)
            let started = ContinuousClock.now
            let timedOut = try client.exchange(RawHTTPClient.get("/", host: "silent.test"))
            #expect(timedOut.status == 504)
            #expect(timedOut.text.hasPrefix("worker "), "\(timedOut.text)")
            #expect(timedOut.text.hasSuffix("did not answer within 500ms\n"), "\(timedOut.text)")
            #expect(ContinuousClock.now - started >= .milliseconds(450))
            // The client's connection stays usable (the request had ended).
            #expect(try client.exchange(RawHTTPClient.get("/")).status == 200)

            // A body sent slowly (longer in total than the timeout) is not the worker's delay.
            let uploader = try RawHTTPClient(port: proxy.port)
            try uploader.send("POST /x HTTP/1.1\r\nHost: app.test\r\nContent-Length: 4\r\n\r\n")
            for byte in ["a", "b", "c", "d"] {
                try await Task.sleep(for: .milliseconds(300))
                try uploader.send(byte)
            }
            #expect(try uploader.readResponse().status == 200)
        }
        await silent.stop()
        await good.stop()
        #expect(routing.finishedExactlyOnce)
    }
}
