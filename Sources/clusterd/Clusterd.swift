import ArgumentParser

@main
struct Clusterd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clusterd",
        abstract: "Supervises one worker process per tenant: started on demand, idled out, restarted with backoff.",
        subcommands: [StartCommand.self, CheckCommand.self, RouterCommand.self, HAProxyAdapterCommand.self]
    )
}
