import ClusterCore
import TenantsFile
import Testing

@Suite("TenantsFile.load and error reports")
struct TenantsFileLoadTests {
    static let minimal = """
        [defaults]
        command = ["/bin/app", "--port", "{port}"]

        [tenant.acme]
        max_workers = 2
        """

    @Test func missingFileIsUnreadableWithTheOSReason() {
        let path = "/nonexistent/clusterd/tenants.conf"
        guard case .failure(let error) = TenantsFile.load(path: path) else {
            Issue.record("loaded a missing file")
            return
        }
        #expect(error.code == .unreadable)
        #expect(error.fileName == path)
        #expect(error.issues == [ConfigurationIssue(keyPath: "", message: "cannot read: No such file or directory")])
        #expect(error.description == "\(path): cannot read: No such file or directory")
    }

    @Test func directoryIsUnreadable() throws {
        var directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.makeDirectory("tenants.conf")
        guard case .failure(let error) = TenantsFile.load(path: path) else {
            Issue.record("loaded a directory")
            return
        }
        #expect(error.code == .unreadable)
        #expect(error.description == "\(path): cannot read: Is a directory")
    }

    @Test func nonUTF8IsUnreadableAtItsLine() throws {
        var directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write(
            "tenants.conf",
            bytes: Array("[cluster]\nmax_workers = 4\n# caf".utf8) + [0xE9, 0x0A]
        )
        guard case .failure(let error) = TenantsFile.load(path: path) else {
            Issue.record("loaded Latin-1 text")
            return
        }
        #expect(error.code == .unreadable)
        #expect(error.description == "\(path):3: cannot read: not UTF-8 text")
    }

    @Test func relativePathsResolveAgainstTheFilesDirectory() throws {
        var directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write(
            "tenants.conf",
            text: """
                [cluster]
                state_dir = "state"
                control_socket = "run/control.sock"
                \(Self.minimal)
                """
        )
        let config = try TenantsFile.load(path: path).get()
        #expect(config.stateDirectory == "\(directory.path)/state")
        #expect(config.controlSocket == "\(directory.path)/run/control.sock")
        #expect(config.tenants["acme"]?.maxWorkers == 2)
    }

    @Test func parseResolvesAgainstTheGivenDirectoryOrNone() throws {
        let text = "[cluster]\nstate_dir = \"state\"\ncontrol_socket = \"/run/c.sock\"\n"
        let based = try TenantsFile.parse(text, fileName: "t.conf", baseDirectory: "/etc/clusterd/").get()
        #expect(based.stateDirectory == "/etc/clusterd/state")
        #expect(based.controlSocket == "/run/c.sock")
        let unbased = try TenantsFile.parse(text, fileName: "t.conf", baseDirectory: nil).get()
        #expect(unbased.stateDirectory == "state")
    }

    @Test func byteOrderMarkAndWindowsLineEndsAreAccepted() {
        let text = "\u{FEFF}[cluster]\r\nmax_workers = 4\r\n\r\nlisten = \"nowhere\"\r\n"
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "t.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(
            error.description
                == #"t.conf:4: cluster.listen: "nowhere" is not HOST:PORT (IPv6 as "[::1]:8080", port 0-65535)"#
        )
    }

    @Test func emptyFileIsTheDefaultConfiguration() throws {
        let config = try TenantsFile.parse("# nothing yet\n", fileName: "t.conf", baseDirectory: nil).get()
        #expect(config == ClusterConfiguration())
    }

    @Test func threeIndependentErrorsAreAllReportedAtTheirLines() {
        let text = """
            [cluster]
            max_workers = 0
            ports = "20000-29999"

            [defaults]
            command = ["/bin/app", "--port", "{port}"]

            [tenant.acme]
            readiness = "ready"

            [tenant.beta]
            idle_timeout = "5 minutes"
            """
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "tenants.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(error.code == .invalid)
        #expect(
            error.issues.map(\.keyPath) == ["cluster.max_workers", "tenant.acme.readiness", "tenant.beta.idle_timeout"]
        )
        #expect(error.issues.map(\.line) == [2, 9, 12])
        #expect(
            error.description == """
                tenants.conf:2: cluster.max_workers: must be ≥ 1, found 0
                tenants.conf:9: tenant.acme.readiness: "ready" is not one of listen-fds | notify | tcp
                tenants.conf:12: tenant.beta.idle_timeout: "5 minutes" is not a duration like "250ms", "30s", "5m" or "1h30m"
                """
        )
    }

    @Test func issuesAreInFileOrderWithUnlocatedOnesLast() {
        // The decoder finds the [tenant] issue before the host-wide one and the [cluster] one first.
        let text = """
            [defaults]
            command = ["/bin/app"]
            min_workers = 300
            max_workers = 300
            [tenant.acme]
            [tenant.beta]
            max_worker = 1
            [cluster]
            listen = "nowhere"
            """
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "t.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(error.issues.map(\.keyPath) == ["tenant.beta.max_worker", "cluster.listen", "cluster.max_workers"])
        #expect(error.issues.map(\.line) == [7, 9, nil])
        #expect(error.description.split(separator: "\n").last?.hasPrefix("t.conf: cluster.max_workers: ") == true)
    }

    @Test func anInvalidDefaultCommandIsReportedOnceNotAsMissing() {
        let text = """
            [defaults]
            command = "/bin/app --port {port}"
            [tenant.acme]
            [tenant.beta]
            """
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "t.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(error.issues.map(\.keyPath) == ["defaults.command"])
        #expect(error.issues.map(\.line) == [2])
    }

    @Test func anInheritedErrorPointsAtTheDefaultsLineForEveryTenant() {
        let text = """
            [defaults]
            command = ["/bin/app", "{tenant}", "{prot}"]
            [tenant.acme]
            [tenant.beta]
            command = ["/bin/beta", "{port}"]
            [tenant.gamma]
            """
        guard case .failure(let error) = TenantsFile.parse(text, fileName: "t.conf", baseDirectory: nil) else {
            Issue.record("accepted a broken file")
            return
        }
        #expect(error.issues.map(\.keyPath) == ["tenant.acme.command", "tenant.gamma.command"])
        #expect(error.issues.map(\.line) == [2, 2])
    }

    @Test func syntaxErrorNamesLineAndColumn() {
        guard case .failure(let error) = TenantsFile.parse("a = 1\nb 2\n", fileName: "x.conf", baseDirectory: nil)
        else {
            Issue.record("accepted bad TOML")
            return
        }
        #expect(error.code == .syntax)
        #expect(error.description == "x.conf:2: expected '=', saw '2' (in key-value pair, column 3)")
    }

    @Test func codesAreDistinctAndNamed() {
        let codes: [TenantsFileError.Code] = [.unreadable, .syntax, .invalid]
        #expect(Set(codes).count == 3)
        #expect(codes.map(\.description) == ["unreadable", "syntax", "invalid"])
    }
}
