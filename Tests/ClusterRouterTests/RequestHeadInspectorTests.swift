import NIOHTTP1
import Testing

@testable import ClusterRouter

/// The pure checks on request heads: framing (smuggling), Host, cookies; and the head rewriting both ways.
@Suite("Request heads")
struct RequestHeadInspectorTests {
    private func head(_ headers: [(String, String)], version: HTTPVersion = .http1_1) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: .POST, uri: "/", headers: HTTPHeaders(headers))
    }

    static let rejected: [(String, [(String, String)], UInt)] = [
        ("CL + TE", [("Host", "a"), ("Content-Length", "3"), ("Transfer-Encoding", "chunked")], 400),
        ("differing CLs", [("Host", "a"), ("Content-Length", "3"), ("Content-Length", "4")], 400),
        ("CL list", [("Host", "a"), ("Content-Length", "3, 4")], 400),
        ("CL sign", [("Host", "a"), ("Content-Length", "-3")], 400),
        ("TE gzip", [("Host", "a"), ("Transfer-Encoding", "gzip")], 400),
        ("TE gzip, chunked", [("Host", "a"), ("Transfer-Encoding", "gzip, chunked")], 400),
        ("TE twice", [("Host", "a"), ("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")], 400),
        ("no Host", [], 400),
        ("two Hosts", [("Host", "a"), ("Host", "b")], 400),
        ("bad Host", [("Host", "a b")], 400),
        ("bad port", [("Host", "a:8o")], 400),
        ("CL over limit", [("Host", "a"), ("Content-Length", "1001")], 413),
        ("odd Expect", [("Host", "a"), ("Expect", "magic")], 417),
    ]

    @Test("rejected heads", arguments: Self.rejected)
    func rejectedHeads(_ name: String, _ headers: [(String, String)], _ status: UInt) {
        let result = RequestHeadInspector.inspect(self.head(headers), maxBodyBytes: 1000)
        guard case .failure(let rejection) = result else {
            Issue.record("\(name) was accepted")
            return
        }
        #expect(rejection.status.code == status, "\(name)")
    }

    @Test("accepted heads: framing, host, cookie, Expect, upgrade")
    func acceptedHeads() throws {
        let inspected = try RequestHeadInspector.inspect(
            self.head([
                ("HOST", "Acme.Example.TEST:8080"), ("content-length", "5, 5"), ("Cookie", "a=1"),
                ("Cookie", "b=2; clusterd_route=\"acme#3\""), ("Expect", "100-Continue"),
            ]),
            maxBodyBytes: 1000
        ).get()
        #expect(inspected.host == "acme.example.test")
        #expect(inspected.framing == .contentLength(5))
        #expect(inspected.routeCookie == "acme#3")
        #expect(inspected.expectsContinue)
        #expect(!inspected.isUpgrade)

        let chunked = try RequestHeadInspector.inspect(
            self.head([("Host", "[::1]:80"), ("Transfer-Encoding", "Chunked")]),
            maxBodyBytes: 10
        ).get()
        #expect(chunked.host == "::1")
        #expect(chunked.framing == .chunked)

        let upgrade = try RequestHeadInspector.inspect(
            self.head([("Host", "a"), ("Connection", "keep-alive, Upgrade"), ("Upgrade", "websocket")]),
            maxBodyBytes: 10
        ).get()
        #expect(upgrade.isUpgrade)
        #expect(upgrade.framing == .none)

        let old = try RequestHeadInspector.inspect(self.head([], version: .http1_0), maxBodyBytes: 10).get()
        #expect(old.host == "")
    }

    @Test("the worker gets hop-by-hop headers removed and X-Forwarded-* set")
    func upstreamHead() throws {
        let original = self.head([
            ("Host", "A.test"), ("Connection", "close, X-Secret"), ("X-Secret", "s"), ("TE", "trailers"),
            ("X-Forwarded-For", "1.1.1.1"), ("x-forwarded-for", "2.2.2.2"), ("Content-Length", "5, 5"),
            ("Expect", "100-continue"), ("Upgrade", "h2c"), ("Accept", "*/*"),
        ])
        let inspected = try RequestHeadInspector.inspect(original, maxBodyBytes: 100).get()
        let rewritten = RequestHeadRewriter.upstreamHead(from: original, inspected: inspected, clientAddress: "9.9.9.9")
        #expect(rewritten.version == .http1_1)
        #expect(rewritten.headers["host"] == ["A.test"])
        #expect(rewritten.headers["accept"] == ["*/*"])
        #expect(rewritten.headers["content-length"] == ["5"])
        #expect(rewritten.headers["x-forwarded-for"] == ["1.1.1.1, 2.2.2.2, 9.9.9.9"])
        #expect(rewritten.headers["x-forwarded-proto"] == ["http"])
        #expect(rewritten.headers["x-forwarded-host"] == ["A.test"])
        for removed in ["connection", "x-secret", "te", "expect", "upgrade"] {
            #expect(!rewritten.headers.contains(name: removed), "\(removed)")
        }
    }

    @Test("the client gets explicit framing, the router's headers, and no hop-by-hop headers")
    func clientResponse() throws {
        let response = HTTPResponseHead(
            version: .http1_1,
            status: .ok,
            headers: HTTPHeaders([("Transfer-Encoding", "chunked"), ("Keep-Alive", "5"), ("X-App", "1")])
        )
        var closeAfter = false
        let forOld = try RequestHeadRewriter.clientResponse(
            from: response,
            requestIsHead: false,
            clientVersion: .http1_0,
            closeAfter: &closeAfter,
            routeCookie: "a#1",
            coldStart: .milliseconds(42)
        ).get()
        #expect(forOld.framing == .untilClose)
        #expect(closeAfter)
        #expect(forOld.head.headers["connection"] == ["close"])
        #expect(!forOld.head.headers.contains(name: "transfer-encoding"))
        #expect(!forOld.head.headers.contains(name: "keep-alive"))
        #expect(forOld.head.headers["x-clusterd-cold-start"] == ["42"])
        #expect(forOld.head.headers["set-cookie"] == ["clusterd_route=a#1; Path=/; HttpOnly; SameSite=Lax"])

        closeAfter = false
        let forHead = try RequestHeadRewriter.clientResponse(
            from: HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Content-Length": "10"]),
            requestIsHead: true,
            clientVersion: .http1_1,
            closeAfter: &closeAfter,
            routeCookie: nil,
            coldStart: nil
        ).get()
        #expect(forHead.framing == .none)
        #expect(forHead.head.headers["content-length"] == ["10"])
        #expect(!closeAfter)

        let unsupported = RequestHeadRewriter.clientResponse(
            from: HTTPResponseHead(version: .http1_1, status: .ok, headers: ["Transfer-Encoding": "gzip, chunked"]),
            requestIsHead: false,
            clientVersion: .http1_1,
            closeAfter: &closeAfter,
            routeCookie: nil,
            coldStart: nil
        )
        guard case .failure = unsupported else {
            Issue.record("gzip, chunked was accepted")
            return
        }
    }
}
