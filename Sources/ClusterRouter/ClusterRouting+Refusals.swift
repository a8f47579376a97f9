import ClusterControl
import ClusterCore
import NIOHTTP1

extension ClusterRouting {
    /// The HTTP answer for a request the router answers itself.
    static func response(for refusal: TenantDispatch.Refusal, tenant: String) -> RouterRefusal {
        switch refusal {
        case .queueFull(let limit):
            return RouterRefusal(
                status: .serviceUnavailable,
                reason: "too many requests waiting for tenant \(tenant) (queue_limit \(limit))",
                retryAfterSeconds: 1
            )
        case .waitedTooLong(let timeout):
            return RouterRefusal(
                status: .serviceUnavailable,
                reason: "no worker of tenant \(tenant) was free within \(timeout.formattedForHumans)",
                retryAfterSeconds: 1
            )
        case .activationFailed(let failure):
            let reason = "tenant \(tenant): \(failure.message)"
            switch failure.kind {
            case .startFailed?:
                return RouterRefusal(status: .badGateway, reason: reason)
            case .startTimedOut?:
                return RouterRefusal(status: .gatewayTimeout, reason: reason)
            case .unknownTenant?:
                return RouterRefusal(status: .notFound, reason: reason)
            case .tenantFailed?:
                let milliseconds = (failure.retryAfter ?? .seconds(1)).milliseconds
                return RouterRefusal(
                    status: .serviceUnavailable,
                    reason: reason,
                    retryAfterSeconds: max(1, Int((milliseconds + 999) / 1000))
                )
            case .tenantStopped?:
                return RouterRefusal(status: .serviceUnavailable, reason: reason, retryAfterSeconds: 30)
            case .hostAtCapacity?, .tooManyWaiting?, .shuttingDown?, nil:
                return RouterRefusal(status: .serviceUnavailable, reason: reason, retryAfterSeconds: 1)
            }
        }
    }
}
