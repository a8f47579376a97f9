import ArgumentParser
import ClusterControl
import ClusterCore
import ClusterRouter
import ClusterSupervisor
import Glibc
import Logging
import ServiceLifecycle

extension Clusterd {
    struct RouterCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "router",
            abstract: "Run the HTTP router standalone against a running clusterd's control channel.",
            discussion: """
                Listens on the sockets passed by socket activation (LISTEN_FDS, as systemd or clusterd start \
                pass them), else on --listen. SIGTERM stops accepting and finishes in-flight requests.
                """
        )

        @Option(
            name: .customLong("control-socket"),
            help: "clusterd's control socket (default: $CLUSTERD_SOCKET, else \(ControlClient.defaultSocketPath))."
        )
        var controlSocket: String?

        @Option(name: .long, help: "HOST:PORT to listen on when no socket is passed (repeatable; IPv6 as [::1]:8080).")
        var listen: [String] = []

        @OptionGroup var limits: RouterLimits

        func run() async throws {
            signal(SIGPIPE, SIG_IGN)
            LogLevelSetting.bootstrap(identifier: "clusterd-router")
            let logger = Logger(label: "clusterd.router")
            var listeners: [ProxyListener]
            do {
                listeners = try ActivatedSockets.takeListeners().map { ProxyListener.socket(descriptor: $0) }
            } catch {
                StandardError.write("clusterd router: \(error)")
                throw ExitCode(1)
            }
            if listeners.isEmpty {
                let addresses = listen.isEmpty ? [ClusterConfiguration.defaultListen.description] : listen
                for text in addresses {
                    guard let address = ListenAddress(parsing: text) else {
                        throw ValidationError("--listen \(text): expected HOST:PORT (IPv6 as [::1]:8080)")
                    }
                    listeners.append(.address(address))
                }
            }
            let socket = ControlClient.socketPath(explicit: controlSocket)
            let router = Router(
                controlSocket: socket,
                listeners: listeners,
                configuration: try limits.configuration(),
                logger: logger
            )
            logger.info(
                "router starting",
                metadata: [
                    "listen": "\(listeners.map(\.description).joined(separator: ", "))", "control_socket": "\(socket)",
                ]
            )
            let group = ServiceGroup(
                configuration: .init(services: [router], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            try await group.run()
        }
    }
}

/// The router's limits as command-line options (`clusterd start` passes them on to its router).
struct RouterLimits: ParsableArguments {
    @Option(name: .customLong("max-header-bytes"), help: "Largest request line plus headers (431 beyond).")
    var maxHeaderBytes = ProxyConfiguration().maxHeaderBytes

    @Option(name: .customLong("max-body-bytes"), help: "Largest request body (413 beyond).")
    var maxBodyBytes = ProxyConfiguration().maxBodyBytes

    @Option(name: .customLong("header-timeout"), help: "Time to send the request head (408 beyond), e.g. 10s.")
    var headerTimeout = "10s"

    @Option(name: .customLong("body-timeout"), help: "Longest pause while sending a body (408 beyond).")
    var bodyTimeout = "60s"

    @Option(
        name: .customLong("response-timeout"),
        help: "How long a worker may take to begin its response once it has the whole request (504 beyond)."
    )
    var responseTimeout = "60s"

    @Option(name: .customLong("keepalive-timeout"), help: "Idle keep-alive connections are closed after this.")
    var keepaliveTimeout = "60s"

    @Option(name: .customLong("max-connections"), help: "Client connections at once (503 beyond).")
    var maxConnections = ProxyConfiguration().maxClientConnections

    @Option(name: .customLong("queue-timeout"), help: "Longest wait for a worker (503 beyond).")
    var queueTimeout = "60s"

    @Option(name: .customLong("drain-timeout"), help: "On SIGTERM, how long in-flight requests may take to finish.")
    var drainTimeout = "30s"

    func configuration() throws -> RouterConfiguration {
        func duration(_ text: String, _ option: String) throws -> Duration {
            guard let value = DurationSyntax.parse(text), value > .zero else {
                throw ValidationError("--\(option) \(text): expected a duration like 250ms, 10s, 5m")
            }
            return value
        }
        var proxy = ProxyConfiguration()
        proxy.maxHeaderBytes = maxHeaderBytes
        proxy.maxBodyBytes = maxBodyBytes
        proxy.requestHeadTimeout = try duration(headerTimeout, "header-timeout")
        proxy.bodyReadTimeout = try duration(bodyTimeout, "body-timeout")
        proxy.keepAliveTimeout = try duration(keepaliveTimeout, "keepalive-timeout")
        proxy.upstreamResponseTimeout = try duration(responseTimeout, "response-timeout")
        proxy.maxClientConnections = maxConnections
        proxy.drainTimeout = try duration(drainTimeout, "drain-timeout")
        return RouterConfiguration(proxy: proxy, queueTimeout: try duration(queueTimeout, "queue-timeout"))
    }

    /// The same options, to pass on to a `clusterd router` child.
    var arguments: [String] {
        [
            "--max-header-bytes", String(maxHeaderBytes), "--max-body-bytes", String(maxBodyBytes),
            "--header-timeout", headerTimeout, "--body-timeout", bodyTimeout, "--keepalive-timeout", keepaliveTimeout,
            "--response-timeout", responseTimeout,
            "--max-connections", String(maxConnections), "--queue-timeout", queueTimeout, "--drain-timeout",
            drainTimeout,
        ]
    }
}
