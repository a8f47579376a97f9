import Testing

@testable import ClusterHAProxy

@Suite("HAProxy names")
struct HAProxyNamesTests {
    @Test("a safe tenant name becomes t_<name>", arguments: ["acme", "a", "b-2", "x9", "Mixed_Case.v1:z"])
    func safeTenant(name: String) throws {
        #expect(try HAProxyNames.backend(forTenant: name) == "t_" + name)
    }

    @Test(
        "an unsafe tenant name is refused, naming the tenant and the character",
        arguments: [
            ("ac me", "U+0020"),
            ("acme#1", "'#'"),
            ("a/b", "'/'"),
            ("tab\there", "U+0009"),
            ("caf\u{E9}", "U+00E9"),
        ]
    )
    func unsafeTenant(name: String, character: String) {
        #expect {
            try HAProxyNames.backend(forTenant: name)
        } throws: { error in
            let error = error as! HAProxyError
            return error.code == .unsafeTenantName && error.message.contains("\"\(name)\"")
                && error.message.contains(character)
        }
    }

    @Test("an empty tenant name is refused")
    func emptyTenant() {
        #expect(throws: HAProxyError.self) { try HAProxyNames.backend(forTenant: "") }
    }

    @Test("slot servers are w1…wN, and only those names read back as slots")
    func slots() {
        #expect(HAProxyNames.server(slot: 1) == "w1")
        #expect(HAProxyNames.server(slot: 12) == "w12")
        #expect(HAProxyNames.slot(ofServer: "w12") == 12)
        for name in ["activator", "w0", "w", "w01", "w-1", "BACKEND", "x1", "w1x"] {
            #expect(HAProxyNames.slot(ofServer: name) == nil, "\(name)")
        }
    }

    @Test("a host becomes a lowercased map key", arguments: ["acme.example.test", "WWW.Acme.Test", "localhost"])
    func safeHost(host: String) throws {
        #expect(try HAProxyNames.mapKey(forHost: host) == host.lowercased())
    }

    @Test(
        "a host with whitespace, '#' or a control character is refused with the reason",
        arguments: [
            ("a b.test", "split"),
            ("a\tb.test", "split"),
            ("a#b.test", "comment"),
            ("a\u{1}b.test", "control character"),
            ("a\u{7F}b.test", "control character"),
            ("a\nb.test", "split"),
        ]
    )
    func unsafeHost(host: String, reason: String) {
        #expect {
            try HAProxyNames.mapKey(forHost: host)
        } throws: { error in
            let error = error as! HAProxyError
            return error.code == .unsafeHost && error.message.contains(reason) && !error.message.contains("\n")
                && !error.message.contains("\u{1}")
        }
    }

    @Test("an empty host is refused")
    func emptyHost() {
        #expect(throws: HAProxyError.self) { try HAProxyNames.mapKey(forHost: "") }
    }
}
