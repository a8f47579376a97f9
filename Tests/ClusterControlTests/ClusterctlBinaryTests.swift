import ClusterControl
import Foundation
import Testing

/// clusterctl itself against a scripted clusterd: what it sends, what it prints, and its exit status
/// (0 ok, 1 operation failed, 2 usage, 3 cannot reach clusterd).
@Suite("clusterctl, the real binary", .serialized, .timeLimit(.minutes(2)))
struct ClusterctlBinaryTests {
    /// Runs clusterctl against a fake clusterd answering with `respond`; returns the outcome and what it received.
    func run(
        _ arguments: [String],
        greeting: [String] = [],
        respond: @escaping @Sendable (ControlRequest) -> FakeClusterd.Response? = { _ in nil }
    ) throws -> (ClusterctlProcess.Outcome, [ControlRequest], String) {
        let server = try FakeClusterd(greeting: greeting, respond: respond)
        defer { server.stop() }
        let outcome = try ClusterctlProcess.run(["--socket", server.path] + arguments)
        return (outcome, server.requests, server.path)
    }

    static func snapshotReply(_ request: ControlRequest) -> FakeClusterd.Response? {
        guard case .status = request.operation else { return nil }
        return .lines([FakeClusterd.reply(request, Fixtures.snapshot)])
    }

    // MARK: - 0: success

