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

        func run() async throws {
            signal(SIGPIPE, SIG_IGN)
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = LogLevelSetting.fromEnvironment()
                return handler
            }
            let logger = Logger(label: "clusterd")
            var configuration = try loadConfiguration()
            if let listen {
                guard let address = ListenAddress(parsing: listen) else {
                    throw ValidationError("--listen \(listen): expected HOST:PORT (IPv6 as [::1]:8080)")
                }
                configuration.listen = [address]
            }
            if let controlSocket { configuration.controlSocket = controlSocket }

            let supervisor: Supervisor
            do {
                supervisor = try Supervisor(configuration: configuration, logger: logger)
            } catch {
                printToStandardError("clusterd: \(error)")
                throw ExitCode(1)
            }
            let reloader = ReloadOnHangup(
                tenantsPath: tenants,
                supervisor: supervisor,
                overrides: configuration,
                logger: logger
            )
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
                        .init(service: reloader),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint],
                    logger: logger
                )
            )
            try await group.run()
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

/// SIGHUP: re-read the tenants file and apply it; an invalid file is logged and changes nothing.
struct ReloadOnHangup: Service {
    let tenantsPath: String
    let supervisor: Supervisor
    /// Command-line overrides to keep across reloads.
    let overrides: ClusterConfiguration
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            switch TenantsFile.load(path: tenantsPath) {
            case .success(var configuration):
                configuration.listen = overrides.listen
                configuration.controlSocket = overrides.controlSocket
                await supervisor.reload(configuration)
            case .failure(let error):
                logger.error(
                    "reload refused; the running configuration stays",
                    metadata: ["errors": "\(error.description)"]
                )
            }
        }
    }
}
