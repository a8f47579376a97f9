import ClusterControl
import ClusterCore
import NIOConcurrencyHelpers
import NIOCore

/// The router's routing side: host → tenant, and each tenant's ``TenantDispatch`` (which worker takes a
/// request, which wait, when to ask clusterd for a worker). Fed by the control channel, asked by the proxy.
///
/// One lock guards the state; promises are completed and activations sent outside it.
public final class ClusterRouting: RequestRouting {
    struct State {
        var table = RoutingTable(domain: nil, hosts: [:])
        var tenants: [String: TenantDispatch] = [:]
        var waiting: [UInt64: Waiting] = [:]
        var nextTicket: UInt64 = 1
        var connected = false
        /// Until the first snapshot the router knows no host: requests wait for it instead of getting 404s.
        var synchronized = false
        var beforeSnapshot: [EarlyRequest] = []
    }

    struct EarlyRequest {
        var ticket: UInt64
        var query: RouteQuery
        var promise: EventLoopPromise<RouteResult>
        var since: Instant
    }

    /// Most requests held while the router has not yet heard from clusterd.
    static let earlyRequestLimit = 10_000

    struct Waiting {
        var tenant: String
        var promise: EventLoopPromise<RouteResult>
    }

    private let state = NIOLockedValueBox(State())
    private let queueTimeout: Duration
    /// Asks clusterd for a worker of the tenant; the answer comes back through `activationAnswered`.
    private let activate: @Sendable (_ tenant: String, _ additional: Bool) -> Void

    public init(queueTimeout: Duration = .seconds(60), activate: @escaping @Sendable (String, Bool) -> Void) {
        self.queueTimeout = queueTimeout
        self.activate = activate
    }

    // MARK: - RequestRouting

    public func route(_ query: RouteQuery, on eventLoop: any EventLoop) -> RouteDecision {
        let now = Instant.now()
        // A request a free worker takes at once is decided under the lock without a promise or a place in
        // `waiting` (the per-request path); one that must wait gets its promise there, as `route(_:promise:)` does.
        let (ticket, outcome) = state.withLockedValue { state -> (UInt64, Outcome) in
            let ticket = state.nextTicket
            state.nextTicket += 1
            guard state.synchronized, let tenant = state.table.tenant(forHost: query.host), state.tenants[tenant] != nil
            else {
                return (ticket, .slow)
            }
            let cookie = query.routeCookie.flatMap { WorkerID(parsing: $0) }.flatMap { $0.tenant == tenant ? $0 : nil }
            if let taken = state.tenants[tenant]!.forwardAtOnce(cookie: cookie) {
                let target = ForwardTarget(
                    tenant: tenant,
                    worker: taken.worker,
                    port: taken.port,
                    setRouteCookie: taken.setCookie ? taken.worker.description : nil
                )
                return (ticket, .forward(target))
            }
            let actions = state.tenants[tenant]!.requestArrived(ticket: ticket, cookie: cookie, now: now)
            let promise = eventLoop.makePromise(of: RouteResult.self)
            state.waiting[ticket] = Waiting(tenant: tenant, promise: promise)
            return (ticket, .waiting(promise, tenant, Self.resolve(actions, tenant: tenant, state: &state)))
        }
        switch outcome {
        case .forward(let target):
            return .now(.forward(target))
        case .waiting(let promise, let tenant, let resolved):
            execute(resolved, tenant: tenant)
            return .later(RouteTicket(ticket), promise.futureResult)
        case .slow:
            // Not synchronized yet, or an unknown host: the general path (which takes a new ticket).
            let promise = eventLoop.makePromise(of: RouteResult.self)
            return .later(route(query, promise: promise), promise.futureResult)
        case .respond, .actions:
            preconditionFailure("not produced above")
        }
    }

