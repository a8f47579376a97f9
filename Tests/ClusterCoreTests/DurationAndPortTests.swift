import Testing

@testable import ClusterCore

@Suite("Durations, instants, ports and ids")
struct DurationAndPortTests {
    // MARK: - Duration notation

    @Test(
        "durations in tenants.conf notation",
        arguments: [
            ("250ms", Duration.milliseconds(250)), ("30s", .seconds(30)), ("5m", .seconds(300)),
            ("1h", .seconds(3600)), ("1h30m", .seconds(5400)), ("1m30s", .seconds(90)), ("0s", .zero),
            ("1s500ms", .milliseconds(1500)), ("999999999ms", .milliseconds(999_999_999)),
        ]
    )
    func parsesDurations(text: String, duration: Duration) {
        #expect(DurationSyntax.parse(text) == duration)
    }

    @Test(
        "text that is not a duration",
        arguments: [
            "", "5", "s", "ms", "5x", "5 s", " 5s", "-5s", "5.5s", "5mss", "5sm", "1d", "5S", "1000000000s", "s5",
        ]
    )
    func rejectsDurations(text: String) {
        #expect(DurationSyntax.parse(text) == nil)
    }

    @Test(
        "durations written for humans",
        arguments: [
            (Duration.zero, "0s"), (.nanoseconds(1), "<1ms"), (.milliseconds(250), "250ms"), (.seconds(30), "30s"),
            (.seconds(300), "5m"), (.seconds(5400), "1h30m"), (.milliseconds(1600), "1s600ms"),
            (.seconds(-2), "-2s"), (.milliseconds(3_600_001), "1h1ms"),
        ]
    )
    func formatsDurations(duration: Duration, text: String) {
        #expect(duration.formattedForHumans == text)
    }

    @Test("formatting and parsing agree", arguments: ["250ms", "30s", "5m", "1h30m", "2h", "1m1s1ms"])
    func roundTrip(text: String) throws {
        let duration = try #require(DurationSyntax.parse(text))
        #expect(duration.formattedForHumans == text)
    }

    @Test(
        "Duration in nanoseconds and milliseconds, saturating",
        arguments: [
            (Duration.seconds(1), Int64(1_000_000_000)), (.milliseconds(1500), 1_500_000_000), (.nanoseconds(-7), -7),
            (.seconds(-1) - .milliseconds(500), -1_500_000_000), (.seconds(Int64.max), .max),
            (.seconds(Int64.min), .min),
        ]
    )
    func nanoseconds(duration: Duration, nanoseconds: Int64) {
        #expect(duration.nanoseconds == nanoseconds)
    }

    @Test("milliseconds truncate")
    func milliseconds() {
        #expect(Duration.nanoseconds(1_999_999).milliseconds == 1)
        #expect(Duration.seconds(2).milliseconds == 2000)
    }

    // MARK: - Instant

    @Test("instant arithmetic")
    func instantArithmetic() {
        let a = Instant(nanoseconds: 5_000_000_000)
        #expect(a + .seconds(1) == Instant(nanoseconds: 6_000_000_000))
        #expect(a - .milliseconds(500) == Instant(nanoseconds: 4_500_000_000))
        #expect((a + .seconds(3)) - a == .seconds(3))
        #expect(a - (a + .seconds(3)) == .seconds(-3))
        #expect(a < a + .nanoseconds(1))
        #expect(Instant.zero < a)
        #expect(a.description == "t+5s")
    }

    @Test("instant arithmetic saturates instead of trapping")
    func instantSaturates() {
        #expect(Instant(nanoseconds: .max - 1) + .seconds(10) == Instant(nanoseconds: .max))
        #expect(Instant(nanoseconds: .min + 1) - .seconds(10) == Instant(nanoseconds: .min))
        #expect(Instant(nanoseconds: 0) + .seconds(Int64.max) == Instant(nanoseconds: .max))
    }

    // MARK: - Port ranges

