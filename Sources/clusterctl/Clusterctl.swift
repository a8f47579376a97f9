import ArgumentParser

/// Operator client of clusterd's control channel. The channel itself is not in this build yet:
/// every command says so and exits 3 ("cannot reach clusterd").
@main
struct Clusterctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusterctl",
        abstract: "Talk to a running clusterd over its control socket (not available in this build yet)."
    )

    @Argument(parsing: .captureForPassthrough)
    var arguments: [String] = []

    func run() throws {
        print("clusterctl: clusterd's control channel is not part of this build yet")
        throw ExitCode(3)
    }
}
