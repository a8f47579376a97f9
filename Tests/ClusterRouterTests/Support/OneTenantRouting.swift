import ClusterControl
import ClusterCore
import ClusterRouter
import NIOConcurrencyHelpers

/// The router's real ``ClusterRouting``, fed a snapshot of one tenant "app" (host `app.test`) as clusterd would send
/// it, with the activations it asks for recorded instead of sent: a test answers them.
struct OneTenantRouting {
    let routing: ClusterRouting
    private let asked = NIOLockedValueBox<[String]>([])

    /// `readyPorts` become ready workers app#1, app#2, ….
    init(readyPorts: [Int] = [], queueLimit: Int = 10) {
        let asked = self.asked
        routing = ClusterRouting { tenant, _ in asked.withLockedValue { $0.append(tenant) } }
        let workers = readyPorts.enumerated().map { index, port in
            WorkerSnapshot(
                id: WorkerID(tenant: "app", serial: index + 1),
                pid: nil,
                port: port,
                state: .ready,
                stopReason: nil,
                inFlight: 0,
                uptimeMilliseconds: nil,
                idleInMilliseconds: nil,
                status: nil
            )
        }
        let tenant = TenantSnapshot(
            name: "app",
            state: workers.isEmpty ? .idle : .running,
            hosts: ["app.test"],
            scale: nil,
            floor: 0,
            target: workers.count,
            maxWorkers: 4,
            queueLimit: queueLimit,
            maxConcurrency: 0,
            waiting: 0,
            lastError: nil,
            retryInMilliseconds: nil,
            workers: workers
        )
        routing.resynchronize(
            ClusterSnapshot(
                domain: nil,
                maxWorkers: 4,
                workersTotal: workers.count,
                shuttingDown: false,
                tenants: [tenant]
            )
        )
    }

    /// Tenants the routing asked clusterd to activate, in order.
    var activations: [String] { asked.withLockedValue { $0 } }

    func forgetActivations() { asked.withLockedValue { $0 = [] } }

    /// clusterd's answer to the pending activation: a worker ready on `port`.
    func answer(worker id: WorkerID, port: Int) {
        routing.activationAnswered(tenant: "app", .success([WorkerEndpoint(id: id, port: port)]))
    }

    /// clusterd's refusal of the pending activation.
    func refuse(_ code: ControlError.Code, _ message: String) {
        routing.activationAnswered(tenant: "app", .failure(ControlError(code, message)))
    }
}
