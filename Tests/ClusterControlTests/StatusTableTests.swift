import ClusterControl
import Testing

@Suite("clusterctl status: the table")
struct StatusTableTests {
    @Test("the fixture, line for line")
    func fixture() {
        let expected = [
            "clusterd: 3 tenants, 3 of at most 512 workers on the host",
            "TENANT  STATE    WORKERS  SCALE  WAITING  LAST ERROR",
            "  WORKER   PID    PORT   STATE     UPTIME  IN-FLIGHT  IDLE-IN  STATUS",
            "acme    running  1/2      2      0        -",
            "  acme#1   14874  20000  ready     4m12s   3          -        serving 3 sessions",
            "  acme#2   14901  20001  draining  1h2m    1          -        (replaced)",
            "beta    failed   0/0      -      2        retry in 4s: worker beta#7 exited with status 1 before ...",
            "gamma   running  1/1      -      0        -",
            "  gamma#1  15002  20002  ready     950ms   0          4m59s    -",
        ]
        let lines = StatusTable(Fixtures.snapshot).lines
        #expect(lines == expected)
        #expect(lines.allSatisfy { $0.count <= 100 })
        #expect(lines[6].count == 100)
        #expect(StatusTable(Fixtures.snapshot).text == expected.joined(separator: "\n") + "\n")
    }

    @Test("one tenant (status acme), the way clusterd answers it")
    func oneTenant() {
        var snapshot = Fixtures.snapshot
        snapshot.tenants = snapshot.tenants.filter { $0.name == "gamma" }
        #expect(
            StatusTable(snapshot).lines == [
                "clusterd: 1 tenant, 3 of at most 512 workers on the host",
                "TENANT  STATE    WORKERS  SCALE  WAITING  LAST ERROR",
                "  WORKER   PID    PORT   STATE  UPTIME  IN-FLIGHT  IDLE-IN  STATUS",
                "gamma   running  1/1      -      0        -",
                "  gamma#1  15002  20002  ready  950ms   0          4m59s    -",
            ]
        )
    }

    @Test("no workers anywhere: no worker header; no tenants at all; shutting down")
    func empty() {
        var snapshot = Fixtures.snapshot
        snapshot.tenants = snapshot.tenants.filter { $0.name == "beta" }
        #expect(
            StatusTable(snapshot).lines == [
                "clusterd: 1 tenant, 3 of at most 512 workers on the host",
                "TENANT  STATE   WORKERS  SCALE  WAITING  LAST ERROR",
                "beta    failed  0/0      -      2        retry in 4s: worker beta#7 exited with status 1 before i...",
            ]
        )
        let none = ClusterSnapshot(domain: nil, maxWorkers: 8, workersTotal: 0, shuttingDown: true, tenants: [])
        #expect(
            StatusTable(none).lines == [
                "clusterd: 0 tenants, 0 of at most 8 workers on the host, shutting down", "no tenants",
            ]
        )
    }

    @Test("a starting worker: no uptime, no idle deadline; a worker's status text on one line and cut")
    func startingWorkerAndLongStatus() throws {
        var snapshot = Fixtures.snapshot
        var starting = try JSONValue.decodeLine(Fixtures.startingWorkerJSON, as: WorkerSnapshot.self)
        starting.status = "loading\nline two\twith a tab " + String(repeating: "very long ", count: 20)
        snapshot.tenants[2].workers = [starting]
        snapshot.tenants[2].name = "delta"
        snapshot.tenants[2].state = .starting
        let lines = StatusTable(snapshot).lines
        let line = try #require(lines.first { $0.hasPrefix("  delta#1") })
        #expect(
            line.hasPrefix(
                "  delta#1  16000  20003  starting  -       0          -        loading line two with a tab very"
            )
        )
        #expect(line.hasSuffix("..."))
        #expect(line.count == 100)
        #expect(lines.allSatisfy { $0.count <= 100 && !$0.hasSuffix(" ") })
    }

    @Test("a narrower table cuts only the last column")
    func narrow() {
        let lines = StatusTable(Fixtures.snapshot, width: 60).lines
        #expect(lines[4] == "  acme#1   14874  20000  ready     4m12s   3          -        ...")
        #expect(lines[6] == "beta    failed   0/0      -      2        retry in 4s: wo...")
    }
}

@Suite("States a later clusterd may add")
struct UnknownStateTests {
    @Test("a tenant or worker state this build does not know is read and shown as it is, not refused")
    func unknownStates() throws {
        let line = #"""
            {"id":1,"result":{"max_workers":4,"workers_total":1,"shutting_down":false,"tenants":[{"name":"acme",
            "state":"hibernating","hosts":[],"floor":0,"target":1,"max_workers":1,"queue_limit":10,"max_concurrency":0,
            "waiting":0,"workers":[{"id":"acme#1","pid":7,"port":20001,"state":"frozen","in_flight":0}]}]}}
            """#.replacingOccurrences(of: "\n", with: "")
        guard case .reply(_, .success(let value))? = IncomingLine(Array(line.utf8)) else {
            Issue.record("not read as a reply")
            return
        }
        let snapshot = try value.decode(as: ClusterSnapshot.self)
        #expect(snapshot.tenants[0].state.rawValue == "hibernating")
        #expect(snapshot.tenants[0].workers[0].state.rawValue == "frozen")
        let text = StatusTable(snapshot).text
        #expect(text.contains("hibernating"))
        #expect(text.contains("frozen"))
    }
}
