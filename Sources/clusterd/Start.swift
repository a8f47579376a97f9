import ArgumentParser
import ClusterCore
import ClusterSupervisor
import Glibc
import Logging
import ServiceLifecycle
import TenantsFile
import UnixSignals

extension Clusterd {
    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the supervisor in the foreground (as systemd wants) until SIGTERM or SIGINT.",
            discussion: "SIGHUP re-reads the tenants file; an invalid file changes nothing."
        )

        @Option(name: .long, help: "Path of the tenants file.")
        var tenants: String

        @Option(name: .long, help: "Router address HOST:PORT (overrides cluster.listen).")
        var listen: String?

        @Option(name: .customLong("control-socket"), help: "Control socket path (overrides cluster.control_socket).")
        var controlSocket: String?

        @Flag(name: .customLong("no-router"), help: "Do not run the HTTP router.")
        var noRouter = false

        @OptionGroup(title: "Router limits") var limits: RouterLimits

        func run() async throws {
            signal(SIGPIPE, SIG_IGN)
            LogLevelSetting.bootstrap()
            let logger = Logger(label: "clusterd")
            let listenOverride = try listen.map { text in
                guard let address = ListenAddress(parsing: text) else {
                    throw ValidationError("--listen \(text): expected HOST:PORT (IPv6 as [::1]:8080)")
                }
                return address
            }
            let controlSocketOverride = controlSocket
            let overrides: @Sendable (inout ClusterConfiguration) -> Void = { configuration in
                if let listenOverride { configuration.listen = [listenOverride] }
                if let controlSocketOverride { configuration.controlSocket = controlSocketOverride }
            }
            var configuration = try loadConfiguration()
            overrides(&configuration)
            // Sockets from systemd (socket activation): `http` for the router, `control` for the control channel.
            let activated: ActivatedSockets
            do {
                activated = try ActivatedSockets.take()
            } catch {
                printToStandardError("clusterd: \(error)")
                throw ExitCode(1)
            }
            for other in activated.others {
                logger.warning(
                    "ignoring a socket systemd passed under an unknown name",
                    metadata: ["name": "\(other.name)"]
                )
                close(other.fd)
            }

            let supervisor: Supervisor
            do {
                supervisor = try Supervisor(
                    configuration: configuration,
                    options: .init(tenantsFile: tenants, overrides: overrides, awaitsRouter: !noRouter),
                    logger: logger
                )
            } catch {
                printToStandardError("clusterd: \(error)")
                throw ExitCode(1)
            }
            let controlServer = ControlServer(
                path: configuration.controlSocket,
                adoptedSocket: activated.control,
                supervisor: supervisor,
                controlGroup: configuration.controlGroup,
                logger: logger
            )
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: controlServer),
                .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
            ]
            if !noRouter {
                services.append(
                    .init(service: try routerProcess(configuration, activated: activated.http, logger: logger))
                )
            }
            services.append(.init(service: ReloadOnHangup(supervisor: supervisor)))
            // Graceful shutdown runs in reverse: SIGHUP handling ends, the router finishes its in-flight
            // requests, the supervisor drains and stops every worker, the control channel answers until the end.
            let group = ServiceGroup(
                configuration: .init(
                    services: services,
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            do {
                try await group.run()
            } catch {
                printToStandardError("clusterd: \(error)")
                throw ExitCode(1)
            }
        }

        /// The router child, with the public listeners held here (from systemd, or bound from the configuration)
        /// so they outlive router restarts.
        private func routerProcess(
            _ configuration: ClusterConfiguration,
            activated: [Int32],
            logger: Logger
        ) throws -> RouterProcess {
            var listeners = activated
            if listeners.isEmpty {
                do {
                    listeners = try PublicListeners.bind(configuration.listen)
                } catch {
                    printToStandardError("clusterd: \(error)")
                    throw ExitCode(1)
                }
                for (address, fd) in zip(configuration.listen, listeners) {
                    let port = PublicListeners.port(of: fd).map(String.init) ?? "?"
                    logger.info("router listening", metadata: ["address": "\(address.host):\(port)"])
                }
            } else {
                for fd in listeners {
                    let port = PublicListeners.port(of: fd).map(String.init) ?? "?"
                    logger.info("router listening on a socket from systemd", metadata: ["port": "\(port)"])
                }
            }
            return RouterProcess(
                executable: ownExecutable(),
                arguments: ["router", "--control-socket", configuration.controlSocket] + limits.arguments,
                listeners: listeners,
                stopTimeout: (DurationSyntax.parse(limits.drainTimeout) ?? .seconds(30)) + .seconds(5),
                logger: logger
            )
        }

        private func loadConfiguration() throws -> ClusterConfiguration {
            switch TenantsFile.load(path: tenants) {
            case .success(let configuration): return configuration
            case .failure(let error):
                printToStandardError(error.description)
                throw ExitCode(1)
            }
        }
    }
}

/// SIGHUP: the same as `clusterctl reload` (an invalid file is logged and changes nothing).
struct ReloadOnHangup: Service {
    let supervisor: Supervisor

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            _ = await supervisor.reloadFromFile()
        }
    }
}