    @Test(
        "port ranges",
        arguments: [
            ("20000-29999", PortRange(20000...29999) as PortRange?), ("8080", PortRange(8080...8080)),
            ("1-65535", PortRange(1...65535)), (" 100 - 200 ", PortRange(100...200)),
            ("0-10", nil), ("10-5", nil), ("1-65536", nil), ("a-b", nil), ("", nil), ("1-2-3", nil), ("-5", nil),
            ("5-", nil),
        ]
    )
    func portRanges(text: String, range: PortRange?) {
        #expect(PortRange(parsing: text) == range)
    }

    @Test("port range size and membership")
    func portRangeBasics() {
        let range = PortRange(20000...20009)
        #expect(range.count == 10)
        #expect(range.contains(20000) && range.contains(20009))
        #expect(!range.contains(19999) && !range.contains(20010))
        #expect(range.description == "20000-20009")
    }

    // MARK: - Port allocator

    @Test("ports are handed out round-robin; a released port is not reused at once")
    func roundRobin() {
        var ports = PortAllocator(range: PortRange(100...103))
        #expect(ports.allocate(now: t0) == 100)
        #expect(ports.allocate(now: t0) == 101)
        ports.release(100)
        #expect(ports.allocate(now: t0) == 102)
        #expect(ports.allocate(now: t0) == 103)
        #expect(ports.allocate(now: t0) == 100)  // wrapped round to the free one
        #expect(ports.allocate(now: t0) == nil)  // 100-103 all in use
        #expect(ports.inUseCount == 4)
        ports.release(102)
        #expect(ports.allocate(now: t0) == 102)
        #expect(!ports.isInUse(999))
    }

    @Test("a blocked port is skipped until its time is up")
    func blockedPort() {
        var ports = PortAllocator(range: PortRange(100...101))
        #expect(ports.allocate(now: t0) == 100)
        ports.block(100, until: t0 + .seconds(60))
        #expect(ports.allocate(now: t0) == 101)
        #expect(ports.allocate(now: t0 + .seconds(59)) == nil)
        #expect(ports.allocate(now: t0 + .seconds(60)) == 100)
    }

    @Test("a changed range is used from its start; ports in use stay in use")
    func changedRange() {
        var ports = PortAllocator(range: PortRange(100...101))
        #expect(ports.allocate(now: t0) == 100)
        ports.changeRange(to: PortRange(200...201))
        #expect(ports.allocate(now: t0) == 200)
        #expect(ports.isInUse(100))
        ports.release(100)
        #expect(!ports.isInUse(100))
    }

    // MARK: - Ports in the machine

