import NIOHTTP1

/// How a request's body is delimited on the wire.
enum RequestBodyFraming: Equatable {
    /// No body.
    case none
    /// Exactly this many bytes.
    case contentLength(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
}

/// What the proxy needs from a request head it accepts.
struct InspectedRequest: Equatable {
    /// Lower-cased, without the port; an IPv6 literal without its brackets.
    var host: String
    /// The value of the `clusterd_route` cookie.
    var routeCookie: String?
    var framing: RequestBodyFraming
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    var expectsContinue: Bool
    /// `Connection: upgrade` with an `Upgrade` header.
    var isUpgrade: Bool
}

/// Why a request is answered by the proxy itself before routing: a status and a one-line reason.
struct RequestRejection: Error, Equatable {
    var status: HTTPResponseStatus
    var reason: String
}

/// Checks a request head for what would make forwarding it unsafe or impossible, and extracts host and cookie.
///
/// Rejects ambiguous framing (request smuggling): both `Content-Length` and `Transfer-Encoding`, several differing
/// `Content-Length` values, a transfer coding other than `chunked`; a missing or malformed `Host` on HTTP/1.1;
/// a `Content-Length` beyond the body limit; `CONNECT`; expectations other than `100-continue`.
enum RequestHeadInspector {
    /// The cookie that pins a session to a worker.
    static let routeCookieName = "clusterd_route"

    static func inspect(_ head: HTTPRequestHead, maxBodyBytes: Int) -> Result<InspectedRequest, RequestRejection> {
        if head.method == .CONNECT {
            return .failure(.init(status: .methodNotAllowed, reason: "CONNECT is not supported by this proxy"))
        }
        var contentLength: Int?
        var sawContentLength = false
        var transferEncoding: [Substring] = []
        var hosts = 0
        var hostValue: String?
        var routeCookie: String?
        var expectsContinue = false
        var hasUpgradeHeader = false
        var connectionUpgrade = false

        for (name, value) in head.headers {
            switch HeaderName(name) {
            case .contentLength:
                for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                    guard let length = Self.parseLength(item.trimmingSpaces()) else {
                        return .failure(.init(status: .badRequest, reason: "invalid Content-Length"))
                    }
                    if sawContentLength, contentLength != length {
                        return .failure(.init(status: .badRequest, reason: "conflicting Content-Length values"))
                    }
                    sawContentLength = true
                    contentLength = length
                }
            case .transferEncoding:
                transferEncoding.append(contentsOf: value.split(separator: ",", omittingEmptySubsequences: false))
            case .host:
                hosts += 1
                hostValue = value
            case .cookie:
                if routeCookie == nil { routeCookie = Self.cookie(named: Self.routeCookieName, in: value) }
            case .expect:
                guard HeaderName.token(value[...], equals: "100-continue") else {
                    return .failure(.init(status: .expectationFailed, reason: "only Expect: 100-continue is supported"))
                }
                expectsContinue = head.version.major == 1 && head.version.minor >= 1
            case .upgrade:
                hasUpgradeHeader = true
            case .connection:
                if value.split(separator: ",").contains(where: { HeaderName.token($0, equals: "upgrade") }) {
                    connectionUpgrade = true
                }
            default:
                break
            }
        }

        let framing: RequestBodyFraming
        if !transferEncoding.isEmpty {
            if sawContentLength {
                return .failure(
                    .init(status: .badRequest, reason: "both Content-Length and Transfer-Encoding: ambiguous framing")
                )
            }
            guard head.version.major == 1, head.version.minor >= 1 else {
                return .failure(.init(status: .badRequest, reason: "Transfer-Encoding in an HTTP/1.0 request"))
            }
            guard transferEncoding.count == 1, HeaderName.token(transferEncoding[0], equals: "chunked") else {
                return .failure(.init(status: .badRequest, reason: "unsupported Transfer-Encoding (only chunked)"))
            }
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            guard contentLength <= maxBodyBytes else {
                return .failure(
                    .init(status: .payloadTooLarge, reason: "request body over the limit of \(maxBodyBytes) bytes")
                )
            }
            framing = .contentLength(contentLength)
        } else {
            framing = .none
        }

        let host: String
        if hosts > 1 {
            return .failure(.init(status: .badRequest, reason: "several Host headers"))
        } else if let hostValue {
            guard let parsed = Self.hostName(fromHeader: hostValue) else {
                return .failure(.init(status: .badRequest, reason: "malformed Host header"))
            }
            host = parsed
        } else if head.version.major == 1 && head.version.minor >= 1 {
            return .failure(.init(status: .badRequest, reason: "missing Host header"))
        } else {
            host = ""
        }

        return .success(
            InspectedRequest(
                host: host,
                routeCookie: routeCookie,
                framing: framing,
                expectsContinue: expectsContinue && framing != .none,
                isUpgrade: hasUpgradeHeader && connectionUpgrade
            )
        )
    }

    /// A non-negative decimal without sign or spaces; nil when malformed or absurdly long.
    static func parseLength(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }

    /// The host of a `Host` header value: lower-cased, port removed, IPv6 literal without brackets; nil when the
    /// value is not a plausible `host[:port]`.
    static func hostName(fromHeader value: String) -> String? {
        // On UTF-8 bytes, not Characters: this runs for every request (a valid host is ASCII; anything else is
        // rejected by the byte checks either way).
        let bytes = value[...].trimmingSpaces().utf8
        guard let first = bytes.first else { return nil }
        let host: Substring.UTF8View
        let port: Substring.UTF8View?
        if first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            host = bytes[bytes.index(after: bytes.startIndex)..<close]
            let rest = bytes[bytes.index(after: close)...]
            if rest.isEmpty {
                port = nil
            } else {
                guard rest.first == UInt8(ascii: ":") else { return nil }
                port = rest.dropFirst()
            }
            guard !host.isEmpty, host.allSatisfy({ Self.isHex($0) || $0 == 0x3A || $0 == 0x2E }) else {
                return nil
            }
        } else {
            if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
                host = bytes[..<colon]
                port = bytes[bytes.index(after: colon)...]
            } else {
                host = bytes
                port = nil
            }
            guard !host.isEmpty, host.allSatisfy(Self.isRegisteredNameByte) else { return nil }
        }
        if let port {
            guard port.count <= 5, port.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        }
        if host.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) {
            return String(decoding: host.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }, as: UTF8.self)
        }
        return String(Substring(host))
    }

    /// The value of cookie `name` in one `Cookie` header value (`a=1; b=2`), unquoted; nil when absent or empty.
    static func cookie(named name: String, in header: String) -> String? {
        for pair in header.split(separator: ";") {
            let trimmed = pair.trimmingSpaces()
            guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals].trimmingSpaces() == name else {
                continue
            }
            var value = trimmed[trimmed.index(after: equals)...].trimmingSpaces()
            if value.count >= 2 && value.first == "\"" && value.last == "\"" {
                value = value.dropFirst().dropLast()
            }
            if !value.isEmpty { return String(value) }
        }
        return nil
    }

    private static func isHex(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }

    /// RFC 3986 reg-name: unreserved, sub-delims and pct-encoded.
    private static func isRegisteredNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"): true
        case UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
            UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: ";"),
            UInt8(ascii: "="):
            true
        default: false
        }
    }
}