    public func route(_ query: RouteQuery, promise: EventLoopPromise<RouteResult>) -> RouteTicket {
        let now = Instant.now()
        let (ticket, outcome) = state.withLockedValue { state -> (UInt64, Outcome) in
            let ticket = state.nextTicket
            state.nextTicket += 1
            guard state.synchronized else {
                guard state.beforeSnapshot.count < Self.earlyRequestLimit else {
                    return (ticket, .respond(Self.notConnected))
                }
                state.beforeSnapshot.append(EarlyRequest(ticket: ticket, query: query, promise: promise, since: now))
                return (ticket, .actions("", []))
            }
            guard let tenant = state.table.tenant(forHost: query.host), state.tenants[tenant] != nil else {
                return (
                    ticket,
                    .respond(RouterRefusal(status: .notFound, reason: "no tenant serves host \"\(query.host)\""))
                )
            }
            state.waiting[ticket] = Waiting(tenant: tenant, promise: promise)
            let cookie = query.routeCookie.flatMap { WorkerID(parsing: $0) }.flatMap { $0.tenant == tenant ? $0 : nil }
            let actions = state.tenants[tenant]!.requestArrived(ticket: ticket, cookie: cookie, now: now)
            return (ticket, .actions(tenant, Self.resolve(actions, tenant: tenant, state: &state)))
        }
        switch outcome {
        case .respond(let refusal): promise.succeed(.respond(refusal))
        case .actions(let tenant, let resolved): execute(resolved, tenant: tenant)
        case .forward, .waiting, .slow: preconditionFailure("produced by route(_:on:) only")
        }
        return RouteTicket(ticket)
    }

    public func cancel(_ ticket: RouteTicket) {
        state.withLockedValue { state in
            state.beforeSnapshot.removeAll { $0.ticket == ticket.value }
            guard let waiting = state.waiting.removeValue(forKey: ticket.value) else { return }
            state.tenants[waiting.tenant]?.requestCancelled(ticket: ticket.value)
        }
    }

    public func finished(_ target: ForwardTarget) {
        update(target.tenant) { $0.requestFinished(worker: target.worker, now: $1) }
    }

    public func unreachable(_ target: ForwardTarget) {
        update(target.tenant) { $0.workerUnreachable(target.worker, now: $1) }
    }

    // MARK: - From the control channel

    /// A fresh snapshot (after connecting, or with `config-reloaded`): routing and every tenant's ready workers.
    public func resynchronize(_ snapshot: ClusterSnapshot) {
        let now = Instant.now()
        var work: [(String, [Resolved])] = []
        var orphans: [EventLoopPromise<RouteResult>] = []
        var early: [EarlyRequest] = []
        state.withLockedValue { state in
            state.connected = true
            state.synchronized = true
            swap(&early, &state.beforeSnapshot)
            state.table = RoutingTable(
                domain: snapshot.domain,
                hosts: Dictionary(snapshot.tenants.map { ($0.name, $0.hosts) }, uniquingKeysWith: { first, _ in first })
            )
            var tenants: [String: TenantDispatch] = [:]
            for tenant in snapshot.tenants {
                let limits = TenantDispatch.Limits(
                    queueLimit: tenant.queueLimit,
                    maxConcurrency: tenant.maxConcurrency,
                    maxWorkers: tenant.maxWorkers,
                    queueTimeout: queueTimeout
                )
                var dispatch = state.tenants[tenant.name] ?? TenantDispatch(limits: limits)
                dispatch.limits = limits
                let ready = tenant.workers.filter { $0.state == .ready }.map { (id: $0.id, port: $0.port) }
                let actions = dispatch.resynchronized(ready: ready, now: now)
                tenants[tenant.name] = dispatch
                state.tenants[tenant.name] = dispatch
                work.append((tenant.name, Self.resolve(actions, tenant: tenant.name, state: &state)))
            }
            // Requests waiting for a tenant that no longer exists.
            for (ticket, waiting) in state.waiting where tenants[waiting.tenant] == nil {
                orphans.append(waiting.promise)
                state.waiting[ticket] = nil
            }
            state.tenants = tenants
        }
        for promise in orphans {
            promise.succeed(.respond(RouterRefusal(status: .notFound, reason: "the tenant was removed")))
        }
        for (tenant, resolved) in work { execute(resolved, tenant: tenant) }
        // Requests that arrived before the router first heard from clusterd, now that it knows the hosts.
        for request in early { _ = route(request.query, promise: request.promise) }
    }

    /// A subscription event.
    public func apply(_ event: ControlEvent) {
        switch event.event {
        case .workerReady:
            guard let tenant = event.tenant, let id = event.worker, let port = event.port else { return }
            update(tenant) { $0.workerReady(id, port: port, now: $1) }
        case .workerDraining, .workerGone:
            guard let tenant = event.tenant, let id = event.worker else { return }
            update(tenant) { $0.workerLeft(id, now: $1) }
        case .configurationReloaded:
            if let snapshot = event.snapshot { resynchronize(snapshot) }
        default:
            break
        }
    }

