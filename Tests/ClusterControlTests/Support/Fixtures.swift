import ClusterControl
import ClusterCore

/// A small cluster as clusterd describes it: one running tenant with two workers (one draining), one failed,
/// one idle. Decoded from JSON, the way clients receive it.
enum Fixtures {
    static let snapshotJSON = #"""
        {
          "domain": "example.test",
          "max_workers": 512,
          "workers_total": 3,
          "shutting_down": false,
          "tenants": [
            {
              "name": "acme", "state": "running", "hosts": ["acme.example.test", "www.acme.com"],
              "scale": 2, "floor": 2, "target": 2, "max_workers": 4, "queue_limit": 100, "max_concurrency": 0,
              "waiting": 0,
              "workers": [
                {"id": "acme#1", "pid": 14874, "port": 20000, "state": "ready", "in_flight": 3,
                 "uptime_ms": 252000, "status": "serving 3 sessions"},
                {"id": "acme#2", "pid": 14901, "port": 20001, "state": "draining", "stop_reason": "replaced",
                 "in_flight": 1, "uptime_ms": 3723000}
              ]
            },
            {
              "name": "beta", "state": "failed", "hosts": [], "floor": 0, "target": 0, "max_workers": 1,
              "queue_limit": 100, "max_concurrency": 0, "waiting": 2,
              "last_error": "worker beta#7 exited with status 1 before it was ready", "retry_in_ms": 4200,
              "workers": []
            },
            {
              "name": "gamma", "state": "running", "hosts": [], "floor": 1, "target": 1, "max_workers": 1,
              "queue_limit": 100, "max_concurrency": 8, "waiting": 0,
              "workers": [
                {"id": "gamma#1", "pid": 15002, "port": 20002, "state": "ready", "in_flight": 0,
                 "uptime_ms": 950, "idle_in_ms": 299050}
              ]
            }
          ]
        }
        """#

    static var snapshot: ClusterSnapshot {
        try! JSONValue.decodeLine(snapshotJSON, as: ClusterSnapshot.self)
    }

    /// A worker that is still starting: no uptime, no idle deadline.
    static let startingWorkerJSON = #"""
        {"id": "delta#1", "pid": 16000, "port": 20003, "state": "starting", "in_flight": 0}
        """#
}

extension Fixtures {
    /// A host's worth: `tenants` tenants (`t0`, `t1`, …), the first `workers` of them running one ready worker each.
    /// 10,000 tenants make a status line of about 1.5 MiB.
    static func cluster(tenants: Int, workers: Int) -> ClusterSnapshot {
        ClusterSnapshot(
            domain: "example.test",
            maxWorkers: 1100,
            workersTotal: workers,
            shuttingDown: false,
            tenants: (0..<tenants).map { index in
                let running = index < workers
                return TenantSnapshot(
                    name: "t\(index)",
                    state: running ? .running : .idle,
                    hosts: index % 10 == 0 ? ["t\(index).example.com"] : [],
                    scale: nil,
                    floor: 0,
                    target: running ? 1 : 0,
                    maxWorkers: 1,
                    queueLimit: 100,
                    maxConcurrency: 0,
                    waiting: 0,
                    lastError: nil,
                    retryInMilliseconds: nil,
                    workers: running
                        ? [
                            WorkerSnapshot(
                                id: WorkerID(tenant: "t\(index)", serial: 1),
                                pid: Int32(10_000 + index),
                                port: 20_000 + index,
                                state: .ready,
                                stopReason: nil,
                                inFlight: index % 3,
                                uptimeMilliseconds: 1000 * index,
                                idleInMilliseconds: 1_800_000 - index,
                                status: "serving"
                            )
                        ] : []
                )
            }
        )
    }
}
