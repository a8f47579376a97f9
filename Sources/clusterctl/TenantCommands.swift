import ArgumentParser
import ClusterControl

/// `clusterctl start|stop|restart|drain TENANT`: one request naming a tenant, answered `{}`.
protocol TenantCommand: ParsableCommand {
    var clusterctl: Clusterctl { get }
    var tenant: String { get }
    /// The request for `tenant`.
    static func operation(_ tenant: String) -> ControlOperation
    /// Printed on success, after `TENANT: `.
    static var done: String { get }
}

extension TenantCommand {
    func validate() throws {
        if tenant.isEmpty { throw ValidationError("the tenant name is empty") }
    }

    func run() throws {
        try clusterctl.perform(Self.operation(tenant))
        print("\(tenant): \(Self.done)")
    }
}

struct StartCommand: TenantCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Clear a tenant's stopped or failed state and start one worker now."
    )
    static func operation(_ tenant: String) -> ControlOperation { .start(tenant: tenant) }
    static let done = "starting"
    @ParentCommand var clusterctl: Clusterctl
    @Argument(help: "The tenant.") var tenant: String
}

struct StopCommand: TenantCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a tenant's workers now (SIGTERM) and refuse its activations until `clusterctl start`."
    )
    static func operation(_ tenant: String) -> ControlOperation { .stop(tenant: tenant) }
    static let done = "stopping"
    @ParentCommand var clusterctl: Clusterctl
    @Argument(help: "The tenant.") var tenant: String
}

struct RestartCommand: TenantCommand {
    static let configuration = CommandConfiguration(
        commandName: "restart",
        abstract: "Roll a tenant's workers: each new worker is ready before an old one drains."
    )
    static func operation(_ tenant: String) -> ControlOperation { .restart(tenant: tenant) }
    static let done = "restarting (rolling)"
    @ParentCommand var clusterctl: Clusterctl
    @Argument(help: "The tenant.") var tenant: String
}

struct DrainCommand: TenantCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Let a tenant's workers finish their requests, then stop them; the tenant is on-demand again."
    )
    static func operation(_ tenant: String) -> ControlOperation { .drain(tenant: tenant) }
    static let done = "draining"
    @ParentCommand var clusterctl: Clusterctl
    @Argument(help: "The tenant.") var tenant: String
}
