import ArgumentParser
import ClusterControl
import ClusterCore
import ClusterSupervisor
import Glibc
import Logging
import ServiceLifecycle
import TenantsFile
import UnixSignals

extension Clusterd {
    struct StartCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
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
            LogLevelSetting.bootstrap(identifier: "clusterd")
            let logger = Logger(label: "clusterd")
            let overrides = try commandLineOverrides()
            // After an in-place upgrade: the previous image's state, workers and sockets. Past this point every
            // failure goes back to that image, which can still serve.
            let handover = try exitOnFailure { try Handover.take() }
            var configuration: ClusterConfiguration
            switch TenantsFile.load(path: tenants) {
            case .success(let loaded): configuration = loaded
            case .failure(let error):
                handover?.fallBack(because: "the tenants file does not load")
                StandardError.write(error.description)
                throw ExitCode(1)
            }
            overrides(&configuration)
            if let handover {
                logger.notice("resuming after an upgrade", metadata: ["handovers": "\(handover.handovers)"])
            }
            let (sockets, recovery, plan) = try exitOnFailure(fallingBackTo: handover) {
                try takeSockets(configuration, handover: handover, logger: logger)
            }
            let router = routerProcess(configuration, sockets: sockets, adopting: plan.adoptedRouterPID, logger: logger)
            let supervisor = try exitOnFailure(fallingBackTo: handover) {
                try Supervisor(
                    configuration: configuration,
                    options: .init(
                        tenantsFile: tenants,
                        overrides: overrides,
                        awaitsRouter: !noRouter,
                        upgrade: upgradeContext(sockets: sockets, router: router, handover: handover),
                        takeover: handover?.takeover ?? recovery?.takeover
                    ),
                    logger: logger
                )
            }
            let controlServer = ControlServer(
                path: configuration.controlSocket,
                socket: sockets.control,
                ownsFile: sockets.ownsControlFile,
                supervisor: supervisor,
                controlGroup: configuration.controlGroup,
                logger: logger
            )
            var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
                .init(service: controlServer),
                .init(service: supervisor, successTerminationBehavior: .gracefullyShutdownGroup),
            ]
            if let router { services.append(.init(service: router)) }
            services.append(.init(service: SignalCommands(supervisor: supervisor)))
            // Graceful shutdown runs in reverse: signal handling ends, the router finishes its in-flight
            // requests, the supervisor drains and stops every worker, the control channel answers until the end.
            let group = ServiceGroup(
                configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
            )
            try await exitOnFailure { try await group.run() }
        }

        /// `--listen` and `--control-socket`, applied to every configuration read (at start and on reload).
        private func commandLineOverrides() throws -> @Sendable (inout ClusterConfiguration) -> Void {
            let listenOverride = try listen.map { text in
                guard let address = ListenAddress(parsing: text) else {
                    throw ValidationError("--listen \(text): expected HOST:PORT (IPv6 as [::1]:8080)")
                }
                return address
            }
            let controlSocketOverride = controlSocket
            return { configuration in
                if let listenOverride { configuration.listen = [listenOverride] }
                if let controlSocketOverride { configuration.controlSocket = controlSocketOverride }
            }
        }

        /// The router child, or nil with `--no-router`.
        private func routerProcess(
            _ configuration: ClusterConfiguration,
            sockets: Sockets,
            adopting: Int32?,
            logger: Logger
        ) -> RouterProcess? {
            guard !noRouter else { return nil }
            return RouterProcess(
                executable: ownExecutable(),
                arguments: ["router", "--control-socket", configuration.controlSocket] + limits.arguments,
                listeners: sockets.router,
                stopTimeout: (DurationSyntax.parse(limits.drainTimeout) ?? .seconds(30)) + .seconds(5),
                logger: logger,
                adopting: adopting
            )
        }

        /// What an in-place upgrade hands over besides the supervisor's state; this image is kept open, so that
        /// an upgrade that cannot take over comes back to it.
        private func upgradeContext(sockets: Sockets, router: RouterProcess?, handover: Handover?) -> UpgradeContext {
            let thisImage = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)
            if let handover { close(handover.fallbackExecutableFD) }
            return UpgradeContext(
                executable: ownExecutable(),
                arguments: CommandLine.arguments,
                fallbackExecutableFD: thisImage,
                tenantsFile: tenants,
                controlSocketFD: sockets.control,
                controlSocketOwned: sockets.ownsControlFile,
                routerListenerFDs: sockets.router,
                routerPID: { [current = router?.current] in current?.pid }
            )
        }

        /// `body`'s result; on an error, back to the image that handed over (if any), else `clusterd: error` and
        /// exit status 1.
        private func exitOnFailure<T>(fallingBackTo handover: Handover? = nil, _ body: () throws -> T) throws -> T {
            do {
                return try body()
            } catch {
                handover?.fallBack(because: "\(error)")
                StandardError.write("clusterd: \(error)")
                throw ExitCode(1)
            }
        }

        private func exitOnFailure(_ body: () async throws -> Void) async throws {
            do {
                try await body()
            } catch {
                StandardError.write("clusterd: \(error)")
                throw ExitCode(1)
            }
        }

        /// The listening sockets clusterd holds: the control channel's and the router's.
        struct Sockets {
            var control: Int32
            /// clusterd made the control socket's file (rather than systemd).
            var ownsControlFile: Bool
            var router: [Int32]
        }

        /// Sockets systemd passed (an upgraded image has them from the hand-over instead), and what a clusterd
        /// that crashed left running: its workers and router, adopted rather than started again.
        private func takeSockets(
            _ configuration: ClusterConfiguration,
            handover: Handover?,
            logger: Logger
        ) throws -> (Sockets, CrashRecovery?, StartupPlan) {
            let activated = handover == nil ? try ActivatedSockets.take() : ActivatedSockets()
            let recovery = StartupPlan.crashRecoverySearch(
                handedOver: handover != nil,
                activatedHTTP: activated.http,
                noRouter: noRouter
            ).flatMap { search in
                CrashRecovery.plan(
                    stateDirectory: configuration.stateDirectory,
                    stored: activated.others,
                    needListeners: search.needsRouterListeners,
                    logger: logger
                )
            }
            let plan = startupPlan(handover: handover, activated: activated, recovery: recovery)
            return (try execute(plan, configuration, logger: logger), recovery, plan)
        }

        /// What to do with the sockets clusterd was given (see ``StartupPlan``).
        private func startupPlan(
            handover: Handover?,
            activated: ActivatedSockets,
            recovery: CrashRecovery?
        ) -> StartupPlan {
            if let handover {
                return StartupPlan(
                    handedOver: .init(
                        controlSocket: handover.controlSocketFD,
                        ownsControlFile: handover.controlSocketOwned,
                        routerListeners: handover.routerListenerFDs,
                        routerPID: handover.routerPID
                    )
                )
            }
            return StartupPlan(
                activated: .init(http: activated.http, control: activated.control, others: activated.others.map(\.fd)),
                recovered: recovery.map { .init(routerListeners: $0.routerListeners, routerPID: $0.routerPID) },
                noRouter: noRouter
            )
        }

        /// Executes the plan: closes what it does not use, then takes the router's listeners (from the previous
        /// image, from systemd, from a crashed clusterd's router, or bound here) and the control socket.
        private func execute(
            _ plan: StartupPlan,
            _ configuration: ClusterConfiguration,
            logger: Logger
        ) throws -> Sockets {
            for fd in plan.closing { close(fd) }
            let router: [Int32]
            switch plan.routerListeners {
            case .handedOver(let fds):
                router = fds
            case .none:
                router = []
            case .recovered(let fds):
                router = fds
                logger.info("router listening on the sockets of the previous clusterd's router")
            case .bind:
                router = try PublicListeners.bind(configuration.listen)
                for (address, fd) in zip(configuration.listen, router) {
                    let port = PublicListeners.port(of: fd).map(String.init) ?? "?"
                    logger.info("router listening", metadata: ["address": "\(address.host):\(port)"])
                }
            case .activated(let fds):
                router = fds
                for fd in router {
                    let port = PublicListeners.port(of: fd).map(String.init) ?? "?"
                    logger.info("router listening on a socket from systemd", metadata: ["port": "\(port)"])
                }
            }
            switch plan.control {
            case .handedOver(let fd, let ownsFile):
                return Sockets(control: fd, ownsControlFile: ownsFile, router: router)
            case .activated(let fd):
                return Sockets(control: fd, ownsControlFile: false, router: router)
            case .openFile:
                let control = try ControlSocketFile.open(
                    configuration.controlSocket,
                    groupName: configuration.controlGroup
                )
                return Sockets(control: control, ownsControlFile: true, router: router)
            }
        }
    }
}

/// SIGHUP is `clusterctl reload` (an invalid file is logged and changes nothing); SIGUSR2 is `clusterctl upgrade`.
struct SignalCommands: Service {
    let supervisor: Supervisor

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup, .sigusr2)
        for await signal in signals.cancelOnGracefulShutdown() {
            if signal == .sigusr2 {
                _ = await supervisor.upgrade()
            } else {
                _ = await supervisor.reloadFromFile()
            }
        }
    }
}
