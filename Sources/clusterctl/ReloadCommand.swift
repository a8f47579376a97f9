import ArgumentParser
import ClusterControl

/// `clusterctl reload`
struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Re-read tenants.conf (as SIGHUP does); unchanged tenants keep their workers.",
        discussion: """
            An invalid file changes nothing: clusterctl prints every error (file:line: key: message) and exits 1.
            """
    )

    @ParentCommand var clusterctl: Clusterctl

    func run() throws {
        let result = try clusterctl.perform(.reload)
        let reply = try clusterctl.decode(result, as: ReloadReply.self, op: .reload)
        print("reloaded: \(reply.tenants == 1 ? "1 tenant" : "\(reply.tenants) tenants")")
    }
}
