/// The header names the proxy acts on, recognised without allocating (names are ASCII tokens).
enum HeaderName: Equatable {
    case connection
    case keepAlive
    case proxyConnection
    case te
    case trailer
    case upgrade
    case transferEncoding
    case contentLength
    case host
    case expect
    case cookie
    case xForwardedFor
    case xForwardedProto
    case xForwardedHost
    case other

    /// Classifies `name`, ignoring ASCII case.
    init(_ name: String) {
        var name = name
        self = name.withUTF8 { Self.classify($0) }
    }

    private static let candidates: [(StaticString, HeaderName)] = [
        ("te", .te), ("host", .host), ("cookie", .cookie), ("expect", .expect), ("trailer", .trailer),
        ("upgrade", .upgrade), ("connection", .connection), ("keep-alive", .keepAlive),
        ("content-length", .contentLength), ("x-forwarded-for", .xForwardedFor),
        ("proxy-connection", .proxyConnection), ("x-forwarded-host", .xForwardedHost),
        ("transfer-encoding", .transferEncoding), ("x-forwarded-proto", .xForwardedProto),
    ]

    private static func classify(_ bytes: UnsafeBufferPointer<UInt8>) -> HeaderName {
        switch bytes.count {
        case 2, 4, 6, 7, 10, 14, 15, 16, 17:
            for (candidate, kind) in Self.candidates where Self.matches(bytes, candidate) {
                return kind
            }
            return .other
        default:
            return .other
        }
    }

    /// Whether `bytes` spell `lowercased` in any ASCII case. Header names are tokens (letters, digits, `-` and a
    /// few symbols), for which setting bit 5 lower-cases letters and changes nothing a token could be confused by.
    @inline(__always)
    private static func matches(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercased: StaticString) -> Bool {
        guard bytes.count == lowercased.utf8CodeUnitCount else { return false }
        let expected = lowercased.utf8Start
        for index in 0..<bytes.count where bytes[index] | 0x20 != expected[index] {
            return false
        }
        return true
    }

    /// Whether `token` (trimmed) equals `lowercased` ignoring ASCII case.
    static func token(_ token: Substring, equals lowercased: String) -> Bool {
        let trimmed = token.trimmingSpaces()
        return trimmed.utf8.count == lowercased.utf8.count
            && zip(trimmed.utf8, lowercased.utf8).allSatisfy { ($0 | 0x20) == $1 || $0 == $1 }
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    func trimmingSpaces() -> Substring {
        // On UTF-8 bytes: spaces and tabs are ASCII, and Character-wise trimming costs grapheme breaking.
        let bytes = self.utf8
        var start = bytes.startIndex
        var end = bytes.endIndex
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start = bytes.index(after: start) }
        while start < end {
            let last = bytes.index(before: end)
            guard bytes[last] == 0x20 || bytes[last] == 0x09 else { break }
            end = last
        }
        return self[start..<end]
    }
}
