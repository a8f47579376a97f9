import ArgumentParser
import ClusterControl

/// `clusterctl scale acme=4 beta=0`
struct ScaleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scale",
        abstract: "Run N workers of a tenant now and keep them; N=0 returns it to on-demand.",
        discussion: """
            Several tenants at once, in one request: clusterd checks them all before it applies any. A scale \
            survives reload and a clusterd restart. Prints each tenant's scale afterwards, as TENANT=N.
            """
    )

    @ParentCommand var clusterctl: Clusterctl

    @Argument(help: ArgumentHelp("A tenant and its number of workers, e.g. acme=4.", valueName: "tenant=n"))
    var assignments: [String] = []

    func validate() throws {
        do {
            _ = try ScaleArgument.parse(assignments)
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        let scales = try ScaleArgument.parse(assignments)
        let operation = ControlOperation.scale(
            Dictionary(uniqueKeysWithValues: scales.map { ($0.tenant, $0.count) })
        )
        let result = try clusterctl.perform(operation)
        let reply = try clusterctl.decode(result, as: ScaleReply.self, op: operation)
        for scale in scales {
            if let count = reply.scales[scale.tenant] {
                print("\(scale.tenant)=\(count)")
            } else {
                print("\(scale.tenant)=0 (on demand)")
            }
        }
    }
}
