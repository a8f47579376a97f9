import ArgumentParser
import ClusterControl

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
        let operation = ControlOperation.status(tenant: tenant)
        let result = try clusterctl.perform(operation)
        let snapshot = try clusterctl.decode(result, as: ClusterSnapshot.self, op: operation)
        if json {
            // The snapshot as received (checked above to be one), laid out as JSONEncoder would: decoding it and
            // encoding it again would only take longer.
            print(String(decoding: result.jsonText(pretty: true), as: UTF8.self))
        } else {
            print(StatusTable(snapshot).text, terminator: "")
        }
    }
}
