import ArgumentParser
import ClusterControl

/// clusterctl's exit statuses, documented in `clusterctl --help` and docs/control-protocol.md.
extension ExitCode {
    /// clusterd answered with an error: the operation was not done.
    static let operationFailed = ExitCode(1)
    /// The command line is wrong (ArgumentParser's own usage errors are mapped to this too).
    static let usage = ExitCode(2)
    /// No answer from clusterd: no socket, no permission, refused, closed, timed out.
    static let unreachable = ExitCode(3)
}

/// The discussion shown in `clusterctl --help`.
let exitStatusDiscussion = """
    EXIT STATUS
      0  the command succeeded
      1  clusterd refused or failed the operation (the reason is on stderr)
      2  usage error: a wrong option, argument or TENANT=N
      3  cannot reach clusterd: no socket, no permission, refused, closed,
         or no answer within --timeout

    The socket is --socket, else $CLUSTERD_SOCKET, else \(ControlClient.defaultSocketPath).
    Data goes to stdout, errors to stderr. The control protocol and the schema \
    of `status --json` are in docs/control-protocol.md.
    """

extension StandardError {
    /// `clusterctl: message`, then each detail line as it is.
    static func report(_ message: String, details: [String] = []) {
        report(message, details: details, program: "clusterctl")
    }
}
