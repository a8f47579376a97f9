import ClusterCore
import Logging

extension Supervisor {
    /// Each event of the machine as a log line, with the tenant and worker as metadata.
    func log(_ event: ClusterEvent) {
        switch event {
        case .workerStarting(let id, let port, let pid):
            logger.info("worker starting", metadata: metadata(id, ["port": "\(port)", "pid": "\(pid)"]))
        case .workerReady(let id, let port):
            logger.info("worker ready", metadata: metadata(id, ["port": "\(port)"]))
        case .workerDraining(let id, let reason):
            logger.info("worker draining", metadata: metadata(id, ["reason": "\(reason.rawValue)"]))
        case .workerGone(let id, let exit, let reason):
            var extra: Logger.Metadata = ["exit": "\(exit.map(\.description) ?? "never started")"]
            if let reason { extra["reason"] = "\(reason.rawValue)" }
            if reason == nil, exit?.isSuccess != true {
                logger.warning("worker failed", metadata: metadata(id, extra))
            } else {
                logger.info("worker gone", metadata: metadata(id, extra))
            }
        case .tenantFailed(let tenant, let reason, let retryAfter):
            logger.error(
                "tenant is crash-looping; not starting it",
                metadata: [
                    "tenant": "\(tenant)", "reason": "\(reason)", "retry_in": "\(retryAfter.formattedForHumans)",
                ]
            )
        case .tenantRecovered(let tenant):
            logger.notice("tenant may start workers again", metadata: ["tenant": "\(tenant)"])
        case .configurationReloaded:
            logger.notice("configuration reloaded", metadata: ["tenants": "\(machine.configuration.tenants.count)"])
        }
    }

    func metadata(_ id: WorkerID, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        extra.merging(["tenant": "\(id.tenant)", "worker": "\(id)"]) { a, _ in a }
    }
}
