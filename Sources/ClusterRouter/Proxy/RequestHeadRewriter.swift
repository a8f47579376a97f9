import NIOHTTP1

/// How the response body travels to the client.
enum ResponseBodyFraming: Equatable {
    /// No body follows the head (HEAD, 1xx, 204, 304).
    case none
    case contentLength
    case chunked
    /// Until the connection closes (an HTTP/1.0 client and a body of unknown length).
    case untilClose
}

/// Rewrites heads as they cross the proxy: hop-by-hop headers out, `X-Forwarded-*` in, framing made explicit.
///
/// The encoders on both sides run with `automaticallySetFramingHeaders` off, so the framing headers written here
/// are exactly the framing used on the wire.
enum RequestHeadRewriter {
    /// The head sent to the worker.
    ///
    /// Removes `Connection` and the headers it names, `Keep-Alive`, `Proxy-Connection`, `TE`, `Trailer`, `Upgrade`
    /// (kept for an upgrade, with `Connection: upgrade`), `Expect: 100-continue` (the proxy answers it); appends the
    /// client to `X-Forwarded-For`; sets `X-Forwarded-Proto: http` and `X-Forwarded-Host` to the original `Host`.
    /// Always HTTP/1.1, so the connection to the worker is kept alive.
    static func upstreamHead(
        from head: HTTPRequestHead,
        inspected: InspectedRequest,
        clientAddress: String
    ) -> HTTPRequestHead {
        let listed = Self.connectionTokens(in: head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 4)
        var forwardedFor: String?
        var originalHost: String?
        var hadContentLength = false
        for (name, value) in head.headers {
            switch HeaderName(name) {
            case .connection, .keepAlive, .proxyConnection, .te, .trailer, .transferEncoding, .xForwardedProto,
                .xForwardedHost, .expect:
                continue
            case .contentLength:
                hadContentLength = true
                continue
            case .upgrade:
                if inspected.isUpgrade { headers.add(name: name, value: value) }
                continue
            case .xForwardedFor:
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            case .host:
                originalHost = value
            case .cookie, .other:
                break
            }
            if let listed, listed.contains(where: { HeaderName.token($0[...], equals: name.lowercased()) }) {
                continue
            }
            headers.add(name: name, value: value)
        }
        switch inspected.framing {
        case .none:
            if hadContentLength { headers.add(name: "content-length", value: "0") }
        case .contentLength(let length):
            headers.add(name: "content-length", value: String(length))
        case .chunked:
            headers.add(name: "transfer-encoding", value: "chunked")
        }
        if inspected.isUpgrade {
            headers.add(name: "connection", value: "upgrade")
        }
        headers.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(clientAddress)" } ?? clientAddress)
        headers.add(name: "x-forwarded-proto", value: "http")
        if let originalHost {
            headers.add(name: "x-forwarded-host", value: originalHost)
        }
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    /// What the client gets from a worker's response head.
    struct ClientResponse {
        var head: HTTPResponseHead
        var framing: ResponseBodyFraming
        /// The worker's connection cannot be reused after this response (it closes, or delimits the body by EOF).
        var upstreamCloses: Bool
    }

    /// Why a worker's response cannot be forwarded.
    struct UnsupportedResponse: Error {
        var reason: String
    }

    /// The response head for the client: hop-by-hop headers removed, framing explicit, `Connection: close` when
    /// `closeAfter`, plus the router's own headers for `target`.
    ///
    /// - Parameters:
    ///   - requestIsHead: the request was `HEAD`, so no body follows whatever the headers say.
    ///   - clientVersion: an HTTP/1.0 client cannot take chunked bodies: those are sent until close instead.
    ///   - closeAfter: the client connection closes after this response (updated when framing forces it).
    static func clientResponse(
        from response: HTTPResponseHead,
        requestIsHead: Bool,
        clientVersion: HTTPVersion,
        closeAfter: inout Bool,
        routeCookie: String?,
        coldStart: Duration?
    ) -> Result<ClientResponse, UnsupportedResponse> {
        let isUpgrade = response.status == .switchingProtocols
        let listed = Self.connectionTokens(in: response.headers)
        let code = response.status.code
        let noBody = requestIsHead || code == 204 || code == 304 || (code >= 100 && code < 200)
        var headers = HTTPHeaders()
        headers.reserveCapacity(response.headers.count + 3)
        var contentLength: String?
        var chunked = false
        for (name, value) in response.headers {
            switch HeaderName(name) {
            case .connection, .keepAlive, .proxyConnection, .te, .trailer:
                continue
            case .upgrade:
                if isUpgrade { headers.add(name: name, value: value) }
                continue
            case .transferEncoding:
                guard HeaderName.token(value[...], equals: "chunked"), !chunked else {
                    return .failure(.init(reason: "worker sent an unsupported Transfer-Encoding: \(value)"))
                }
                chunked = true
                continue
            case .contentLength:
                if let contentLength, contentLength != value {
                    return .failure(.init(reason: "worker sent conflicting Content-Length values"))
                }
                contentLength = value
                continue
            default:
                break
            }
            if let listed, listed.contains(where: { HeaderName.token($0[...], equals: name.lowercased()) }) {
                continue
            }
            headers.add(name: name, value: value)
        }

        let framing: ResponseBodyFraming
        var upstreamCloses = !response.isKeepAlive
        if isUpgrade {
            framing = .none
        } else if noBody {
            if let contentLength, code != 204, code >= 200 {
                headers.add(name: "content-length", value: contentLength)
            }
            framing = .none
        } else if let contentLength, !chunked {
            headers.add(name: "content-length", value: contentLength)
            framing = .contentLength
        } else {
            if !chunked { upstreamCloses = true }  // delimited by the worker closing the connection
            if clientVersion.major == 1 && clientVersion.minor >= 1 {
                headers.add(name: "transfer-encoding", value: "chunked")
                framing = .chunked
            } else {
                closeAfter = true
                framing = .untilClose
            }
        }

        if isUpgrade {
            headers.add(name: "connection", value: "upgrade")
        } else if closeAfter {
            headers.add(name: "connection", value: "close")
        } else if clientVersion.major == 1 && clientVersion.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        if let coldStart {
            headers.add(name: "x-clusterd-cold-start", value: String(Self.milliseconds(coldStart)))
        }
        if let routeCookie {
            headers.add(
                name: "set-cookie",
                value: "\(RequestHeadInspector.routeCookieName)=\(routeCookie); Path=/; HttpOnly; SameSite=Lax"
            )
        }
        return .success(
            ClientResponse(
                head: HTTPResponseHead(version: .http1_1, status: response.status, headers: headers),
                framing: framing,
                upstreamCloses: upstreamCloses
            )
        )
    }

    /// Whole milliseconds in `duration`, never negative.
    static func milliseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        return max(0, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }

    /// Header names listed in `Connection` other than the usual `close`, `keep-alive` and `upgrade`; nil when none
    /// (the common case, which then costs no allocation).
    private static func connectionTokens(in headers: HTTPHeaders) -> [String]? {
        var result: [String]?
        for (name, value) in headers where HeaderName(name) == .connection {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingSpaces()
                if trimmed.isEmpty || HeaderName.token(trimmed, equals: "close")
                    || HeaderName.token(trimmed, equals: "keep-alive") || HeaderName.token(trimmed, equals: "upgrade")
                {
                    continue
                }
                result = (result ?? []) + [trimmed.lowercased()]
            }
        }
        return result
    }
}