    /// clusterd's answer to an `activate`.
    public func activationAnswered(tenant: String, _ answer: Result<[WorkerEndpoint], ControlError>) {
        switch answer {
        case .success(let workers):
            let ready = workers.map { (id: $0.id, port: $0.port) }
            update(tenant) { $0.activationSucceeded(ready, now: $1) }
        case .failure(let error):
            let refusal = ActivationRefusal(error)
            update(tenant) { $0.activationFailed(refusal, now: $1) }
        }
    }

    /// The control connection dropped: known workers keep serving; activations will be asked again.
    public func controlChannelLost() {
        state.withLockedValue { state in
            state.connected = false
            for name in state.tenants.keys { state.tenants[name]!.controlChannelLost() }
        }
    }

    /// Refuses requests waiting longer than the queue timeout.
    public func timeElapsed() {
        let now = Instant.now()
        let expired = state.withLockedValue { state -> [EventLoopPromise<RouteResult>] in
            var expired: [EventLoopPromise<RouteResult>] = []
            state.beforeSnapshot.removeAll { request in
                guard now - request.since >= queueTimeout else { return false }
                expired.append(request.promise)
                return true
            }
            return expired
        }
        for promise in expired { promise.succeed(.respond(Self.notConnected)) }
        let names = state.withLockedValue { state in state.tenants.filter { $0.value.needsTime }.map(\.key) }
        for name in names { update(name) { $0.timeElapsed(now: $1) } }
    }

    /// Per worker: in-flight now, for workers with traffic since the last call.
    public func takeActivity() -> [WorkerActivity] {
        state.withLockedValue { state in
            var reports: [WorkerActivity] = []
            for name in state.tenants.keys {
                for (id, inFlight) in state.tenants[name]!.takeActivity() {
                    reports.append(WorkerActivity(worker: id, inFlight: inFlight))
                }
            }
            return reports
        }
    }

    /// Requests of `tenant` waiting for a worker now.
    public func waitingCount(tenant: String) -> Int {
        state.withLockedValue { $0.tenants[tenant]?.waitingCount ?? 0 }
    }

    /// Whether the control channel is up (a snapshot has been applied since the last loss).
    public var isConnected: Bool { state.withLockedValue { $0.connected } }

    static let notConnected = RouterRefusal(
        status: .serviceUnavailable,
        reason: "the router has not reached clusterd's control channel yet",
        retryAfterSeconds: 1
    )

    // MARK: - Executing the machine's actions

    private enum Outcome {
        case respond(RouterRefusal)
        case actions(String, [Resolved])
        /// `route(_:on:)`: a worker took the request at once.
        case forward(ForwardTarget)
        /// `route(_:on:)`: the request waits, with its promise (already in `waiting`).
        case waiting(EventLoopPromise<RouteResult>, String, [Resolved])
        /// `route(_:on:)`: handled by `route(_:promise:)`.
        case slow
    }

    /// An action with its promise taken out of the waiting table (under the lock).
    private enum Resolved {
        case complete(EventLoopPromise<RouteResult>, RouteResult)
        case activate(additional: Bool)
    }

    private func update(_ tenant: String, _ event: (inout TenantDispatch, Instant) -> [TenantDispatch.Action]) {
        let now = Instant.now()
        let resolved = state.withLockedValue { state -> [Resolved] in
            guard state.tenants[tenant] != nil else { return [] }
            let actions = event(&state.tenants[tenant]!, now)
            return Self.resolve(actions, tenant: tenant, state: &state)
        }
        execute(resolved, tenant: tenant)
    }

    private static func resolve(_ actions: [TenantDispatch.Action], tenant: String, state: inout State) -> [Resolved] {
        actions.compactMap { action in
            switch action {
            case .forward(let ticket, let worker, let port, let setCookie, let coldStart):
                guard let waiting = state.waiting.removeValue(forKey: ticket) else { return nil }
                let target = ForwardTarget(
                    tenant: tenant,
                    worker: worker,
                    port: port,
                    setRouteCookie: setCookie ? worker.description : nil,
                    coldStart: coldStart
                )
                return .complete(waiting.promise, .forward(target))
            case .refuse(let ticket, let refusal):
                guard let waiting = state.waiting.removeValue(forKey: ticket) else { return nil }
                return .complete(waiting.promise, .respond(Self.response(for: refusal, tenant: tenant)))
            case .activate(let additional):
                return .activate(additional: additional)
            }
        }
    }

    private func execute(_ resolved: [Resolved], tenant: String) {
        for item in resolved {
            switch item {
            case .complete(let promise, let result): promise.succeed(result)
            case .activate(let additional): activate(tenant, additional)
            }
        }
    }
}
