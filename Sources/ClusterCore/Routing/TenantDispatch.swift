/// One tenant's requests at the router: which ready worker takes each (least in flight, sticky sessions,
/// `max_concurrency`), the bounded queue of requests waiting for a worker, and when to ask clusterd for one.
///
/// Pure, like the supervisor's machine: events in with `now`, actions out; the router executes them.
public struct TenantDispatch: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Requests held while no worker is free; beyond it, refused (503).
        public var queueLimit: Int
        /// In-flight cap per worker; 0 = none.
        public var maxConcurrency: Int
        /// Most workers the tenant may have. Above 1, sessions are pinned with the route cookie.
        public var maxWorkers: Int
        /// A request waiting longer than this is refused (503), whatever it waits for.
        public var queueTimeout: Duration

        public init(queueLimit: Int, maxConcurrency: Int, maxWorkers: Int, queueTimeout: Duration = .seconds(60)) {
            self.queueLimit = queueLimit
            self.maxConcurrency = maxConcurrency
            self.maxWorkers = maxWorkers
            self.queueTimeout = queueTimeout
        }

        public var sticky: Bool { maxWorkers > 1 }
    }

    /// A ready worker as the router sees it.
    public struct Route: Sendable, Equatable {
        public var id: WorkerID
        public var port: Int
        /// Requests (and tunnels) this router has on it now.
        public var inFlight = 0
        /// Requests since the last activity report, so idle-out is decided from real traffic.
        public var touched = false

        public init(id: WorkerID, port: Int) {
            self.id = id
            self.port = port
        }
    }

    /// A request with no worker yet.
    struct Waiting: Sendable, Equatable {
        var ticket: UInt64
        var since: Instant
        /// The worker its session lives on, while that worker is busy.
        var pinned: WorkerID?
        /// It waited for a worker to start (a cold start), not only for a busy one.
        var coldStart: Bool
    }

    public enum Action: Sendable, Equatable {
        /// Send request `ticket` to the worker. `setCookie`: pin the session there. `coldStart`: how long
        /// it waited for a worker to start.
        case forward(ticket: UInt64, worker: WorkerID, port: Int, setCookie: Bool, coldStart: Duration?)
        case refuse(ticket: UInt64, Refusal)
        /// Ask clusterd for a worker (`additional`: one more, all are saturated).
        case activate(additional: Bool)
    }

    /// Why the router answers a request itself.
    public enum Refusal: Sendable, Equatable {
        case queueFull(limit: Int)
        case waitedTooLong(Duration)
        /// clusterd could not give a worker (for a failed tenant, `retryAfter` counts from the refusal).
        case activationFailed(ActivationRefusal)
    }

    public var limits: Limits
    public private(set) var workers: [Route] = []
    private(set) var queue: [Waiting] = []
    /// An `activate` is in flight to clusterd.
    public private(set) var activationPending = false
    /// The control channel is down: an `activate` now would be lost, so none is asked until `resynchronized`.
    private var disconnected = false
    /// One more worker was asked for when this many were ready. clusterd answers that at once and starts it
    /// later, so it is not asked again until more are ready (or one leaves).
    private var additionalAskedWith: Int?
    /// clusterd said the tenant is crash-looping: refuse at once until then, without asking again.
    private var failedUntil: Instant?
    private var failedReason = ""
    /// Workers this router could not connect to, held out of routing: clusterd may list them as ready a while
    /// longer (it has not handled the exit yet). No activation is asked while they are all there is (clusterd
    /// would answer with them again), and they still count against `maxWorkers`. A hold ends when clusterd
    /// reports the worker draining or gone, or after `unreachableHold`: then the worker is routed to again
    /// (one that was only slow to accept), and a dead one is found unreachable and held once more.
    private var held: [WorkerID: Held] = [:]

    private struct Held: Sendable {
        var route: Route
        var since: Instant
    }

    /// The held workers and when each was found unreachable.
    public var unreachable: [WorkerID: Instant] { held.mapValues(\.since) }
    /// Whether `timeElapsed` has something to do: requests wait, or holds are to end.
    public var needsTime: Bool { !queue.isEmpty || !held.isEmpty }
    /// How long a worker found unreachable is kept out of routing unless clusterd reports it gone sooner.
    public static let unreachableHold = Duration.seconds(1)

    public init(limits: Limits) {
        self.limits = limits
    }

    public var waitingCount: Int { queue.count }
    public var inFlight: Int { workers.reduce(0) { $0 + $1.inFlight } }

    // MARK: - Requests

    /// A request arrived; `cookie` is the worker its route cookie names, if any.
    public mutating func requestArrived(ticket: UInt64, cookie: WorkerID?, now: Instant) -> [Action] {
        let pinned = cookie.flatMap { id in workers.contains { $0.id == id } ? id : nil }
        if let pinned {
            let index = workers.firstIndex { $0.id == pinned }!
            if hasCapacity(workers[index]) { return [take(index, ticket: ticket, setCookie: false, coldStart: nil)] }
        } else if let index = leastBusy() {
            return [take(index, ticket: ticket, setCookie: limits.sticky, coldStart: nil)]
        }
        if let until = failedUntil, now < until, workers.isEmpty {
            return [.refuse(ticket: ticket, failedRefusal(until: until, now: now))]
        }
        guard queue.count < limits.queueLimit else {
            return [.refuse(ticket: ticket, .queueFull(limit: limits.queueLimit))]
        }
        queue.append(Waiting(ticket: ticket, since: now, pinned: pinned, coldStart: workers.isEmpty))
        return requestActivationIfNeeded(now: now)
    }

    /// The first step of ``requestArrived(ticket:cookie:now:)``, without allocating: when a ready worker takes the
    /// request at once (the cookie's worker if it has room, else the least busy), it is counted on that worker and
    /// returned, exactly as `requestArrived` would forward it. nil: nothing changed; call `requestArrived`.
    public mutating func forwardAtOnce(cookie: WorkerID?) -> (worker: WorkerID, port: Int, setCookie: Bool)? {
        let index: Int
        let setCookie: Bool
        if let cookie, let pinned = workers.firstIndex(where: { $0.id == cookie }) {
            guard hasCapacity(workers[pinned]) else { return nil }
            index = pinned
            setCookie = false
        } else if let best = leastBusy() {
            index = best
            setCookie = limits.sticky
        } else {
            return nil
        }
        workers[index].inFlight += 1
        workers[index].touched = true
        return (workers[index].id, workers[index].port, setCookie)
    }

    /// The request (or tunnel) on `worker` is over.
    public mutating func requestFinished(worker: WorkerID, now: Instant) -> [Action] {
        guard let index = workers.firstIndex(where: { $0.id == worker }) else {
            // A held worker: the request that found it unreachable, or one still running on an older connection.
            if held[worker] != nil {
                held[worker]!.route.inFlight = max(0, held[worker]!.route.inFlight - 1)
                held[worker]!.route.touched = true
            }
            return []
        }
        workers[index].inFlight = max(0, workers[index].inFlight - 1)
        workers[index].touched = true
        return dispatchQueue(now: now)
    }

    /// The client of a waiting request went away.
    public mutating func requestCancelled(ticket: UInt64) {
        queue.removeAll { $0.ticket == ticket }
    }

    /// Refuses requests that waited longer than `queueTimeout`; ends the hold on unreachable workers after
    /// `unreachableHold` (and asks for a worker again if requests wait).
    public mutating func timeElapsed(now: Instant) -> [Action] {
        var actions: [Action] = []
        queue.removeAll { waiting in
            guard now - waiting.since >= limits.queueTimeout else { return false }
            actions.append(.refuse(ticket: waiting.ticket, .waitedTooLong(limits.queueTimeout)))
            return true
        }
        if reinstateHeld(now: now) { actions += dispatchQueue(now: now) + requestActivationIfNeeded(now: now) }
        return actions
    }

    // MARK: - Workers and activation

    /// A worker of this tenant is ready (an event, or an activation's answer).
    public mutating func workerReady(_ id: WorkerID, port: Int, now: Instant) -> [Action] {
        if held[id] == nil, !workers.contains(where: { $0.id == id }) {
            workers.append(Route(id: id, port: port))
        }
        failedUntil = nil
        return dispatchQueue(now: now) + requestActivationIfNeeded(now: now)
    }

    /// The worker drains or is gone: no new requests go to it; sessions pinned to it move.
    public mutating func workerLeft(_ id: WorkerID, now: Instant) -> [Action] {
        held[id] = nil
        guard let index = workers.firstIndex(where: { $0.id == id }) else {
            // Often a held worker clusterd has now caught up with: its place may be asked for again.
            additionalAskedWith = nil
            return requestActivationIfNeeded(now: now)
        }
        return removeWorker(at: index, now: now)
    }

    /// Connecting to the worker failed while clusterd still listed it: it is held out of routing (see
    /// `unreachable`), and its pinned sessions move.
    public mutating func workerUnreachable(_ id: WorkerID, now: Instant) -> [Action] {
        guard let index = workers.firstIndex(where: { $0.id == id }) else { return [] }
        held[id] = Held(route: workers[index], since: now)
        return removeWorker(at: index, now: now)
    }

    /// Ends the holds older than `unreachableHold` (from `timeElapsed` only, so that the fast path decides as
    /// `requestArrived` does): those workers are routed to again. Whether any ended.
    private mutating func reinstateHeld(now: Instant) -> Bool {
        let ended = held.filter { now - $0.value.since >= Self.unreachableHold }
        guard !ended.isEmpty else { return false }
        for (id, entry) in ended.sorted(by: { $0.value.since < $1.value.since }) {
            held[id] = nil
            if !workers.contains(where: { $0.id == id }) { workers.append(entry.route) }
        }
        additionalAskedWith = nil
        return true
    }

    private mutating func removeWorker(at index: Int, now: Instant) -> [Action] {
        let id = workers[index].id
        workers.remove(at: index)
        additionalAskedWith = nil
        for position in queue.indices where queue[position].pinned == id { queue[position].pinned = nil }
        return dispatchQueue(now: now) + requestActivationIfNeeded(now: now)
    }

    /// clusterd answered the activation with its ready workers.
    public mutating func activationSucceeded(_ ready: [(id: WorkerID, port: Int)], now: Instant) -> [Action] {
        activationPending = false
        for worker in ready where held[worker.id] == nil && !workers.contains(where: { $0.id == worker.id }) {
            workers.append(Route(id: worker.id, port: worker.port))
        }
        failedUntil = nil
        return dispatchQueue(now: now) + requestActivationIfNeeded(now: now)
    }

    /// clusterd could not produce a worker: waiting requests that no ready worker can take are refused.
    public mutating func activationFailed(_ refusal: ActivationRefusal, now: Instant) -> [Action] {
        activationPending = false
        if refusal.kind == .tenantFailed {
            failedUntil = now + (refusal.retryAfter ?? .seconds(1))
            failedReason = refusal.message
        }
        guard workers.isEmpty else { return dispatchQueue(now: now) }
        let refused = queue.map { Action.refuse(ticket: $0.ticket, .activationFailed(refusal)) }
        queue.removeAll()
        return refused
    }

    /// The control connection was lost: an activation in flight will not be answered. Requests keep waiting
    /// (bounded by `queueTimeout`) and activation is asked again on reconnect.
    public mutating func controlChannelLost() {
        activationPending = false
        disconnected = true
        additionalAskedWith = nil
    }

    /// After (re)connecting: the ready workers clusterd reports replace what this router knew; in-flight
    /// counts of workers that are still there are kept.
    public mutating func resynchronized(ready: [(id: WorkerID, port: Int)], now: Instant) -> [Action] {
        disconnected = false
        let previous = Dictionary(workers.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        // Held workers clusterd no longer lists are gone; those it still lists stay held.
        held = held.filter { entry in ready.contains { $0.id == entry.key } }
        workers = ready.filter { held[$0.id] == nil }.map { worker in
            previous[worker.id].map {
                var kept = $0
                kept.port = worker.port
                return kept
            } ?? Route(id: worker.id, port: worker.port)
        }
        let live = Set(workers.map(\.id))
        for position in queue.indices where queue[position].pinned.map({ !live.contains($0) }) ?? false {
            queue[position].pinned = nil
        }
        return dispatchQueue(now: now) + requestActivationIfNeeded(now: now)
    }

    /// Workers with traffic since the last call, with their in-flight counts; clears the marks.
    public mutating func takeActivity() -> [(id: WorkerID, inFlight: Int)] {
        var report: [(WorkerID, Int)] = []
        for index in workers.indices where workers[index].touched || workers[index].inFlight > 0 {
            report.append((workers[index].id, workers[index].inFlight))
            workers[index].touched = false
        }
        // A held worker may still be serving requests (and tunnels) that began before.
        for id in held.keys.sorted() where held[id]!.route.touched || held[id]!.route.inFlight > 0 {
            report.append((id, held[id]!.route.inFlight))
            held[id]!.route.touched = false
        }
        return report
    }

    // MARK: - Choosing

    private func hasCapacity(_ route: Route) -> Bool {
        limits.maxConcurrency == 0 || route.inFlight < limits.maxConcurrency
    }

    /// The ready worker with the fewest requests in flight and room for one more (ties: the first listed).
    private func leastBusy() -> Int? {
        var best: Int?
        for index in workers.indices where hasCapacity(workers[index]) {
            if best.map({ workers[index].inFlight < workers[$0].inFlight }) ?? true { best = index }
        }
        return best
    }

    private mutating func take(_ index: Int, ticket: UInt64, setCookie: Bool, coldStart: Duration?) -> Action {
        workers[index].inFlight += 1
        workers[index].touched = true
        return .forward(
            ticket: ticket,
            worker: workers[index].id,
            port: workers[index].port,
            setCookie: setCookie,
            coldStart: coldStart
        )
    }

    /// Hands waiting requests to workers with room, oldest first; pinned ones only to their worker.
    private mutating func dispatchQueue(now: Instant) -> [Action] {
        var actions: [Action] = []
        var remaining: [Waiting] = []
        for waiting in queue {
            let index: Int?
            if let pinned = waiting.pinned {
                index = workers.firstIndex { $0.id == pinned && hasCapacity($0) }
            } else {
                index = leastBusy()
            }
            guard let index else {
                remaining.append(waiting)
                continue
            }
            actions.append(
                take(
                    index,
                    ticket: waiting.ticket,
                    setCookie: limits.sticky && waiting.pinned == nil,
                    coldStart: waiting.coldStart ? now - waiting.since : nil
                )
            )
        }
        queue = remaining
        return actions
    }

    /// Asks for a worker when requests wait and none is being asked for: the first one, or one more when
    /// every worker is saturated and the tenant may have more. Nothing is asked while disconnected, nor while
    /// the tenant is failed: then, with no worker left, the waiting requests are refused.
    private mutating func requestActivationIfNeeded(now: Instant) -> [Action] {
        guard !queue.isEmpty else { return [] }
        if workers.isEmpty {
            // Whatever they waited for before, they now wait for a worker to start.
            for position in queue.indices { queue[position].coldStart = true }
        }
        guard !activationPending, !disconnected else { return [] }
        // clusterd would answer with the held workers again; their exit (or the hold's end) comes first.
        if workers.isEmpty, !held.isEmpty { return [] }
        if let until = failedUntil, now < until {
            guard workers.isEmpty else { return [] }
            let refusal = failedRefusal(until: until, now: now)
            let refused = queue.map { Action.refuse(ticket: $0.ticket, refusal) }
            queue.removeAll()
            return refused
        }
        if workers.isEmpty {
            activationPending = true
            return [.activate(additional: false)]
        }
        let unpinnedWaiting = queue.contains { $0.pinned == nil }
        let moreSinceAsked = additionalAskedWith.map { workers.count > $0 } ?? true
        if unpinnedWaiting, moreSinceAsked, workers.count + held.count < limits.maxWorkers, leastBusy() == nil {
            activationPending = true
            additionalAskedWith = workers.count
            return [.activate(additional: true)]
        }
        return []
    }

    /// A failed tenant's refusal, with the time left until it may be tried again.
    private func failedRefusal(until: Instant, now: Instant) -> Refusal {
        .activationFailed(ActivationRefusal(kind: .tenantFailed, message: failedReason, retryAfter: until - now))
    }
}
