import ClusterCore
import ClusterRouter
import NIOCore
import Synchronization

/// A ``RequestRouting`` test double: each host goes to a fixed list of ports (the next one after an
/// `unreachable`, unless `workerPerPort`), or gets a fixed refusal; it can hold or delay answers, and records
/// every call.
final class StaticRouting: RequestRouting {
    struct Route: Sendable {
        /// Tried in order: an `unreachable` moves on to the next (not with `workerPerPort`).
        var ports: [Int]
        var setRouteCookie: String?
        var coldStart: Duration?
        var refusal: RouterRefusal?
        /// Answer after this long.
        var delay: Duration?
        /// Never answer (until the request is cancelled).
        var hold = false
        /// One worker per port, still offered after `unreachable` (as clusterd would while it thinks the worker
        /// ready); otherwise every route call gets a new worker and an unreachable port is skipped.
        var workerPerPort = false
    }

    struct Calls: Sendable {
        var routed = 0
        var cancelled: [RouteTicket] = []
        var finished: [ForwardTarget] = []
        var unreachable: [ForwardTarget] = []
        var forwarded = 0
        var inFlight = 0
        var maxInFlight = 0
        /// Ports marked unreachable: routing skips them.
        var dead: Set<Int> = []
        var nextTicket: UInt64 = 0
        var serial = 0
        var held: [UInt64: EventLoopPromise<RouteResult>] = [:]
        var queries: [RouteQuery] = []
    }

    private let routes: [String: Route]
    private let calls = Mutex(Calls())

    init(_ routes: [String: Route]) {
        self.routes = routes
    }

    /// Every host to `port`.
    convenience init(host: String = "app.test", port: Int) {
        self.init([host: Route(ports: [port])])
    }

    var snapshot: Calls { self.calls.withLock { $0 } }

    func route(_ query: RouteQuery, promise: EventLoopPromise<RouteResult>) -> RouteTicket {
        let route = self.routes[query.host]
        let (ticket, result) = self.calls.withLock { calls -> (RouteTicket, RouteResult?) in
            calls.routed += 1
            calls.queries.append(query)
            calls.nextTicket += 1
            let ticket = RouteTicket(calls.nextTicket)
            guard let route else {
                return (ticket, .respond(RouterRefusal(status: .notFound, reason: "unknown host \(query.host)")))
            }
            if let refusal = route.refusal { return (ticket, .respond(refusal)) }
            if route.hold {
                calls.held[ticket.value] = promise
                return (ticket, nil)
            }
            guard let port = route.ports.first(where: { !calls.dead.contains($0) }) else {
                return (ticket, .respond(RouterRefusal(status: .badGateway, reason: "no live worker")))
            }
            calls.serial += 1
            calls.forwarded += 1
            calls.inFlight += 1
            calls.maxInFlight = max(calls.maxInFlight, calls.inFlight)
            let target = ForwardTarget(
                tenant: query.host,
                worker: WorkerID(tenant: query.host, serial: route.workerPerPort ? port : calls.serial),
                port: port,
                setRouteCookie: route.setRouteCookie,
                coldStart: route.coldStart
            )
            return (ticket, .forward(target))
        }
        if let result {
            if let delay = route?.delay {
                promise.futureResult.eventLoop.scheduleTask(in: TimeAmount(delay)) { promise.succeed(result) }
            } else {
                promise.succeed(result)
            }
        }
        return ticket
    }

    func cancel(_ ticket: RouteTicket) {
        let held = self.calls.withLock { calls in
            calls.cancelled.append(ticket)
            return calls.held.removeValue(forKey: ticket.value)
        }
        held?.succeed(.respond(RouterRefusal(status: .serviceUnavailable, reason: "cancelled")))
    }

    func finished(_ target: ForwardTarget) {
        self.calls.withLock { calls in
            calls.finished.append(target)
            calls.inFlight -= 1
        }
    }

    func unreachable(_ target: ForwardTarget) {
        let workerPerPort = self.routes[target.tenant]?.workerPerPort ?? false
        self.calls.withLock { calls in
            calls.unreachable.append(target)
            if !workerPerPort { calls.dead.insert(target.port) }
        }
    }

    /// Fails every held request (so a test can end cleanly).
    func releaseHeld() {
        let held = self.calls.withLock { calls in
            defer { calls.held = [:] }
            return Array(calls.held.values)
        }
        for promise in held {
            promise.succeed(.respond(RouterRefusal(status: .serviceUnavailable, reason: "released")))
        }
    }

    /// Each forwarded target was finished exactly once (workers are numbered uniquely per route call; never true
    /// with `workerPerPort`, where a worker is forwarded to again).
    var finishedExactlyOnce: Bool {
        let calls = self.snapshot
        let ids = calls.finished.map(\.worker)
        return calls.inFlight == 0 && Set(ids).count == ids.count && ids.count == calls.forwarded
    }
}
