import Testing

@testable import ClusterCore

@Suite("Routing table: Host → tenant")
struct RoutingTableTests {
    /// acme and beta have `hosts` lists, gamma none; `www.acme.example.test` is listed by beta, so the list wins.
    static let table = RoutingTable(
        domain: "example.test",
        hosts: [
            "acme": ["acme.com", "WWW.Acme.COM"],
            "beta": ["beta.org", "www.acme.example.test", "gamma.example.test"],
            "gamma": [],
        ]
    )

    @Test(
        "a host is routed by the hosts lists first, then by TENANT.domain for existing tenants",
        arguments: [
            ("acme.com", "acme"),
            ("www.acme.com", "acme"),  // listed in mixed case, matched lower-cased
            ("beta.org", "beta"),
            ("acme.example.test", "acme"),
            ("beta.example.test", "beta"),
            ("gamma.example.test", "beta"),  // beta's list names it: the list wins over gamma's TENANT.domain
            ("www.acme.example.test", "beta"),  // not acme's (two labels), but beta lists it
        ] as [(String, String)]
    )
    func routed(host: String, tenant: String) {
        #expect(Self.table.tenant(forHost: host) == tenant)
    }

    @Test(
        "look-alike and suffix-trick hosts are not routed",
        arguments: [
            "evilacme.example.test",  // the domain without the separating dot
            "acmeexample.test",
            "acme.example.test.evil",  // the domain, then more
            "acme.example.testx",
            "acme.xexample.test",
            "example.test",  // the domain itself
            ".example.test",  // empty tenant label
            "..example.test",
            "acme..example.test",  // empty label between tenant and domain
            "evil.acme.example.test",  // a subdomain of a tenant's name
            "acme.",
            "delta.example.test",  // not a tenant
            "acme.com.evil",
            "evil.acme.com",
            "acme.org",
            "",
            ".",
        ]
    )
    func notRouted(host: String) {
        #expect(Self.table.tenant(forHost: host) == nil)
    }

    @Test("TENANT.domain only names tenants the table knows, even those with an empty hosts list")
    func domainOnlyForExistingTenants() {
        let table = RoutingTable(domain: "example.test", hosts: ["acme": []])
        #expect(table.tenant(forHost: "acme.example.test") == "acme")
        #expect(table.tenant(forHost: "beta.example.test") == nil)
        #expect(RoutingTable(domain: "example.test", hosts: [:]).tenant(forHost: "acme.example.test") == nil)
    }

    @Test("without a domain only the hosts lists route")
    func noDomain() {
        let table = RoutingTable(domain: nil, hosts: ["acme": ["acme.com"], "beta": []])
        #expect(table.domain == nil)
        #expect(table.tenant(forHost: "acme.com") == "acme")
        #expect(table.tenant(forHost: "acme.example.test") == nil)
        #expect(table.tenant(forHost: "beta") == nil)
        #expect(table.tenant(forHost: "acme") == nil)
    }

    @Test("the domain is matched case-insensitively (stored lower-cased)")
    func domainCase() {
        let table = RoutingTable(domain: "Example.TEST", hosts: ["acme": []])
        #expect(table.domain == "example.test")
        #expect(table.tenant(forHost: "acme.example.test") == "acme")
    }

    @Test("a multi-label domain routes only its direct TENANT label")
    func multiLabelDomain() {
        let table = RoutingTable(domain: "apps.example.test", hosts: ["acme": [], "apps": []])
        #expect(table.tenant(forHost: "acme.apps.example.test") == "acme")
        #expect(table.tenant(forHost: "apps.example.test") == nil)
        #expect(table.tenant(forHost: "acme.example.test") == nil)
        #expect(table.tenant(forHost: "apps.apps.example.test") == "apps")
    }

    @Test(
        "normalizeHost lower-cases, strips the port and a trailing dot, and keeps IPv6 literals whole",
        arguments: [
            ("acme.example.test", "acme.example.test"),
            ("Acme.Example.TEST", "acme.example.test"),
            ("acme.example.test:8080", "acme.example.test"),
            ("Acme.Test:80", "acme.test"),
            ("acme.example.test.", "acme.example.test"),
            ("ACME.example.test.:443", "acme.example.test"),
            ("acme.example.test:", "acme.example.test"),
            ("localhost", "localhost"),
            ("127.0.0.1", "127.0.0.1"),
            ("127.0.0.1:8080", "127.0.0.1"),
            ("[::1]", "[::1]"),
            ("[::1]:8080", "[::1]"),
            ("[2001:DB8::1]", "[2001:db8::1]"),
            ("[2001:db8::1]:443", "[2001:db8::1]"),
            ("[::FFFF:127.0.0.1]:80", "[::ffff:127.0.0.1]"),
            ("", ""),
            (":8080", ""),
            (".", ""),
        ] as [(String, String)]
    )
    func normalizeHost(value: String, expected: String) {
        #expect(RoutingTable.normalizeHost(Substring(value)) == expected)
    }

    @Test("normalizeHost works on a slice of a larger string")
    func normalizeSlice() {
        let header = "Host: Acme.Example.Test:8080"
        let value = header[header.index(header.startIndex, offsetBy: 6)...]
        #expect(RoutingTable.normalizeHost(value) == "acme.example.test")
    }

    @Test(
        "a raw Host header value, normalized, reaches its tenant",
        arguments: [
            ("ACME.example.test:8080", "acme"),
            ("acme.example.test.", "acme"),
            ("Acme.Example.Test.:443", "acme"),
            ("WWW.ACME.COM:80", "acme"),
            ("beta.org.", "beta"),
        ] as [(String, String)]
    )
    func rawHostRoutes(value: String, tenant: String) {
        #expect(Self.table.tenant(forHost: RoutingTable.normalizeHost(Substring(value))) == tenant)
    }

    @Test(
        "raw Host values that must not route stay unrouted after normalizing",
        arguments: [
            "[::1]", "[::1]:8080", "", ":80", "Example.Test:80", "EvilAcme.Example.Test", "acme.example.test.evil:80",
        ]
    )
    func rawHostNotRouted(value: String) {
        #expect(Self.table.tenant(forHost: RoutingTable.normalizeHost(Substring(value))) == nil)
    }
}
