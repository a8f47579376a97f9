import ArgumentParser
import ClusterControl
import Glibc

/// clusterctl: operate a running clusterd over its control socket.
@main
struct Clusterctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusterctl",
        abstract: "Operate a running clusterd over its control socket.",
        discussion: exitStatusDiscussion,
        subcommands: [
            StatusCommand.self, ScaleCommand.self, StartCommand.self, StopCommand.self, RestartCommand.self,
            DrainCommand.self, ReloadCommand.self, UpgradeCommand.self,
        ]
    )

    @Option(
        help: ArgumentHelp(
            "clusterd's control socket (default: $CLUSTERD_SOCKET, else \(ControlClient.defaultSocketPath)).",
            valueName: "path"
        ),
        completion: .file()
    )
    var socket: String?

    @Option(help: ArgumentHelp("Seconds to wait to connect and for each answer.", valueName: "seconds"))
    var timeout: Double = 30

    func validate() throws {
        guard timeout > 0, timeout <= 86_400 else {
            throw ValidationError("--timeout must be more than 0 and at most 86400 seconds")
        }
    }

    /// `--socket`, else `$CLUSTERD_SOCKET`, else the default path.
    var socketPath: String {
        ControlClient.socketPath(explicit: socket)
    }

    /// Without a subcommand there is nothing to do: a usage error.
    func run() throws {
        StandardError.write(Self.helpMessage())
        throw ExitCode.usage
    }

    /// ArgumentParser's `main`, with its usage errors (exit 64) made exit 2, and messages prefixed `clusterctl: `.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            guard exitCode(for: error) == .validationFailure else { exit(withError: error) }
            var text = fullMessage(for: error)
            if text.hasPrefix("Error: ") { text = "clusterctl: " + text.dropFirst("Error: ".count) }
            StandardError.write(text)
            exit(withError: ExitCode.usage)
        }
    }
}
