/// A server's administrative state, as `set server <backend>/<server> state` takes it.
public enum HAProxyServerState: String, Hashable, Sendable, CaseIterable {
    /// In load balancing.
    case ready
    /// Out of load balancing, but still taking requests that carry its sticky cookie.
    case drain
    /// No traffic at all; requests already in flight finish.
    case maint
}

/// One command of HAProxy 2.6's runtime API (the stats socket at `level admin`), on one slot of a backend.
public enum HAProxyCommand: Hashable, Sendable {
    /// Points the slot at a worker: `set server t_acme/w1 addr 127.0.0.1 port 20001`.
    case setAddress(backend: String, slot: Int, port: Int)
    /// `set server t_acme/w1 state ready`.
    case setState(backend: String, slot: Int, HAProxyServerState)

    /// The backend the command is for.
    public var backend: String {
        switch self {
        case .setAddress(let backend, _, _), .setState(let backend, _, _): backend
        }
    }

    /// The slot (1…N) the command is for.
    public var slot: Int {
        switch self {
        case .setAddress(_, let slot, _), .setState(_, let slot, _): slot
        }
    }

    /// The line to send, without its newline. Workers listen on 127.0.0.1.
    public var line: String {
        let server = "\(backend)/\(HAProxyNames.server(slot: slot))"
        return switch self {
        case .setAddress(_, _, let port): "set server \(server) addr 127.0.0.1 port \(port)"
        case .setState(_, _, let state): "set server \(server) state \(state.rawValue)"
        }
    }
}

extension HAProxyCommand {
    /// `enable dynamic-cookie backend t_acme`: recomputes every server's cookie from its address and port.
    ///
    /// HAProxy 2.6 recomputes a dynamic cookie when `set server … addr` changes the address, but not when it
    /// loads one from the server state file after a reload, so each backend needs this after one.
    public static func recomputeCookies(ofBackend backend: String) -> String {
        "enable dynamic-cookie backend \(backend)"
    }

    /// Whether one line of HAProxy's answers to `set server` and `enable dynamic-cookie` commands reports
    /// success: those answer nothing, or that the address or port changed (or needed no change).
    public static func isSuccess(answerLine line: Substring) -> Bool {
        line.allSatisfy { $0 == " " } || line.hasPrefix("IP changed from") || line.hasPrefix("no need to change")
    }

    /// Whether an answer line says the running configuration lacks the backend or server a command named.
    public static func isMissingServer(answerLine line: Substring) -> Bool {
        line.hasPrefix("No such backend") || line.hasPrefix("No such server")
    }
}
