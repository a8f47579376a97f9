import ClusterControl
import ClusterCore
import NIOHTTP1

extension Dispatcher {
    /// The HTTP answer for a request the router answers itself.
    static func response(for refusal: TenantDispatch.Refusal, tenant: String) -> RouterRefusal {
        switch refusal {
        case .queueFull(let limit):
            RouterRefusal(
                status: .serviceUnavailable,
                reason: "too many requests waiting for tenant \(tenant) (queue_limit \(limit))",
                retryAfterSeconds: 1
            )
        case .waitedTooLong(let timeout):
            RouterRefusal(
                status: .serviceUnavailable,
                reason: "no worker of tenant \(tenant) was free within \(timeout.formattedForHumans)",
                retryAfterSeconds: 1
            )
        case .startFailed(let reason):
            RouterRefusal(status: .badGateway, reason: "tenant \(tenant): \(reason)")
        case .startTimedOut(let reason):
            RouterRefusal(status: .gatewayTimeout, reason: "tenant \(tenant): \(reason)")
        case .tenantFailed(let reason, let retryAfter):
            RouterRefusal(
                status: .serviceUnavailable,
                reason: "tenant \(tenant): \(reason)",
                retryAfterSeconds: max(1, Int((retryAfter.milliseconds + 999) / 1000))
            )
        case .tenantStopped(let reason):
            RouterRefusal(status: .serviceUnavailable, reason: "tenant \(tenant): \(reason)", retryAfterSeconds: 30)
        case .unknownTenant(let reason):
            RouterRefusal(status: .notFound, reason: "tenant \(tenant): \(reason)")
        case .unavailable(let reason):
            RouterRefusal(status: .serviceUnavailable, reason: "tenant \(tenant): \(reason)", retryAfterSeconds: 1)
        }
    }

    /// What an activation error means for the requests waiting on it.
    static func refusal(for error: ControlError) -> TenantDispatch.Refusal {
        switch error.code {
        case .startFailed: .startFailed(error.message)
        case .startTimeout: .startTimedOut(error.message)
        case .tenantFailed:
            .tenantFailed(error.message, retryAfter: .milliseconds(error.retryAfterMilliseconds ?? 1000))
        case .tenantStopped: .tenantStopped(error.message)
        case .unknownTenant: .unknownTenant(error.message)
        default: .unavailable(error.message)
        }
    }
}