    @Test("the machine releases ports at exit and reuses them round-robin")
    func machinePorts() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3), ports: 20000...20002))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        #expect(shell.log.launches.map(\.port) == [20000, 20001])
        shell.exit(.acme(1), .exited(0))
        #expect(!shell.machine.ports.isInUse(20000))
        shell.activate("acme", additional: true)
        #expect(shell.launches[.acme(3)]?.port == 20002)
        shell.activate("acme", additional: true)
        #expect(shell.launches[.acme(4)]?.port == 20000)
    }

    @Test("a killed worker keeps its port until it has exited")
    func killedKeepsPort() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", readiness: .tcp), ports: 20000...20000))
        shell.activate("acme")
        shell.advance(by: .seconds(30))  // start timeout: killed, not yet exited
        #expect(shell.machine.ports.isInUse(20000))
        let activation = shell.activate("acme")
        shell.advance(by: .seconds(1))
        #expect(shell.log.launches.count == 1)
        shell.exit(.acme(1), .signaled(9))
        #expect(shell.launches[.acme(2)]?.port == 20000)
        #expect(shell.answers(for: activation).isEmpty)
    }

    @Test("no port is ever handed out twice while in use")
    func portsUnique() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 10), ports: 20000...20009))
        for _ in 0..<10 { shell.activate("acme", additional: true) }
        let ports = shell.log.launches.map(\.port)
        #expect(ports.count == 10)
        #expect(Set(ports).count == 10)
    }

    @Test("with every port taken, a need waits and says why")
    func portsExhausted() throws {
        var shell = SimulatedShell(.fixture(.fixture("acme", maxWorkers: 3), ports: 20000...20001))
        shell.activate("acme")
        shell.activate("acme", additional: true)
        shell.activate("acme", additional: true)
        #expect(shell.log.launches.count == 2)
        #expect(shell.pool("acme")?.lastError?.contains("no free port") == true)
    }

    // MARK: - Worker ids, commands, exit statuses

    @Test(
        "worker ids parse from tenant#serial",
        arguments: [
            ("acme#1", WorkerID(tenant: "acme", serial: 1) as WorkerID?),
            ("a#b#12", WorkerID(tenant: "a#b", serial: 12)),
            ("acme", nil), ("#1", nil), ("acme#", nil), ("acme#0", nil), ("acme#-1", nil), ("acme#x", nil),
        ]
    )
    func workerIDs(text: String, id: WorkerID?) {
        #expect(WorkerID(parsing: text) == id)
        if let id { #expect(id.description == text) }
    }

    @Test("worker ids sort by tenant, then serial")
    func workerIDOrder() {
        #expect(WorkerID.acme(2) < WorkerID.acme(10))
        #expect(WorkerID.acme(10) < WorkerID.beta(1))
    }

    @Test("{port} and {tenant} are substituted everywhere in argv")
    func commandTemplate() {
        #expect(
            CommandTemplate.substitute(["/a", "{port}", "--x={tenant}:{port}", "{other}"], port: 7, tenant: "t")
                == ["/a", "7", "--x=t:7", "{other}"]
        )
        #expect(CommandTemplate.placeholders(in: "--x={tenant}:{port}{Bad}{}") == ["tenant", "port"])
    }

    @Test(
        "exit statuses",
        arguments: [
            (ExitStatus.exited(0), true, "exited with status 0"), (.exited(1), false, "exited with status 1"),
            (.signaled(9), false, "killed by signal 9 (SIGKILL)"), (.signaled(64), false, "killed by signal 64"),
        ]
    )
    func exitStatuses(status: ExitStatus, success: Bool, text: String) {
        #expect(status.isSuccess == success)
        #expect(status.description == text)
    }

    @Test("activation failures read as a user can act on them")
    func failureDescriptions() {
        #expect(ActivationFailure.unknownTenant("x").description == "no tenant named \"x\"")
        #expect(ActivationFailure.startTimedOut(.seconds(30)).description.contains("30s"))
        #expect(ActivationFailure.hostAtCapacity(8).description.contains("(8)"))
        #expect(
            ActivationFailure.tenantFailed(reason: "exited with status 1", retryAfter: .milliseconds(1600)).description
                == "tenant is failing (exited with status 1); retrying in 1s600ms"
        )
        #expect(ActivationFailure.tenantStopped.description.contains("clusterctl start"))
    }

    @Test("a need that waits only for a blocked port gets a deadline when the port comes free")
    func blockedPortDeadline() throws {
        var shell = SimulatedShell(
            .fixture(.fixture("acme", startTimeout: .seconds(120)), ports: 20000...20000),
            reportsLaunches: false
        )
        let activation = shell.activate("acme")
        shell.reportLaunchFailed(.acme(1), .portUnavailable)
        #expect(shell.lastActions.launches.isEmpty)
        #expect(shell.pool("acme")?.lastError?.contains("no free port") == true)
        let blockedAt = shell.now
        #expect(shell.machine.nextDeadline() == blockedAt + .seconds(60))

        shell.advance(to: blockedAt + .seconds(60) - .nanoseconds(1))
        #expect(shell.lastActions.isEmpty)
        shell.advance(to: blockedAt + .seconds(60))
        #expect(shell.launchedWorkers() == [.acme(2)])
        #expect(shell.launches[.acme(2)]?.port == 20000)
        shell.reportLaunched(.acme(2))
        #expect(shell.answers(for: activation).first?.readyWorkers == [.acme(2)])
    }
}
