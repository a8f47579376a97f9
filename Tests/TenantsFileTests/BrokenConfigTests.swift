import ClusterCore
import TenantsFile
import Testing

/// One broken tenants.conf and the one issue it must produce.
struct BrokenConfig: Sendable, CustomTestStringConvertible {
    var name: String
    var toml: String
    /// The issue's key path; nil for a TOML syntax error.
    var keyPath: String?
    var line: Int?
    var fragment: String
    var testDescription: String { name }

    static func syntax(_ name: String, line: Int, says fragment: String, _ toml: String) -> Self {
        Self(name: name, toml: toml, keyPath: nil, line: line, fragment: fragment)
    }

    static func invalid(
        _ name: String,
        key keyPath: String,
        line: Int?,
        says fragment: String,
        _ toml: String
    ) -> Self {
        Self(name: name, toml: toml, keyPath: keyPath, line: line, fragment: fragment)
    }
}

@Suite("Broken tenants.conf files")
struct BrokenConfigTests {
    static let cases: [BrokenConfig] = [
        // MARK: TOML syntax
        .syntax(
            "missing '='",
            line: 2,
            says: "expected '='",
            """
            [cluster]
            max_workers 4
            """
        ),
        .syntax(
            "unterminated string",
            line: 2,
            says: "unterminated string",
            """
            [defaults]
            command = ["/bin/app", "--port", "{port}]
            idle_timeout = "5m"
            """
        ),
        .syntax(
            "unterminated array at the end of the file",
            line: 3,
            says: "unterminated array",
            """
            [tenant.acme]
            command = ["/bin/app"]
            hosts = ["acme.test",
            """
        ),
        .syntax(
            "duplicate key",
            line: 4,
            says: "duplicate definition",
            """
            [tenant.acme]
            command = ["/bin/app"]
            max_workers = 2
            max_workers = 3
            """
        ),
        .syntax(
            "duplicate table",
            line: 4,
            says: "cannot redefine existing table 'tenant.acme'",
            """
            [tenant.acme]
            command = ["/bin/app"]

            [tenant.acme]
            max_workers = 2
            """
        ),
        .syntax(
            "unknown escape",
            line: 2,
            says: "unknown escape sequence",
            #"""
            [tenant.acme]
            working_directory = "C:\srv"
            """#
        ),
        .syntax(
            "NUL byte",
            line: 2,
            says: "NUL byte",
            "[cluster]\nlisten = \"127.0.0.1:80\u{0}\"\n"
        ),

        // Found by fuzzing (Fuzz/, scripts/fuzz): toml++ aborts the process on these instead of reporting them, and
        // TOMLKit reads a string back only up to a NUL.
        .syntax(
            "a table header that is not a name",
            line: 3,
            says: "expected a table name after '['",
            """
            [cluster]
            max_workers = 4
            [.]
            """
        ),
        .syntax(
            "a '[' ending its line",
            line: 3,
            says: "expected a table name after '['",
            """
            [tenant.acme]
            command = ["/bin/app"]
            [
            max_workers = 2
            """
        ),
        .syntax(
            "a table header starting with a non-ASCII letter",
            line: 1,
            says: "expected a table name after '['",
            """
            [ümlaut]
            """
        ),
        .syntax(
            "a date, a space and one digit",
            line: 3,
            says: #""2024-01-01 5" is not a value"#,
            """
            [defaults]
            command = ["/bin/app"]
            idle_timeout = 2024-01-01 5

            """
        ),
        .syntax(
            "a date-like value of any ten characters, a space, a digit and a comma (found by fuzzing)",
            line: 2,
            says: #""19\#u{FFFD}9-05-27 3" is not a value"#,
            """
            defaults.command = ["/bin/app"]
            tenant.acme = { max_workers = 19\u{FFFD}9-05-27 3, hosts = [] }
            """
        ),
        .syntax(
            "a date, T and no time (found by fuzzing)",
            line: 2,
            says: #""1979-05-27Tstring00-08:00" is not a value"#,
            """
            defaults.command = ["/bin/app"]
            odt = 1979-05-27Tstring00-08:00
            """
        ),
        .syntax(
            "a bare word as a value",
            line: 3,
            says: #"a duration is a string like "30s""#,
            """
            [defaults]
            command = ["/bin/app"]
            idle_timeout = 30s
            """
        ),
        .syntax(
            "a date with underscores, a space, a digit and a bracket",
            line: 2,
            says: #""2_024-01-01 5" is not a value"#,
            """
            defaults.command = ["/bin/app"]
            cluster.ports = [2_024-01-01 5]
            """
        ),
        .syntax(
            "a '}' where an array element belongs",
            line: 2,
            says: "expected a value or ']' in the array, found '}'",
            """
            [tenant.acme]
            command = ["/bin/app", }
            """
        ),
        .syntax(
            "an escaped NUL in a key",
            line: 3,
            says: "(NUL) escape in a key or string",
            #"""
            [tenant.acme]
            command = ["/bin/app"]
            env = { "A\u0000B" = "x", A = "y" }
            """#
        ),
        .syntax(
            "an escaped NUL in a command",
            line: 2,
            says: "(NUL) escape in a key or string",
            #"""
            [tenant.acme]
            command = ["/bin/app\u0000", "--flag"]
            """#
        ),
        .syntax(
            "an escaped NUL in a multi-line string",
            line: 5,
            says: "(NUL) escape in a key or string",
            #"""
            [tenant.acme]
            command = ["/bin/app"]
            working_directory = """
            /srv/\
              acme\U00000000"""
            """#
        ),

        // MARK: unknown keys
        .invalid(
            "unknown top-level table",
            key: "tenants",
            line: 1,
            says: #"did you mean "tenant"?"#,
            """
            [tenants.acme]
            command = ["/bin/app"]
            """
        ),
        .invalid(
            "unknown cluster key",
            key: "cluster.listne",
            line: 3,
            says: #"did you mean "listen"?"#,
            """
            [cluster]
            max_workers = 8
            listne = "127.0.0.1:8080"
            """
        ),
        .invalid(
            "unknown defaults key",
            key: "defaults.idle_timout",
            line: 3,
            says: #"did you mean "idle_timeout"?"#,
            """
            [defaults]
            command = ["/bin/app"]
            idle_timout = "5m"
            """
        ),
        .invalid(
            "unknown tenant key",
            key: "tenant.acme.max_worker",
            line: 3,
            says: #"did you mean "max_workers"?"#,
            """
            [tenant.acme]
            command = ["/bin/app"]
            max_worker = 2
            """
        ),

        // MARK: wrong types
        .invalid(
            "max_workers as a string",
            key: "tenant.acme.max_workers",
            line: 3,
            says: "must be an integer, found a string",
            """
            [tenant.acme]
            command = ["/bin/app"]
            max_workers = "4"
            """
        ),
        .invalid(
            "command as a string",
            key: "tenant.acme.command",
            line: 2,
            says: "must be an array of strings",
            """
            [tenant.acme]
            command = "/bin/app"
            """
        ),
        .invalid(
            "hosts as a string",
            key: "tenant.acme.hosts",
            line: 3,
            says: "must be an array of host names",
            """
            [tenant.acme]
            command = ["/bin/app"]
            hosts = "x"
            """
        ),
        .invalid(
            "a date where a duration belongs",
            key: "defaults.idle_timeout",
            line: 3,
            says: "must be a string, found a date",
            """
            [defaults]
            command = ["/bin/app"]
            idle_timeout = 2024-01-01
            """
        ),
        .invalid(
            "a float where a count belongs",
            key: "defaults.queue_limit",
            line: 2,
            says: "must be an integer, found a float",
            """
            [defaults]
            queue_limit = 1.5
            """
        ),

        // MARK: durations
        .invalid(
            "duration in words",
            key: "tenant.acme.idle_timeout",
            line: 3,
            says: #""5 minutes" is not a duration"#,
            """
            [tenant.acme]
            command = ["/bin/app"]
            idle_timeout = "5 minutes"
            """
        ),
        .invalid(
            "negative duration",
            key: "defaults.stop_timeout",
            line: 2,
            says: #""-1s" is not a duration"#,
            """
            [defaults]
            stop_timeout = "-1s"
            """
        ),
        .invalid(
            "duration without a unit",
            key: "defaults.start_timeout",
            line: 3,
            says: #""10" is not a duration"#,
            """
            [defaults]
            command = ["/bin/app"]
            start_timeout = "10"
            """
        ),
        .invalid(
            "duration too large",
            key: "tenant.acme.idle_timeout",
            line: 3,
            says: "is not a duration",
            """
            [tenant.acme]
            command = ["/bin/app"]
            idle_timeout = "99999999999999999h"
            """
        ),
        .invalid(
            "bad watchdog duration",
            key: "defaults.watchdog",
            line: 2,
            says: #""1.5s" is not a duration"#,
            """
            [defaults]
            watchdog = "1.5s"
            """
        ),
        .invalid(
            "zero start_timeout",
            key: "tenant.acme.start_timeout",
            line: 3,
            says: "must be longer than 0s",
            """
            [tenant.acme]
            command = ["/bin/app"]
            start_timeout = "0s"
            """
        ),
        .invalid(
            "zero stop_timeout inherited from [defaults]",
            key: "tenant.acme.stop_timeout",
            line: 3,
            says: "must be longer than 0s",
            """
            [defaults]
            command = ["/bin/app"]
            stop_timeout = "0ms"

            [tenant.acme]
            max_workers = 1
            """
        ),

        // MARK: ports and host-wide caps
        .invalid(
            "malformed ports",
            key: "cluster.ports",
            line: 2,
            says: #""20000-" is not a port range"#,
            """
            [cluster]
            ports = "20000-"
            """
        ),
        .invalid(
            "reversed ports",
            key: "cluster.ports",
            line: 2,
            says: #""30000-20000" is not a port range"#,
            """
            [cluster]
            ports = "30000-20000"
            """
        ),
        .invalid(
            "ports out of range",
            key: "cluster.ports",
            line: 2,
            says: #""60000-70000" is not a port range"#,
            """
            [cluster]
            ports = "60000-70000"
            """
        ),
        .invalid(
            "fewer ports than cluster.max_workers",
            key: "cluster.ports",
            line: 3,
            says: "has 10 ports, fewer than cluster.max_workers (64)",
            """
            [cluster]
            max_workers = 64
            ports = "20000-20009"
            """
        ),
        .invalid(
            "zero cluster.max_workers",
            key: "cluster.max_workers",
            line: 2,
            says: "must be ≥ 1, found 0",
            """
            [cluster]
            max_workers = 0
            """
        ),
        .invalid(
            "min_workers above max_workers",
            key: "tenant.acme.max_workers",
            line: 4,
            says: "must be ≥ min_workers (3), found 2",
            """
            [tenant.acme]
            command = ["/bin/app"]
            min_workers = 3
            max_workers = 2
            """
        ),
        .invalid(
            "zero tenant max_workers",
            key: "tenant.acme.max_workers",
            line: 3,
            says: "must be ≥ 1, found 0",
            """
            [tenant.acme]
            command = ["/bin/app"]
            max_workers = 0
            """
        ),
        .invalid(
            "tenant max_workers above the host cap",
            key: "tenant.acme.max_workers",
            line: 6,
            says: "9 is above the host-wide cap cluster.max_workers (8)",
            """
            [cluster]
            max_workers = 8

            [tenant.acme]
            command = ["/bin/app"]
            max_workers = 9
            """
        ),
        .invalid(
            "min_workers adding up above the host cap",
            key: "cluster.max_workers",
            line: 2,
            says: "the tenants' min_workers add up to 5, more than the host-wide cap (4)",
            """
            [cluster]
            max_workers = 4
            [defaults]
            command = ["/bin/app"]
            [tenant.acme]
            min_workers = 3
            max_workers = 3
            [tenant.beta]
            min_workers = 2
            max_workers = 2
            """
        ),
        .invalid(
            "min_workers adding up above the default host cap",
            key: "cluster.max_workers",
            line: nil,
            says: "add up to 600, more than the host-wide cap (512)",
            """
            [defaults]
            command = ["/bin/app"]
            min_workers = 300
            max_workers = 300
            [tenant.acme]
            [tenant.beta]
            """
        ),

        // MARK: command
        .invalid(
            "empty command",
            key: "tenant.acme.command",
            line: 2,
            says: "must name a program",
            """
            [tenant.acme]
            command = []
            """
        ),
        .invalid(
            "command with a number",
            key: "tenant.acme.command",
            line: 2,
            says: "must be an array of strings",
            """
            [tenant.acme]
            command = ["/bin/app", "--port", 8080]
            """
        ),
        .invalid(
            "multi-line command with a number",
            key: "tenant.acme.command",
            line: 3,
            says: "must be an array of strings",
            """
            [tenant.acme]
            max_workers = 1
            command = [
                "/bin/app",
                "--workers", 2,
            ]
            """
        ),
        .invalid(
            "missing command",
            key: "tenant.acme.command",
            line: 1,
            says: "missing: set command here or in [defaults]",
            """
            [tenant.acme]
            max_workers = 2
            """
        ),
        .invalid(
            "unknown placeholder",
            key: "tenant.acme.command",
            line: 2,
            says: "unknown placeholder {prot}",
            """
            [tenant.acme]
            command = ["/bin/app", "--port", "{prot}"]
            """
        ),

        // MARK: other tenant settings
        .invalid(
            "invalid readiness",
            key: "defaults.readiness",
            line: 3,
            says: #""ready" is not one of listen-fds | notify | tcp"#,
            """
            [defaults]
            command = ["/bin/app"]
            readiness = "ready"
            """
        ),
        .invalid(
            "host listed by two tenants",
            key: "tenant.beta.hosts",
            line: 7,
            says: #"already routes to tenant "acme""#,
            """
            [defaults]
            command = ["/bin/app"]
            [tenant.acme]
            hosts = ["shop.test"]
            [tenant.beta]
            max_workers = 1
            hosts = ["Shop.Test"]
            """
        ),
        .invalid(
            "host equal to another tenant's NAME.domain",
            key: "tenant.beta.hosts",
            line: 8,
            says: #""acme.example.test" already routes to tenant "acme""#,
            """
            [cluster]
            domain = "example.test"
            [defaults]
            command = ["/bin/app"]
            [tenant.acme]
            max_workers = 1
            [tenant.beta]
            hosts = ["www.beta.test", "acme.example.test"]
            """
        ),
        .invalid(
            "invalid tenant name",
            key: "tenant.Acme_1",
            line: 1,
            says: #"tenant name "Acme_1" must be 1-63 characters"#,
            """
            [tenant.Acme_1]
            command = ["/bin/app"]
            """
        ),
        .invalid(
            "invalid host name",
            key: "tenant.acme.hosts",
            line: 3,
            says: #""bad_host.test" is not a valid host name"#,
            """
            [tenant.acme]
            command = ["/bin/app"]
            hosts = ["acme.test", "bad_host.test"]
            """
        ),
        .invalid(
            "env value not a string",
            key: "tenant.acme.env.WORKERS",
            line: 3,
            says: "must be a string, found an integer",
            """
            [tenant.acme]
            command = ["/bin/app"]
            env = { GREETING = "hi", WORKERS = 4 }
            """
        ),
        .invalid(
            "env sets PORT",
            key: "tenant.acme.env.PORT",
            line: 3,
            says: "is set by clusterd for every worker",
            """
            [tenant.acme]
            command = ["/bin/app"]
            env = { PORT = "80" }
            """
        ),
        .invalid(
            "env sets CLUSTERD_*",
            key: "tenant.acme.env.CLUSTERD_X",
            line: 6,
            says: "names starting with CLUSTERD_ are reserved for clusterd",
            """
            [tenant.acme]
            command = ["/bin/app"]

            [tenant.acme.env]
            GREETING = "hi"
            CLUSTERD_X = "1"
            """
        ),
        .invalid(
            "env not a table",
            key: "defaults.env",
            line: 2,
            says: "must be a table of strings",
            """
            [defaults]
            env = ["A=1"]
            """
        ),
        .invalid(
            "relative working_directory",
            key: "tenant.acme.working_directory",
            line: 3,
            says: "must be an absolute path",
            """
            [tenant.acme]
            command = ["/bin/app"]
            working_directory = "srv/acme"
            """
        ),
        .invalid(
            "negative queue_limit",
            key: "defaults.queue_limit",
            line: 2,
            says: "must be ≥ 0, found -1",
            """
            [defaults]
            queue_limit = -1
            """
        ),
        .invalid(
            "negative max_concurrency",
            key: "tenant.acme.max_concurrency",
            line: 3,
            says: "must be ≥ 0, found -5",
            """
            [tenant.acme]
            command = ["/bin/app"]
            max_concurrency = -5
            """
        ),
        .invalid(
            "negative min_workers",
            key: "tenant.acme.min_workers",
            line: 3,
            says: "must be ≥ 0, found -1",
            """
            [tenant.acme]
            command = ["/bin/app"]
            min_workers = -1
            """
        ),
        .invalid(
            "hosts in [defaults]",
            key: "defaults.hosts",
            line: 3,
            says: "belongs in a [tenant.NAME] table",
            """
            [defaults]
            command = ["/bin/app"]
            hosts = ["acme.test"]
            """
        ),

        // MARK: cluster settings
        .invalid(
            "listen without a port",
            key: "cluster.listen",
            line: 2,
            says: #""localhost" is not HOST:PORT"#,
            """
            [cluster]
            listen = "localhost"
            """
        ),
        .invalid(
            "listen port out of range",
            key: "cluster.listen",
            line: 2,
            says: #""1.2.3.4:99999" is not HOST:PORT"#,
            """
            [cluster]
            listen = ["127.0.0.1:8080", "1.2.3.4:99999"]
            """
        ),
        .invalid(
            "control_socket too long",
            key: "cluster.control_socket",
            line: 3,
            says: "at most 107 bytes",
            """
            [cluster]
            max_workers = 4
            control_socket = "/run/\(String(repeating: "d", count: 100))/control.sock"
            """
        ),
        .invalid(
            "invalid domain",
            key: "cluster.domain",
            line: 2,
            says: #""-bad.test" is not a valid host name"#,
            """
            [cluster]
            domain = "-bad.test"
            """
        ),
        .invalid(
            "cluster as a value",
            key: "cluster",
            line: 1,
            says: "must be a table ([cluster]), found a string",
            """
            cluster = "big"
            """
        ),

        .invalid(
            "empty listen array",
            key: "cluster.listen",
            line: 2,
            says: "non-empty array",
            """
            [cluster]
            listen = []
            """
        ),
        .invalid(
            "empty state_dir",
            key: "cluster.state_dir",
            line: 2,
            says: "must not be empty",
            """
            [cluster]
            state_dir = ""
            """
        ),
        .invalid(
            "control_group with a space",
            key: "cluster.control_group",
            line: 2,
            says: #""cluster ops" is not a group name"#,
            """
            [cluster]
            control_group = "cluster ops"
            """
        ),
        .invalid(
            "unknown cluster key with no near match",
            key: "cluster.colour",
            line: 2,
            says: "unknown key; known keys: control_group, control_socket, domain, listen",
            """
            [cluster]
            colour = "blue"
            """
        ),

        // MARK: tenant tables
        .invalid(
            "tenant as a number",
            key: "tenant.acme",
            line: 2,
            says: "must be a table ([tenant.acme]), found an integer",
            """
            [tenant]
            acme = 5
            """
        ),
        .invalid(
            "tenant as an array of tables",
            key: "tenant.acme",
            line: 1,
            says: "must be a table ([tenant.acme]), found an array",
            """
            [[tenant.acme]]
            command = ["/bin/app"]
            """
        ),

        // MARK: locating keys written in other ways
        .invalid(
            "dotted key at the top level",
            key: "tenant.acme.max_workers",
            line: 2,
            says: "must be an integer, found a string",
            """
            tenant.acme.command = ["/bin/app"]
            tenant.acme.max_workers = "4"
            """
        ),
        .invalid(
            "tenant as an inline table",
            key: "tenant.acme.queue_limit",
            line: 3,
            says: "must be ≥ 0, found -1",
            """
            [tenant]
            acme = { command = [
              "/bin/app"], queue_limit = -1 }
            """
        ),
        .invalid(
            "quoted keys",
            key: "tenant.acme.max_workers",
            line: 3,
            says: "must be an integer, found a boolean",
            """
            [ tenant . "acme" ]
            'command' = ["/bin/app"]
            "max_workers" = true
            """
        ),
        .invalid(
            "'#' and '=' inside strings",
            key: "tenant.acme.working_directory",
            line: 4,
            says: "must be an absolute path",
            """
            [tenant.acme]
            command = ["/bin/app", "--opt=#1", 'x = "y"']  # a comment with max_workers = 3
            env = { A = "# not a comment", B = "x = y" }
            working_directory = "srv # = acme"
            """
        ),
        .invalid(
            "key-like lines inside a multi-line string",
            key: "tenant.acme.max_workers",
            line: 8,
            says: "must be ≥ 0, found -2",
            """
            [tenant.acme]
            command = ["/bin/app"]
            working_directory = \"""
            /srv/acme
            max_workers = 3\"""
            env = { NOTE = '''
            max_workers = 4''' }
            max_workers = -2
            """
        ),
    ]

    @Test(arguments: cases)
    func reportsTheIssueAtItsLine(_ broken: BrokenConfig) throws {
        let result = TenantsFile.parse(broken.toml, fileName: "tenants.conf", baseDirectory: "/etc/clusterd")
        guard case .failure(let error) = result else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(error.fileName == "tenants.conf")
        #expect(error.issues.count == 1, "\(error)")
        let issue = try #require(error.issues.first)
        if let keyPath = broken.keyPath {
            #expect(error.code == .invalid)
            #expect(issue.keyPath == keyPath)
        } else {
            #expect(error.code == .syntax)
            #expect(issue.keyPath == "")
        }
        #expect(issue.line == broken.line, "\(error)")
        #expect(issue.message.contains(broken.fragment), "\(error)")
        let location = broken.line.map { "tenants.conf:\($0): " } ?? "tenants.conf: "
        #expect(error.description.hasPrefix(location))
    }

    /// Found by fuzzing: the tenants' min_workers were added up in an Int, which trapped on overflow.
    @Test func minWorkersAddingUpPastIntMaxIsAnIssue() throws {
        let text = """
            [cluster]
            max_workers = 9223372036854775807
            [defaults]
            command = ["/bin/app"]
            min_workers = 4611686018427387904
            max_workers = 4611686018427387904
            [tenant.acme]
            [tenant.beta]
            """
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "tenants.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        let issue = try #require(error.issues.first { $0.keyPath == "cluster.max_workers" }, "\(error)")
        #expect(issue.message.contains("add up to 9223372036854775808, more than the host-wide cap"), "\(error)")
        #expect(issue.line == 2)
    }

    @Test func tableHasEnoughDistinctCases() {
        #expect(Set(Self.cases.map(\.toml)).count == Self.cases.count)
        #expect(Set(Self.cases.map(\.name)).count == Self.cases.count)
        #expect(Self.cases.count >= 35)
    }
}
