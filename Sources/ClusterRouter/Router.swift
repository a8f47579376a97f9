import ClusterControl
import ClusterCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle

/// Settings of the router beyond the proxy's own limits.
public struct RouterConfiguration: Sendable {
    public var proxy: ProxyConfiguration
    /// A request waiting longer than this for a worker is refused (503).
    public var queueTimeout: Duration
    /// How often in-flight counts of workers with traffic are reported to clusterd (what idle-out is decided from).
    public var activityInterval: Duration

    public init(
        proxy: ProxyConfiguration = ProxyConfiguration(),
        queueTimeout: Duration = .seconds(60),
        activityInterval: Duration = .seconds(1)
    ) {
        self.proxy = proxy
        self.queueTimeout = queueTimeout
        self.activityInterval = activityInterval
    }
}

/// The front router: the HTTP proxy, its routing, and its control-channel link to clusterd.
///
/// On graceful shutdown the proxy stops accepting and finishes in-flight requests while the link keeps
/// reporting; then the link closes.
public struct Router: Service {
    let controlSocket: String
    let listeners: [ProxyListener]
    let configuration: RouterConfiguration
    let logger: Logger
    let eventLoopGroup: MultiThreadedEventLoopGroup
    /// The proxy, for tests that bind port 0 and need the address.
    public let proxy: ProxyServer
    let routing: ClusterRouting
    let link: ControlLink

    public init(
        controlSocket: String,
        listeners: [ProxyListener],
        configuration: RouterConfiguration = RouterConfiguration(),
        logger: Logger,
        eventLoopGroup: MultiThreadedEventLoopGroup = .singleton
    ) {
        self.controlSocket = controlSocket
        self.listeners = listeners
        self.configuration = configuration
        self.logger = logger
        self.eventLoopGroup = eventLoopGroup
        // The routing asks for workers through the link, and the link feeds the routing.
        let linkBox = NIOLockedValueBox<ControlLink?>(nil)
        let routing = ClusterRouting(queueTimeout: configuration.queueTimeout) { tenant, additional in
            linkBox.withLockedValue { $0 }?.activate(tenant: tenant, additional: additional)
        }
        let link = ControlLink(
            socketPath: controlSocket,
            routing: routing,
            logger: logger,
            eventLoopGroup: eventLoopGroup
        )
        linkBox.withLockedValue { $0 = link }
        self.routing = routing
        self.link = link
        self.proxy = ProxyServer(
            listeners: listeners,
            routing: routing,
            configuration: configuration.proxy,
            eventLoopGroup: eventLoopGroup,
            logger: logger
        )
    }

    public func run() async throws {
        let routing = self.routing
        let link = self.link
        let interval = configuration.activityInterval
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await link.run() }
            group.addTask {
                // Waits time out every 250 ms at the latest; activity is reported every `interval`.
                var lastReport = ContinuousClock.now
                while (try? await Task.sleep(for: .milliseconds(250))) != nil {
                    routing.timeElapsed()
                    if ContinuousClock.now - lastReport >= interval {
                        link.report(routing.takeActivity())
                        lastReport = ContinuousClock.now
                    }
                }
            }
            defer { group.cancelAll() }
            try await proxy.run()
            link.report(routing.takeActivity())
        }
    }
}
