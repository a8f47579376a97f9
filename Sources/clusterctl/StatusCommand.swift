import ArgumentParser
import ClusterControl

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `clusterctl status [TENANT] [--json]`
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show tenants and their workers.",
        discussion: """
            One line per tenant (state, ready/target workers, operator scale, activations waiting, last error or \
            the time until a failed tenant may start again), each worker indented under its tenant (pid, port, \
            state, uptime, requests in flight, time until it idles out, its STATUS= text). Lines fit 100 columns.
            """
    )

    @ParentCommand var clusterctl: Clusterctl

    @Argument(help: "Show only this tenant.")
    var tenant: String?

    @Flag(help: "Print clusterd's snapshot as JSON (pretty, sorted keys; schema in docs/control-protocol.md).")
    var json = false

    func validate() throws {
        if tenant?.isEmpty == true { throw ValidationError("the tenant name is empty") }
    }

    func run() throws {
        let result = try clusterctl.perform("status", tenant.map { ["tenant": .string($0)] } ?? [:])
        let snapshot = try clusterctl.decode(result, as: ClusterSnapshot.self, op: "status")
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(snapshot), as: UTF8.self))
        } else {
            print(StatusTable(snapshot).text, terminator: "")
        }
    }
}