    @Test("status: hello first, then status; the table on stdout, nothing on stderr, exit 0")
    func status() throws {
        let (outcome, requests, _) = try run(["status"], respond: Self.snapshotReply)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.output == StatusTable(Fixtures.snapshot).text)
        #expect(outcome.errors == "")
        #expect(requests.map(\.operation) == [.hello(versions: [1], client: "clusterctl"), .status(tenant: nil)])
        #expect(requests.map(\.id) == [.number(1), .number(2)])
    }

    @Test("status acme --json: the tenant asked for; the snapshot pretty-printed with sorted keys")
    func statusJSON() throws {
        let (outcome, requests, _) = try run(["status", "acme", "--json"], respond: Self.snapshotReply)
        #expect(outcome.status == 0, "\(outcome)")
        #expect(requests.last?.operation == .status(tenant: "acme"))
        #expect(try JSONValue.decodeLine(outcome.output, as: ClusterSnapshot.self) == Fixtures.snapshot)
        let lines = outcome.output.split(separator: "\n")
        #expect(lines.first == "{")
        #expect(lines.dropFirst().first == #"  "domain" : "example.test","#)
        #expect(lines.last == "}")
        let keys = lines.filter { $0.hasPrefix("  \"") }.map { $0.split(separator: "\"")[1] }
        #expect(keys == ["domain", "max_workers", "shutting_down", "tenants", "workers_total"])
    }

    @Test(
        "10,000 tenants and 1,000 workers, a status line over 1 MiB: the whole table, and --json as JSONEncoder has it"
    )
    func largeSnapshot() throws {
        let snapshot = Fixtures.cluster(tenants: 10_000, workers: 1_000)
        let respond: @Sendable (ControlRequest) -> FakeClusterd.Response? = { request in
            guard case .status = request.operation else { return nil }
            return .lines([FakeClusterd.reply(request, snapshot)])
        }
        #expect(ControlCodec.reply(id: .number(2), snapshot).count > 1 << 20)
        let (table, _, _) = try run(["status"], respond: respond)
        #expect(table.status == 0, "\(table.errors)")
        #expect(table.output == StatusTable(snapshot).text)
        #expect(table.output.split(separator: "\n").count == 2 + 1 + 10_000 + 1_000)
        let (json, _, _) = try run(["status", "--json"], respond: respond)
        #expect(json.status == 0, "\(json.errors)")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        #expect(json.output == String(decoding: try encoder.encode(snapshot), as: UTF8.self) + "\n")
    }

    @Test("scale: one request with every tenant; the resulting scales on stdout")
    func scale() throws {
        let (outcome, requests, _) = try run(["scale", "acme=4", "beta=0"]) { request in
            guard case .scale = request.operation else { return nil }
            return .lines([FakeClusterd.reply(request, ScaleReply(scales: ["acme": 4, "gamma": 2]))])
        }
        #expect(outcome.status == 0, "\(outcome)")
        #expect(requests.last?.operation == .scale(["acme": 4, "beta": 0]))
        #expect(outcome.output == "acme=4\nbeta=0 (on demand)\n")
    }

    @Test(
        "start, stop, restart, drain: the operation and the tenant; a confirmation on stdout",
        arguments: [
            ("start", ControlOperation.start(tenant: "acme"), "acme: starting\n"),
            ("stop", .stop(tenant: "acme"), "acme: stopping\n"),
            ("restart", .restart(tenant: "acme"), "acme: restarting (rolling)\n"),
            ("drain", .drain(tenant: "acme"), "acme: draining\n"),
        ]
    )
    func tenantCommand(_ command: String, _ operation: ControlOperation, _ printed: String) throws {
        let (outcome, requests, _) = try run([command, "acme"]) { request in
            request.operation == operation ? .lines([FakeClusterd.reply(request, EmptyReply())]) : nil
        }
        #expect(outcome.status == 0, "\(outcome)")
        #expect(requests.last?.operation == operation)
        #expect(outcome.output == printed)
    }

    @Test("reload")
    func reload() throws {
        let (outcome, _, _) = try run(["reload"]) { request in
            request.operation == .reload ? .lines([FakeClusterd.reply(request, ReloadReply(tenants: 3))]) : nil
        }
        #expect(outcome.status == 0, "\(outcome)")
        #expect(outcome.output == "reloaded: 3 tenants\n")
    }

    @Test("the reply is found among events and other replies, and put together from a byte at a time")
    func replyAmongOtherLines() throws {
        let (outcome, _, _) = try run(["status"]) { request in
            guard case .status = request.operation else { return nil }
            return .lines(
                [
                    #"{"event":"worker-ready","tenant":"acme","worker":"acme#1","port":20000}"#,
                    #"{"id":99,"result":{}}"#,
                    #"{"id":"2","error":{"code":"internal","message":"a string id is another id"}}"#,
                ] + [FakeClusterd.reply(request, Fixtures.snapshot)]
            )
        }
        #expect(outcome.status == 0, "\(outcome)")
        let (trickled, _, _) = try run(["reload"]) { request in
            request.operation == .reload ? .trickle(FakeClusterd.reply(request, ReloadReply(tenants: 1))) : nil
        }
        #expect(trickled.status == 0, "\(trickled)")
        #expect(trickled.output == "reloaded: 1 tenant\n")
    }

    @Test("CLUSTERD_SOCKET chooses the socket; --socket wins over it")
    func socketVariable() throws {
        let server = try FakeClusterd(respond: Self.snapshotReply)
        defer { server.stop() }
        let fromVariable = try ClusterctlProcess.run(["status"], socketVariable: server.path)
        #expect(fromVariable.status == 0, "\(fromVariable)")
        let overridden = try ClusterctlProcess.run(
            ["--socket", "/nonexistent/c.sock", "status"],
            socketVariable: server.path
        )
        #expect(overridden.status == 3)
        #expect(overridden.errors.contains("/nonexistent/c.sock"))
        let after = try ClusterctlProcess.run(
            ["status", "--socket", server.path],
            socketVariable: "/nonexistent/c.sock"
        )
        #expect(after.status == 0, "options of clusterctl also after the subcommand: \(after)")
    }

    // MARK: - 1: the operation failed

    @Test("an error reply: its message on stderr, exit 1")
    func operationFailed() throws {
        let (outcome, _, _) = try run(["status", "zeta"]) { request in
            guard case .status = request.operation else { return nil }
            return .lines([FakeClusterd.reply(request, error: ControlError(.unknownTenant, #"no tenant named "zeta""#))]
            )
        }
        #expect(outcome.status == 1)
        #expect(outcome.output == "")
        #expect(outcome.errors == "clusterctl: no tenant named \"zeta\"\n")
    }

    @Test("a rejected reload: the message, then every error line as it is, exit 1")
    func invalidConfiguration() throws {
        let details = [
            "tenants.conf:12: tenant.acme.x: unknown key",
            "tenants.conf:14: tenant.beta.idle_timeout: \"5 minutes\" is not a duration",
        ]
        let (outcome, _, _) = try run(["reload"]) { request in
            guard request.operation == .reload else { return nil }
            let error = ControlError(
                .invalidConfiguration,
                "tenants.conf has 2 errors; nothing changed",
                details: details
            )
            return .lines([FakeClusterd.reply(request, error: error)])
        }
        #expect(outcome.status == 1)
        #expect(
            outcome.errors == (["clusterctl: tenants.conf has 2 errors; nothing changed"] + details).joined(
                separator: "\n"
            ) + "\n"
        )
    }

    // MARK: - 2: usage

    @Test(
        "usage errors: exit 2, the reason and the usage on stderr, nothing sent",
        arguments: [
            (["scale", "acme=x"], #"clusterctl: "acme=x": the worker count must be a whole number ≥ 0, found "x""#),
            (["scale", "acme=-1"], "clusterctl: \"acme=-1\": the worker count must be a whole number ≥ 0"),
            (["scale", "acme"], "clusterctl: \"acme\" is not TENANT=N"),
            (["scale"], "clusterctl: give at least one TENANT=N"),
            (["scale", "acme=1", "acme=2"], "clusterctl: tenant \"acme\" is given more than once"),
            (["--bogus", "status"], "clusterctl: Unknown option '--bogus'"),
            (["status", "--bogus"], "clusterctl: Unknown option '--bogus'"),
            (["status", "a", "b"], "clusterctl: Unexpected argument 'b'"),
            (["frobnicate"], "clusterctl: Unexpected argument 'frobnicate'"),
            (["start"], "clusterctl: Missing expected argument '<tenant>'"),
            (["drain", ""], "clusterctl: the tenant name is empty"),
            (["--timeout", "0", "status"], "clusterctl: --timeout must be more than 0"),
            (["--timeout", "soon", "status"], "clusterctl: The value 'soon' is invalid for '--timeout <seconds>'"),
            ([], "USAGE: clusterctl [--socket <path>] [--timeout <seconds>] <subcommand>"),
        ]
    )
    func usage(_ arguments: [String], _ message: String) throws {
        let (outcome, requests, _) = try run(arguments)
        #expect(outcome.status == 2, "\(outcome)")
        #expect(outcome.output == "")
        #expect(outcome.errors.contains(message), "\(outcome.errors)")
        #expect(outcome.errors.localizedCaseInsensitiveContains("usage"))
        #expect(requests.isEmpty)
    }

    @Test("--help (with the exit statuses) and --generate-completion-script: exit 0 on stdout")
    func helpAndCompletion() throws {
        let help = try ClusterctlProcess.run(["--help"])
        #expect(help.status == 0)
        #expect(help.output.contains("EXIT STATUS"))
        #expect(help.output.contains("3  cannot reach clusterd"))
        for shell in ["bash", "zsh", "fish"] {
            let completion = try ClusterctlProcess.run(["--generate-completion-script", shell])
            #expect(completion.status == 0)
            #expect(completion.output.contains("clusterctl"))
            #expect(completion.output.contains("scale"))
        }
    }

    // MARK: - 3: cannot reach clusterd

    @Test("no socket: exit 3, which socket and why, and what to do")
    func noSocket() throws {
        let outcome = try ClusterctlProcess.run(["--socket", "/nonexistent/control.sock", "status"])
        #expect(outcome.status == 3)
        #expect(outcome.output == "")
        #expect(
            outcome.errors
                == "clusterctl: cannot reach clusterd at /nonexistent/control.sock: No such file or directory "
                + "(is clusterd running? --socket or CLUSTERD_SOCKET choose another)\n"
        )
    }

    @Test("a file that is not a listening socket: connection refused, exit 3")
    func notASocket() throws {
        let server = try FakeClusterd()
        server.stop()  // the socket file is gone; make a plain file in its place
        let path = "/tmp/clusterctl-test-plain-\(getpid())"
        #expect(FileManager.default.createFile(atPath: path, contents: Data()))
        defer { unlink(path) }
        let outcome = try ClusterctlProcess.run(["--socket", path, "status"])
        #expect(outcome.status == 3)
        #expect(
            outcome.errors.hasPrefix(
                "clusterctl: cannot reach clusterd at \(path): Connection refused (is clusterd running?"
            )
        )
    }

    @Test("refused: clusterd's permission-denied line, then the connection closed: exit 3 with its message")
    func permissionDenied() throws {
        let refusal =
            #"{"error":{"code":"permission-denied","message":"uid 65534 is not allowed: root, clusterd's uid 0 or group clusterd only"},"id":null}"#
        let (outcome, _, path) = try run(["status"], greeting: [refusal]) { _ in .close }
        #expect(outcome.status == 3)
        #expect(
            outcome.errors
                == "clusterctl: cannot reach clusterd at \(path): uid 65534 is not allowed: root, clusterd's uid 0 or group clusterd only\n"
        )
    }

    @Test("refused and closed before the hello was read: the refusal's message, even when the hello met EPIPE")
    func refusedBeforeHello() throws {
        let refusal = #"{"error":{"code":"permission-denied","message":"uid 65534 may not use it"},"id":null}"#
        let server = try FakeClusterd(greeting: [refusal], closeAfterGreeting: true)
        defer { server.stop() }
        // The two orders race; enough rounds see both.
        for _ in 0..<40 {
            let outcome = try ClusterctlProcess.run(["--socket", server.path, "status"])
            #expect(outcome.status == 3)
            #expect(
                outcome.errors == "clusterctl: cannot reach clusterd at \(server.path): uid 65534 may not use it\n",
                "\(outcome)"
            )
        }
    }

    @Test("too many connections: exit 3")
    func tooManyConnections() throws {
        let refusal = #"{"error":{"code":"too-many-connections","message":"256 connections already"},"id":null}"#
        let (outcome, _, _) = try run(["reload"], greeting: [refusal]) { _ in .close }
        #expect(outcome.status == 3)
        #expect(outcome.errors.contains("256 connections already"))
    }

    @Test("no common protocol version: exit 3")
    func unsupportedVersion() throws {
        let (outcome, _, _) = try run(["status"]) { request in
            guard case .hello = request.operation else { return nil }
            return .lines([
                FakeClusterd.reply(request, error: ControlError(.unsupportedVersion, "clusterd speaks version 2 only"))
            ])
        }
        #expect(outcome.status == 3)
        #expect(outcome.errors.contains("clusterd speaks version 2 only"))
    }

    @Test("closed before the reply: exit 3")
    func closedBeforeReply() throws {
        let (outcome, requests, path) = try run(["stop", "acme"]) { request in
            if case .stop = request.operation { return .close }
            return nil
        }
        #expect(outcome.status == 3)
        #expect(requests.last?.operation == .stop(tenant: "acme"))
        #expect(
            outcome.errors == "clusterctl: cannot reach clusterd at \(path): the connection was closed before a reply\n"
        )
    }

    @Test("no reply in time: exit 3 after --timeout")
    func timeout() throws {
        let started = ContinuousClock.now
        let (outcome, _, _) = try run(["--timeout", "0.5", "reload"]) { request in
            request.operation == .reload ? .silence : nil
        }
        let elapsed = ContinuousClock.now - started
        #expect(outcome.status == 3)
        #expect(outcome.errors.contains("no answer within 500ms while waiting for a reply"), "\(outcome.errors)")
        #expect(elapsed >= .milliseconds(500) && elapsed < .seconds(10))
    }

    @Test("something that does not speak the protocol, or a line over 64 MiB: exit 3", arguments: [0, 1])
    func notTheProtocol(_ variant: Int) throws {
        let (outcome, _, _) = try run(["status"]) { request in
            guard case .hello = request.operation else { return nil }
            return variant == 0
                ? .lines(["HTTP/1.1 400 Bad Request"])
                : .raw([UInt8](repeating: UInt8(ascii: "x"), count: ControlCodec.maximumReplyLineLength + 100_000))
        }
        #expect(outcome.status == 3)
        #expect(outcome.errors.contains(variant == 0 ? "not of the control protocol" : "longer than 67108864 bytes"))
    }
}
