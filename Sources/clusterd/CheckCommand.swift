import ArgumentParser
import ClusterControl
import ClusterCore
import TenantsFile

extension Clusterd {
    struct CheckCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate a tenants.conf and exit: 0 when valid, 1 listing every error (file:line or key)."
        )

        @Option(name: .long, help: "Path of the tenants file.")
        var tenants: String

        func run() throws {
            switch TenantsFile.load(path: tenants) {
            case .success(let configuration):
                let names = configuration.tenantNames
                print(
                    "\(tenants): ok, \(names.count) tenant\(names.count == 1 ? "" : "s")\(names.isEmpty ? "" : ": " + names.joined(separator: ", "))"
                )
            case .failure(let error):
                StandardError.write(error.description)
                throw ExitCode(1)
            }
        }
    }
}
