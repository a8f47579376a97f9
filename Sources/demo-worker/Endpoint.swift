import NIOHTTP1

/// What a request asks for, decided from its method and target alone.
enum Endpoint: Equatable {
    /// `GET /`: the greeting.
    case hello
    /// `GET /whoami`: tenant, worker, pid and port as JSON.
    case whoami
    /// `GET /count`: the session's request count.
    case count
    /// `GET /sleep?ms=N`: answer after N milliseconds (capped at ``maximumSleepMilliseconds``).
    case sleep(milliseconds: Int64)
    /// `POST /echo`: the request body streamed back.
    case echo
    /// A known path with a method it does not take; `allow` is the `Allow` header.
    case methodNotAllowed(allow: String)
    /// A known path with an unusable query; `reason` is the plain-text body.
    case badRequest(reason: String)
    /// Anything else.
    case notFound

    /// The longest `/sleep` honoured, in milliseconds.
    static let maximumSleepMilliseconds: Int64 = 600_000

    /// Routes a request by method and request target (`/path?query`).
    static func route(method: HTTPMethod, target: String) -> Endpoint {
        let path: Substring
        let query: Substring
        if let questionMark = target.firstIndex(of: "?") {
            path = target[..<questionMark]
            query = target[target.index(after: questionMark)...]
        } else {
            path = target[...]
            query = ""
        }
        let isRead = method == .GET || method == .HEAD
        switch path {
        case "/":
            return isRead ? .hello : .methodNotAllowed(allow: "GET, HEAD")
        case "/whoami":
            return isRead ? .whoami : .methodNotAllowed(allow: "GET, HEAD")
        case "/count":
            return isRead ? .count : .methodNotAllowed(allow: "GET, HEAD")
        case "/sleep":
            guard isRead else { return .methodNotAllowed(allow: "GET, HEAD") }
            guard let milliseconds = Self.sleepMilliseconds(query: query) else {
                return .badRequest(reason: "sleep wants ?ms=N with N a whole number of milliseconds\n")
            }
            return .sleep(milliseconds: milliseconds)
        case "/echo":
            return method == .POST ? .echo : .methodNotAllowed(allow: "POST")
        default:
            return .notFound
        }
    }

    private static func sleepMilliseconds(query: Substring) -> Int64? {
        for parameter in query.split(separator: "&") {
            guard parameter.hasPrefix("ms=") else { continue }
            guard let value = Int64(parameter.dropFirst(3)), value >= 0 else { return nil }
            return min(value, Self.maximumSleepMilliseconds)
        }
        return nil
    }
}
