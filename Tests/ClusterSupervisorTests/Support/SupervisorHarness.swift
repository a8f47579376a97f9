import ClusterCore
import ClusterSupervisor
import Logging

/// Runs a real ``Supervisor`` for the duration of `body`, then shuts it down and waits until every worker is gone.
enum SupervisorHarness {
    @discardableResult
    static func run<T: Sendable>(
        _ configuration: ClusterConfiguration,
        policy: RestartPolicy = .standard,
        logs: LogCapture = LogCapture(),
        _ body: (Supervisor, EventRecorder) async throws -> T
    ) async throws -> T {
        let supervisor = try Supervisor(
            configuration: configuration,
            options: .init(restartPolicy: policy),
            logger: logs.logger
        )
        let recorder = EventRecorder()
        let stream = await supervisor.events()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await supervisor.run() }
            group.addTask { await recorder.consume(stream) }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(supervisor, recorder))
            } catch {
                result = .failure(error)
            }
            supervisor.shutdown()
            try await group.waitForAll()
            return try result.get()
        }
    }
}
