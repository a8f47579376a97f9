import Testing

@testable import TenantsFile

@Suite("KeyLocations")
struct KeyLocationsTests {
    static let text = #"""
        # a comment with key = "value" and [not.a.table]
        top = 1
        [cluster]                                 # line 3
        listen = "127.0.0.1:8080"  # = not a key
        domain = 'a#b=c'
        [tenant.acme]                             # line 6
        command = [
            "/bin/app",   # a comment inside an array
            "[x] = y",
        ]
        env = { A = "1", "B.C" = { D = 2 } }      # line 11
        working_directory = """
        max_workers = 9
        """
        max_workers = 4                           # line 15
        [ tenant . "beta.v2" ]                    # line 16
        'min_workers' = 1
        hosts.extra = "x"                         # line 18
        [[tenant.gamma]]                          # line 19
        note = "escaped \" # quote"
        queue_limit = 3                           # line 21
        tenant.delta.max_workers = 1              # line 22: still in [[tenant.gamma]]
        """#

    static let expectations: [(String, Int?)] = [
        ("top", 2),
        ("cluster", 3),
        ("cluster.listen", 4),
        ("cluster.domain", 5),
        ("cluster.ports", 3),  // not in the file: its table
        ("tenant", 6),  // implied by [tenant.acme]
        ("tenant.acme", 6),
        ("tenant.acme.command", 7),
        ("tenant.acme.env", 11),
        ("tenant.acme.env.A", 11),
        ("tenant.acme.env.B.C.D", 11),
        ("tenant.acme.working_directory", 12),
        ("tenant.acme.max_workers", 15),
        ("tenant.acme.missing", 6),
        ("tenant.beta.v2.min_workers", 17),
        ("tenant.beta.v2.hosts.extra", 18),
        ("tenant.beta.v2.hosts", 18),
        ("tenant.gamma", 19),
        ("tenant.gamma.note", 20),
        ("tenant.gamma.queue_limit", 21),
        ("tenant.gamma.tenant.delta.max_workers", 22),
        ("defaults", nil),
        ("defaults.command", nil),
        ("", nil),
        ("nothing.here", nil),
    ]

    @Test(arguments: expectations)
    func locates(_ keyPath: String, _ line: Int?) {
        #expect(KeyLocations(scanning: Self.text).line(for: keyPath) == line)
    }

    @Test func exactLineHasNoFallback() {
        let locations = KeyLocations(scanning: Self.text)
        #expect(locations.exactLine(for: "tenant.acme.max_workers") == 15)
        #expect(locations.exactLine(for: "tenant.acme.missing") == nil)
    }

    @Test func windowsLineEndsCountOnce() {
        let locations = KeyLocations(scanning: "[cluster]\r\nlisten = \"x\"\r\n\r\nports = \"1-2\"\r\n")
        #expect(locations.line(for: "cluster.listen") == 2)
        #expect(locations.line(for: "cluster.ports") == 4)
    }

    @Test func survivesTruncatedText() {
        // Never run on invalid TOML in practice, but it must not trap or loop.
        for text in ["a = \"open", "a = [1, 2", "a = {b = ", "[x", "a = '''x", "\"k", "=", "a.", "a = \"\\"] {
            _ = KeyLocations(scanning: text).line(for: "a")
        }
    }
}
