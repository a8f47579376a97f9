import ClusterCore
import ClusterRouter
import Logging
import NIOCore
import NIOPosix

/// A ``ProxyServer`` on 127.0.0.1 port 0 for the span of a test body, stopped gracefully afterwards.
struct ProxyHarness {
    let server: ProxyServer
    let port: Int

    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

    /// Runs `body` against a live proxy; returns once the proxy has stopped (so every `finished` has been called).
    static func run<T: Sendable>(
        routing: any RequestRouting,
        configuration: ProxyConfiguration = ProxyConfiguration(),
        listeners: [ProxyListener] = [.address(ListenAddress(host: "127.0.0.1", port: 0))],
        eventLoopGroup: MultiThreadedEventLoopGroup = Self.group,
        _ body: @Sendable (ProxyHarness) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "test.proxy")
        logger.logLevel = .warning
        let server = ProxyServer(
            listeners: listeners,
            routing: routing,
            configuration: configuration,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let addresses = try await server.listeningAddresses()
            let harness = ProxyHarness(server: server, port: addresses[0].port!)
            do {
                let result = try await body(harness)
                server.triggerGracefulShutdown()
                try await group.waitForAll()
                return result
            } catch {
                server.triggerGracefulShutdown()
                try? await group.waitForAll()
                throw error
            }
        }
    }
}
