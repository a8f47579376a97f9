import ArgumentParser
import ClusterControl
import ClusterHAProxy
import ClusterSupervisor
import Glibc
import Logging
import Synchronization

/// Set by SIGTERM and SIGINT; the adapter's loop checks it at least every second.
private let stopRequested = Atomic<Bool>(false)

extension Clusterd {
    struct HAProxyAdapterCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "haproxy",
            abstract:
                "Drive HAProxy from clusterd's control channel, with clusterd's router as each tenant's activator.",
            discussion: """
                Writes haproxy.cfg and hosts.map into --directory; start HAProxy on them in master-worker mode \
                (haproxy -W -S MASTER_SOCKET -f DIR/haproxy.cfg, or Debian's haproxy.service with CONFIG set). \
                Workers are set at runtime through the stats socket; a change of tenants, hosts or max_workers \
                rewrites the files and reloads HAProxy through its master CLI. SIGTERM stops the adapter; HAProxy \
                keeps serving.
                """
        )

        @Option(
            name: .customLong("control-socket"),
            help: "clusterd's control socket (default: $CLUSTERD_SOCKET, else \(ControlClient.defaultSocketPath))."
        )
        var controlSocket: String?

        @Option(help: "Where haproxy.cfg, hosts.map, cookie.key and the server state go.")
        var directory = "/var/lib/clusterd-haproxy"

        @Option(help: "HAProxy's frontend address (its `bind`).")
        var bind = "0.0.0.0:80"

        @Option(help: "clusterd's router (`cluster.listen`): the default backend and every tenant's activator.")
        var router = "127.0.0.1:8081"

        @Option(
            name: .customLong("stats-socket"),
            help: "HAProxy's stats socket, at level admin (default: DIR/admin.sock)."
        )
        var statsSocket: String?

        @Option(
            name: .customLong("master-socket"),
            help: "HAProxy's master CLI (haproxy -S), for reloads; Debian's haproxy.service uses the default."
        )
        var masterSocket = "/run/haproxy-master.sock"

        @Flag(name: .customLong("print-config"), help: "Print haproxy.cfg for the running cluster and exit.")
        var printConfig = false

        @Flag(name: .customLong("print-map"), help: "Print the host map for the running cluster and exit.")
        var printMap = false

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let files = HAProxyFiles(directory: directory)
            let options: HAProxyAdapter.Options
            do {
                try files.prepare()
                options = HAProxyAdapter.Options(
                    controlSocket: ControlClient.socketPath(explicit: controlSocket),
                    files: files,
                    masterSocket: masterSocket,
                    settings: HAProxyConfiguration.Settings(
                        bindAddress: bind,
                        statsSocketPath: statsSocket ?? directory + "/admin.sock",
                        mapFilePath: files.hostMap,
                        routerAddress: router,
                        dynamicCookieKey: try files.dynamicCookieKey()
                    )
                )
            } catch {
                StandardError.write("clusterd haproxy: \(error)")
                throw ExitCode(1)
            }
            if printConfig || printMap {
                try printFiles(options)
                return
            }
            do {
                try files.clearServerState()
            } catch {
                StandardError.write("clusterd haproxy: \(error)")
                throw ExitCode(1)
            }
            LogLevelSetting.bootstrap(identifier: "clusterd-haproxy")
            let logger = Logger(label: "clusterd.haproxy")
            signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
            signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
            let notifier = ServiceNotifier()
            logger.info(
                "HAProxy adapter starting",
                metadata: [
                    "directory": "\(directory)", "control_socket": "\(options.controlSocket)",
                    "stats_socket": "\(options.settings.statsSocketPath)", "master_socket": "\(masterSocket)",
                ]
            )
            let adapter = HAProxyAdapter(options: options, logger: logger) {
                notifier.ready(status: "following clusterd")
            }
            adapter.run { !stopRequested.load(ordering: .relaxed) }
            notifier.stopping()
            logger.info("HAProxy adapter stopped; HAProxy keeps serving")
        }

        /// `--print-config` / `--print-map`: one snapshot from clusterd, the text to stdout.
        private func printFiles(_ options: HAProxyAdapter.Options) throws {
            do {
                let client = try ControlClient(socketPath: options.controlSocket, timeout: .seconds(10))
                try client.hello()
                guard case .success(let value) = try client.request(.status(tenant: nil)) else {
                    throw ValidationError("clusterd refused status")
                }
                let snapshot = try value.decode(as: ClusterSnapshot.self)
                if printConfig {
                    Swift.print(
                        try HAProxyConfiguration(settings: options.settings).text(for: snapshot),
                        terminator: ""
                    )
                }
                if printMap { Swift.print(try HAProxyConfiguration.mapFile(snapshot), terminator: "") }
            } catch {
                StandardError.write("clusterd haproxy: \(error)")
                throw ExitCode(1)
            }
        }
    }
}
