import Testing

@testable import ClusterCore

extension TenantDispatch {
    /// A tenant's dispatch with a roomy queue and no concurrency cap unless told.
    fileprivate static func fixture(
        queueLimit: Int = 100,
        maxConcurrency: Int = 0,
        maxWorkers: Int = 1,
        queueTimeout: Duration = .seconds(60),
        ready: [WorkerID] = []
    ) -> TenantDispatch {
        var dispatch = TenantDispatch(
            limits: Limits(
                queueLimit: queueLimit,
                maxConcurrency: maxConcurrency,
                maxWorkers: maxWorkers,
                queueTimeout: queueTimeout
            )
        )
        for id in ready { _ = dispatch.workerReady(id, port: id.port, now: t0) }
        return dispatch
    }

    /// Sends `count` requests whose cookie names `worker` (each goes straight to it when it has room).
    fileprivate mutating func load(_ worker: WorkerID, _ count: Int, tickets: inout UInt64) {
        for _ in 0..<count {
            _ = requestArrived(ticket: tickets, cookie: worker, now: t0)
            tickets += 1
        }
    }

    fileprivate var inFlightByWorker: [Int] { workers.map(\.inFlight) }

    /// `takeActivity` as `worker:inFlight` strings.
    fileprivate mutating func activity() -> [String] {
        takeActivity().map { "\($0.id):\($0.inFlight)" }
    }
}

extension TenantDispatch.Action {
    fileprivate static func forwarded(
        _ ticket: UInt64,
        to worker: WorkerID,
        cookie: Bool = false,
        cold: Duration? = nil
    ) -> Self {
        .forward(ticket: ticket, worker: worker, port: worker.port, setCookie: cookie, coldStart: cold)
    }
}

extension TenantDispatch.Route {
    fileprivate init(id: WorkerID, port: Int, inFlight: Int, touched: Bool) {
        self.init(id: id, port: port)
        self.inFlight = inFlight
        self.touched = touched
    }
}

extension WorkerID {
    /// The port the tests give each worker.
    fileprivate var port: Int { 20000 + serial }
}

private func ready(_ ids: WorkerID...) -> [(id: WorkerID, port: Int)] {
    ids.map { ($0, $0.port) }
}

// MARK: - Cold start

@Suite("Tenant dispatch: cold start and activation")
struct TenantDispatchActivationTests {
    @Test("a cold tenant's first request waits and asks for exactly one activation", arguments: [1, 3])
    func coldFirstRequest(maxWorkers: Int) {
        var dispatch = TenantDispatch.fixture(maxWorkers: maxWorkers)

        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.activate(additional: false)])
        #expect(dispatch.waitingCount == 1)
        #expect(dispatch.activationPending)
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .milliseconds(5)) == [])
        #expect(dispatch.requestArrived(ticket: 3, cookie: .acme(7), now: t0 + .milliseconds(9)) == [])
        #expect(dispatch.waitingCount == 3)

        let sticky = maxWorkers > 1
        #expect(
            dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .milliseconds(800)) == [
                .forwarded(1, to: .acme(1), cookie: sticky, cold: .milliseconds(800)),
                .forwarded(2, to: .acme(1), cookie: sticky, cold: .milliseconds(795)),
                .forwarded(3, to: .acme(1), cookie: sticky, cold: .milliseconds(791)),
            ]
        )
        #expect(!dispatch.activationPending)
        #expect(dispatch.waitingCount == 0)
        #expect(dispatch.inFlightByWorker == [3])
    }

    @Test(
        "500 requests at once to a cold tenant: one activation, the queue fills to its limit, the rest are refused",
        arguments: [1, 10, 499, 500, 1000]
    )
    func burst(queueLimit: Int) {
        var dispatch = TenantDispatch.fixture(queueLimit: queueLimit)
        var activations = 0
        var refused: [UInt64] = []
        for ticket in UInt64(1)...500 {
            for action in dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0 + .milliseconds(ticket - 1)) {
                switch action {
                case .activate(additional: false): activations += 1
                case .refuse(let refusedTicket, .queueFull(limit: queueLimit)): refused.append(refusedTicket)
                default: Issue.record("unexpected \(action) for request \(ticket)")
                }
            }
        }
        let queued = min(500, queueLimit)
        #expect(activations == 1)
        #expect(refused == Array(UInt64(queued + 1)..<501))
        #expect(dispatch.waitingCount == queued)

        let answered = dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(2))
        #expect(
            answered
                == (1...UInt64(queued)).map {
                    .forwarded($0, to: .acme(1), cold: .seconds(2) - .milliseconds($0 - 1))
                }
        )
        #expect(dispatch.waitingCount == 0)
        #expect(dispatch.inFlight == queued)
    }

    @Test("a worker-ready event before the activation's answer serves the waiting; the answer adds nothing")
    func readyEventBeforeAnswer() {
        var dispatch = TenantDispatch.fixture()
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)

        #expect(
            dispatch.workerReady(.acme(1), port: 20001, now: t0 + .milliseconds(300)) == [
                .forwarded(1, to: .acme(1), cold: .milliseconds(300))
            ]
        )
        #expect(dispatch.activationPending)
        #expect(
            dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .milliseconds(310)) == [
                .forwarded(2, to: .acme(1))
            ]
        )
        #expect(dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .milliseconds(320)) == [])
        #expect(!dispatch.activationPending)
        #expect(dispatch.workers == [TenantDispatch.Route(id: .acme(1), port: 20001, inFlight: 2, touched: true)])
    }

    @Test(
        "with a ready worker a request is forwarded at once, with no cold start and no activation",
        arguments: [1, 2]
    )
    func readyWorkerForwardsAtOnce(maxWorkers: Int) {
        var dispatch = TenantDispatch.fixture(maxWorkers: maxWorkers, ready: [.acme(1)])
        #expect(
            dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [
                .forwarded(1, to: .acme(1), cookie: maxWorkers > 1)
            ]
        )
        #expect(!dispatch.activationPending)
        #expect(dispatch.waitingCount == 0)
    }

    @Test(
        "a failed activation refuses every waiting request with its reason when no worker is ready",
        arguments: [
            ActivationRefusal.startFailed("worker exited with status 1 before it was ready"),
            .startTimedOut("no worker was ready within 30s"),
            .tenantStopped("the tenant is stopped"),
            .unknownTenant("no tenant \"acme\""),
            .unavailable("too many activations waiting"),
        ]
    )
    func activationFailedRefusesWaiting(refusal: ActivationRefusal) {
        var dispatch = TenantDispatch.fixture()
        for ticket in UInt64(1)...3 { _ = dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0) }

        #expect(
            dispatch.activationFailed(refusal, now: t0 + .seconds(1)) == [
                .refuse(ticket: 1, .activationFailed(refusal)), .refuse(ticket: 2, .activationFailed(refusal)),
                .refuse(ticket: 3, .activationFailed(refusal)),
            ]
        )
        #expect(dispatch.waitingCount == 0)
        #expect(!dispatch.activationPending)
        // Not a crash loop: the next request asks again.
        #expect(
            dispatch.requestArrived(ticket: 4, cookie: nil, now: t0 + .seconds(2)) == [.activate(additional: false)]
        )
    }

    @Test("a failed activation refuses nothing while a worker is ready: the waiting get it once it has room")
    func activationFailedWithReadyWorker() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1), cookie: true)])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [.activate(additional: true)])

        #expect(dispatch.activationFailed(.startFailed("exit 1"), now: t0 + .seconds(1)) == [])
        #expect(dispatch.waitingCount == 1)
        #expect(
            dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(2)) == [
                .forwarded(2, to: .acme(1), cookie: true)
            ]
        )
    }

    @Test("the last worker leaving while requests wait asks for a start, and those requests report a cold start")
    func lastWorkerLeavesWhileRequestsWait() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, ready: [.acme(1)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1))])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [])

        #expect(dispatch.workerLeft(.acme(1), now: t0 + .seconds(1)) == [.activate(additional: false)])
        #expect(
            dispatch.activationSucceeded(ready(.acme(2)), now: t0 + .seconds(3)) == [
                .forwarded(2, to: .acme(2), cold: .seconds(3))
            ]
        )
    }
}

// MARK: - Crash-looping tenants

@Suite("Tenant dispatch: a failed (crash-looping) tenant")
struct TenantDispatchFailedTenantTests {
    static let crashLoop = ActivationRefusal.tenantFailed("crash loop: exit 1", retryAfter: .seconds(30))

    @Test("tenantFailed refuses the waiting, then refuses at once without asking until retryAfter has passed")
    func refusedUntilRetryAfter() {
        var dispatch = TenantDispatch.fixture()
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.requestArrived(ticket: 2, cookie: nil, now: t0)

        #expect(
            dispatch.activationFailed(Self.crashLoop, now: t0 + .seconds(1)) == [
                .refuse(ticket: 1, .activationFailed(Self.crashLoop)),
                .refuse(ticket: 2, .activationFailed(Self.crashLoop)),
            ]
        )
        #expect(
            dispatch.requestArrived(ticket: 3, cookie: nil, now: t0 + .seconds(11)) == [
                .refuse(ticket: 3, .tenantFailed("crash loop: exit 1", retryAfter: .seconds(20)))
            ]
        )
        #expect(
            dispatch.requestArrived(ticket: 4, cookie: .acme(1), now: t0 + .seconds(30)) == [
                .refuse(ticket: 4, .tenantFailed("crash loop: exit 1", retryAfter: .seconds(1)))
            ]
        )
        #expect(!dispatch.activationPending)
        #expect(dispatch.waitingCount == 0)

        // retryAfter has passed (t0 + 1s + 30s): the next request activates again.
        #expect(
            dispatch.requestArrived(ticket: 5, cookie: nil, now: t0 + .seconds(31)) == [.activate(additional: false)]
        )
        #expect(dispatch.waitingCount == 1)
    }

    @Test("a worker becoming ready ends the failed period")
    func workerReadyEndsFailure() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1)
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.activationFailed(Self.crashLoop, now: t0)

        #expect(dispatch.workerReady(.acme(1), port: 20001, now: t0 + .seconds(5)) == [])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .seconds(6)) == [.forwarded(2, to: .acme(1))])
        // Saturated, and the tenant is no longer failed: the request waits.
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0 + .seconds(6)) == [])
        #expect(dispatch.workerLeft(.acme(1), now: t0 + .seconds(7)) == [.activate(additional: false)])
    }

    @Test("while failed, a tenant with ready workers asks for no more, and its last worker leaving refuses the waiting")
    func failedWithWorkersAsksNothing() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 3, ready: [.acme(1), .acme(2)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1), cookie: true)])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [.forwarded(2, to: .acme(2), cookie: true)])
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0) == [.activate(additional: true)])

        // The extra worker crash-loops; the ready ones keep serving, so nothing is refused.
        #expect(dispatch.activationFailed(Self.crashLoop, now: t0 + .seconds(1)) == [])
        #expect(dispatch.requestArrived(ticket: 4, cookie: nil, now: t0 + .seconds(2)) == [])
        #expect(dispatch.waitingCount == 2)

        // One fewer worker, all saturated, more allowed: still nothing asked while failed.
        #expect(dispatch.workerLeft(.acme(2), now: t0 + .seconds(3)) == [])
        #expect(!dispatch.activationPending)

        #expect(
            dispatch.workerLeft(.acme(1), now: t0 + .seconds(5)) == [
                .refuse(ticket: 3, .tenantFailed("crash loop: exit 1", retryAfter: .seconds(26))),
                .refuse(ticket: 4, .tenantFailed("crash loop: exit 1", retryAfter: .seconds(26))),
            ]
        )
        #expect(dispatch.waitingCount == 0)
        #expect(!dispatch.activationPending)
    }
}

// MARK: - Balancing

@Suite("Tenant dispatch: least in flight and max_concurrency")
struct TenantDispatchBalancingTests {
    static let three: [WorkerID] = [.acme(1), .acme(2), .acme(3)]

    @Test(
        "a fresh request goes to the ready worker with the fewest in flight (ties: the first listed)",
        arguments: [
            ([0, 0, 0], 1), ([1, 0, 0], 2), ([1, 1, 0], 3), ([1, 1, 1], 1), ([0, 1, 1], 1), ([2, 1, 2], 2),
            ([3, 2, 2], 2), ([0, 5, 0], 1), ([5, 5, 4], 3), ([2, 0, 0], 2), ([9, 8, 9], 2),
        ] as [([Int], Int)]
    )
    func leastInFlight(load: [Int], chosen: Int) {
        var dispatch = TenantDispatch.fixture(maxWorkers: 3, ready: Self.three)
        var tickets: UInt64 = 1
        for (worker, count) in zip(Self.three, load) { dispatch.load(worker, count, tickets: &tickets) }
        #expect(dispatch.inFlightByWorker == load)

        #expect(
            dispatch.requestArrived(ticket: tickets, cookie: nil, now: t0) == [
                .forwarded(tickets, to: .acme(chosen), cookie: true)
            ]
        )
        var expected = load
        expected[chosen - 1] += 1
        #expect(dispatch.inFlightByWorker == expected)
    }

    @Test("in-flight counts follow forwards and requestFinished, never go negative, and ignore unknown workers")
    func inFlightAccounting() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 3, ready: Self.three)
        let targets = (UInt64(1)...6).map { ticket in
            dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0)
        }
        #expect(
            targets == [
                [.forwarded(1, to: .acme(1), cookie: true)], [.forwarded(2, to: .acme(2), cookie: true)],
                [.forwarded(3, to: .acme(3), cookie: true)], [.forwarded(4, to: .acme(1), cookie: true)],
                [.forwarded(5, to: .acme(2), cookie: true)], [.forwarded(6, to: .acme(3), cookie: true)],
            ]
        )
        #expect(dispatch.inFlightByWorker == [2, 2, 2])
        #expect(dispatch.inFlight == 6)

        #expect(dispatch.requestFinished(worker: .acme(2), now: t0) == [])
        #expect(dispatch.requestFinished(worker: .acme(2), now: t0) == [])
        #expect(dispatch.inFlightByWorker == [2, 0, 2])
        #expect(dispatch.requestArrived(ticket: 7, cookie: nil, now: t0) == [.forwarded(7, to: .acme(2), cookie: true)])
        #expect(dispatch.requestArrived(ticket: 8, cookie: nil, now: t0) == [.forwarded(8, to: .acme(2), cookie: true)])
        #expect(dispatch.inFlightByWorker == [2, 2, 2])

        for _ in 0..<5 { _ = dispatch.requestFinished(worker: .acme(3), now: t0) }
        #expect(dispatch.inFlightByWorker == [2, 2, 0])
        #expect(dispatch.requestFinished(worker: .acme(9), now: t0) == [])
        #expect(dispatch.requestFinished(worker: .beta(1), now: t0) == [])
        #expect(dispatch.inFlightByWorker == [2, 2, 0])
        #expect(dispatch.inFlight == 4)
    }

    @Test("max_concurrency: the excess waits and is forwarded oldest first as requests finish")
    func maxConcurrencyQueues() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 2, ready: [.acme(1)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1))])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [.forwarded(2, to: .acme(1))])
        for ticket in UInt64(3)...5 {
            // Saturated, and max_workers = 1 allows no other: wait, ask nothing.
            #expect(dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0 + .milliseconds(ticket)) == [])
        }
        #expect(dispatch.waitingCount == 3)
        #expect(!dispatch.activationPending)

        // Waiting for a busy worker is not a cold start.
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(1)) == [.forwarded(3, to: .acme(1))])
        #expect(dispatch.inFlightByWorker == [2])
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(2)) == [.forwarded(4, to: .acme(1))])
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(3)) == [.forwarded(5, to: .acme(1))])
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(4)) == [])
        #expect(dispatch.inFlightByWorker == [1])
        #expect(dispatch.waitingCount == 0)
    }

    @Test("max_concurrency over three workers caps each one; the rest wait", arguments: [1, 2, 5])
    func maxConcurrencyAcrossWorkers(maxConcurrency: Int) {
        var dispatch = TenantDispatch.fixture(maxConcurrency: maxConcurrency, maxWorkers: 3, ready: Self.three)
        var forwarded: [WorkerID: Int] = [:]
        for ticket in UInt64(1)...UInt64(3 * maxConcurrency + 4) {
            for case .forward(_, let worker, _, _, _) in dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0) {
                forwarded[worker, default: 0] += 1
            }
        }
        #expect(forwarded == [.acme(1): maxConcurrency, .acme(2): maxConcurrency, .acme(3): maxConcurrency])
        #expect(dispatch.inFlightByWorker == [maxConcurrency, maxConcurrency, maxConcurrency])
        #expect(dispatch.waitingCount == 4)
        // All saturated but max_workers reached: no activation.
        #expect(!dispatch.activationPending)

        // Room on acme#2: the oldest waiting request takes it.
        let next = UInt64(3 * maxConcurrency + 1)
        #expect(dispatch.requestFinished(worker: .acme(2), now: t0) == [.forwarded(next, to: .acme(2), cookie: true)])
    }

    @Test("all saturated and more workers allowed: one more is asked for once, up to max_workers and never beyond")
    func additionalActivation() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 3, ready: [.acme(1)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1), cookie: true)])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [.activate(additional: true)])
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0) == [])
        #expect(dispatch.activationPending)

        // clusterd answers an additional activation at once with the workers already ready (and starts one more):
        // that is no reason to ask again.
        #expect(dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .milliseconds(1)) == [])
        #expect(!dispatch.activationPending)
        #expect(dispatch.requestArrived(ticket: 4, cookie: nil, now: t0 + .milliseconds(2)) == [])
        #expect(!dispatch.activationPending)

        // The new worker is ready; still saturated, and a third is allowed: ask for it.
        #expect(
            dispatch.workerReady(.acme(2), port: 20002, now: t0 + .seconds(1)) == [
                .forwarded(2, to: .acme(2), cookie: true), .activate(additional: true),
            ]
        )
        #expect(dispatch.activationSucceeded(ready(.acme(1), .acme(2)), now: t0 + .seconds(1)) == [])
        #expect(
            dispatch.workerReady(.acme(3), port: 20003, now: t0 + .seconds(2)) == [
                .forwarded(3, to: .acme(3), cookie: true)
            ]
        )

        // max_workers reached: waiting and saturated, but nothing is asked.
        #expect(dispatch.requestArrived(ticket: 5, cookie: nil, now: t0 + .seconds(3)) == [])
        #expect(!dispatch.activationPending)
        #expect(dispatch.waitingCount == 2)
        #expect(
            dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(4)) == [
                .forwarded(4, to: .acme(1), cookie: true)
            ]
        )
        #expect(
            dispatch.requestFinished(worker: .acme(3), now: t0 + .seconds(4)) == [
                .forwarded(5, to: .acme(3), cookie: true)
            ]
        )
    }

    @Test("one more is asked for again after a worker leaves")
    func additionalAfterWorkerLeft() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 3, ready: [.acme(1), .acme(2)])
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.requestArrived(ticket: 2, cookie: nil, now: t0)
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0) == [.activate(additional: true)])
        #expect(dispatch.activationSucceeded(ready(.acme(1), .acme(2)), now: t0) == [])

        #expect(dispatch.workerLeft(.acme(2), now: t0 + .seconds(1)) == [.activate(additional: true)])
    }

    @Test("max_workers = 1: saturated requests wait and no additional worker is asked for")
    func neverBeyondOne() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 1, ready: [.acme(1)])
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        for ticket in UInt64(2)...20 {
            #expect(dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0) == [])
        }
        #expect(!dispatch.activationPending)
    }

    @Test("requests waiting only for their own (pinned) busy worker ask for no additional worker")
    func pinnedWaitingAsksNothing() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1)])
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        #expect(dispatch.requestArrived(ticket: 2, cookie: .acme(1), now: t0) == [])
        #expect(!dispatch.activationPending)
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0) == [.activate(additional: true)])
    }

    @Test("a draining or gone worker gets no new requests; its late finishes are ignored")
    func leftWorkerGetsNothing() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 2, ready: [.acme(1), .acme(2)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1), cookie: true)])
        #expect(dispatch.workerLeft(.acme(1), now: t0) == [])
        #expect(dispatch.workers.map(\.id) == [.acme(2)])

        for ticket in UInt64(2)...6 {
            #expect(
                dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0) == [
                    .forwarded(ticket, to: .acme(2), cookie: true)
                ]
            )
        }
        // The session pinned to acme#1 moves, with a new cookie.
        #expect(
            dispatch.requestArrived(ticket: 7, cookie: .acme(1), now: t0) == [.forwarded(7, to: .acme(2), cookie: true)]
        )
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0) == [])
        #expect(dispatch.workerLeft(.acme(1), now: t0) == [])
        #expect(dispatch.inFlightByWorker == [6])
        #expect(dispatch.activity() == ["acme#2:6"])
    }
}

// MARK: - Sticky sessions

@Suite("Tenant dispatch: sticky sessions")
struct TenantDispatchStickyTests {
    @Test("with max_workers > 1 a fresh request is pinned with a cookie; with 1, no cookie is ever set")
    func cookieOnlyWhenSeveralWorkersPossible() {
        var sticky = TenantDispatch.fixture(maxWorkers: 2, ready: [.acme(1)])
        #expect(sticky.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1), cookie: true)])
        #expect(sticky.requestArrived(ticket: 2, cookie: .acme(1), now: t0) == [.forwarded(2, to: .acme(1))])

        var single = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 1, ready: [.acme(1)])
        #expect(single.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1))])
        #expect(single.requestArrived(ticket: 2, cookie: .acme(1), now: t0) == [])
        #expect(single.requestArrived(ticket: 3, cookie: .acme(4), now: t0) == [])
        // The worker is replaced: the waiting move, still without cookies.
        #expect(single.workerLeft(.acme(1), now: t0) == [.activate(additional: false)])
        #expect(
            single.activationSucceeded(ready(.acme(2)), now: t0 + .seconds(1)) == [
                .forwarded(2, to: .acme(2), cold: .seconds(1))
            ]
        )
        #expect(
            single.requestFinished(worker: .acme(2), now: t0 + .seconds(2)) == [
                .forwarded(3, to: .acme(2), cold: .seconds(2))
            ]
        )
    }

    @Test("a request whose cookie names a ready worker goes to it even when another is less busy")
    func cookieWinsOverLoad() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 3, ready: [.acme(1), .acme(2), .acme(3)])
        var tickets: UInt64 = 1
        dispatch.load(.acme(2), 4, tickets: &tickets)
        #expect(dispatch.inFlightByWorker == [0, 4, 0])
        #expect(dispatch.requestArrived(ticket: 10, cookie: .acme(2), now: t0) == [.forwarded(10, to: .acme(2))])
        #expect(dispatch.inFlightByWorker == [0, 5, 0])
    }

    @Test("a request pinned to a saturated worker waits for it, even with others idle, and is not re-cookied")
    func pinnedWaitsForItsWorker() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1), .acme(2)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: .acme(1), now: t0) == [.forwarded(1, to: .acme(1))])
        #expect(dispatch.requestArrived(ticket: 2, cookie: .acme(1), now: t0) == [])
        #expect(dispatch.waitingCount == 1)
        // A fresh one does not wait behind it.
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0) == [.forwarded(3, to: .acme(2), cookie: true)])
        // acme#2 frees first: the pinned request keeps waiting for acme#1.
        #expect(dispatch.requestFinished(worker: .acme(2), now: t0 + .seconds(1)) == [])
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(2)) == [.forwarded(2, to: .acme(1))])
    }

    @Test("a pinned request waiting for its worker moves, with a new cookie, when that worker leaves")
    func pinnedWaitingMovesWhenWorkerLeaves() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1), .acme(2)])
        _ = dispatch.requestArrived(ticket: 1, cookie: .acme(1), now: t0)
        #expect(dispatch.requestArrived(ticket: 2, cookie: .acme(1), now: t0) == [])

        #expect(dispatch.workerLeft(.acme(1), now: t0 + .seconds(1)) == [.forwarded(2, to: .acme(2), cookie: true)])
        #expect(dispatch.waitingCount == 0)
    }

    @Test("a pinned request whose worker leaves while every other is busy waits for any worker, and more are asked")
    func pinnedWaitingUnpinnedWhenOthersBusy() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 3, ready: [.acme(1), .acme(2)])
        _ = dispatch.requestArrived(ticket: 1, cookie: .acme(1), now: t0)
        _ = dispatch.requestArrived(ticket: 2, cookie: .acme(2), now: t0)
        #expect(dispatch.requestArrived(ticket: 3, cookie: .acme(1), now: t0) == [])

        #expect(dispatch.workerLeft(.acme(1), now: t0 + .seconds(1)) == [.activate(additional: true)])
        #expect(
            dispatch.requestFinished(worker: .acme(2), now: t0 + .seconds(2)) == [
                .forwarded(3, to: .acme(2), cookie: true)
            ]
        )
    }

    @Test(
        "a cookie naming a worker that is not ready (gone, never known) gets the least busy one and a new cookie",
        arguments: [WorkerID.acme(1), .acme(99), .beta(2)]
    )
    func staleCookie(cookie: WorkerID) {
        var dispatch = TenantDispatch.fixture(maxWorkers: 2, ready: [.acme(1), .acme(2), .acme(3)])
        _ = dispatch.workerLeft(.acme(1), now: t0)
        var tickets: UInt64 = 1
        dispatch.load(.acme(2), 1, tickets: &tickets)
        #expect(
            dispatch.requestArrived(ticket: 9, cookie: cookie, now: t0) == [.forwarded(9, to: .acme(3), cookie: true)]
        )
    }

    @Test("a sticky request arriving while no worker is ready waits cold and gets a new cookie")
    func cookieWhileCold() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 2)
        #expect(dispatch.requestArrived(ticket: 1, cookie: .acme(1), now: t0) == [.activate(additional: false)])
        #expect(
            dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(1)) == [
                .forwarded(1, to: .acme(1), cookie: true, cold: .seconds(1))
            ]
        )
    }
}

// MARK: - Waiting: timeouts and cancellation

@Suite("Tenant dispatch: waiting requests")
struct TenantDispatchWaitingTests {
    @Test("timeElapsed refuses requests that waited queueTimeout or longer, whatever they wait for")
    func queueTimeout() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, queueTimeout: .seconds(30))
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .seconds(10))
        _ = dispatch.requestArrived(ticket: 3, cookie: nil, now: t0 + .seconds(30))

        #expect(dispatch.timeElapsed(now: t0 + .seconds(29)) == [])
        #expect(dispatch.timeElapsed(now: t0 + .seconds(30)) == [.refuse(ticket: 1, .waitedTooLong(.seconds(30)))])
        #expect(dispatch.waitingCount == 2)
        #expect(dispatch.timeElapsed(now: t0 + .seconds(45)) == [.refuse(ticket: 2, .waitedTooLong(.seconds(30)))])

        // The one left gets the worker; the refused ones never do.
        #expect(
            dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(50)) == [
                .forwarded(3, to: .acme(1), cookie: true, cold: .seconds(20))
            ]
        )

        // A request pinned to a busy worker times out too.
        _ = dispatch.requestArrived(ticket: 4, cookie: .acme(1), now: t0 + .seconds(50))
        #expect(dispatch.timeElapsed(now: t0 + .seconds(80)) == [.refuse(ticket: 4, .waitedTooLong(.seconds(30)))])
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(81)) == [])
        #expect(dispatch.waitingCount == 0)
    }

    @Test("a cancelled waiting request leaves the queue and is never forwarded")
    func cancelled() {
        var dispatch = TenantDispatch.fixture(queueLimit: 3)
        for ticket in UInt64(1)...3 { _ = dispatch.requestArrived(ticket: ticket, cookie: nil, now: t0) }
        dispatch.requestCancelled(ticket: 2)
        dispatch.requestCancelled(ticket: 42)
        #expect(dispatch.waitingCount == 2)

        // Its place is free again.
        #expect(dispatch.requestArrived(ticket: 4, cookie: nil, now: t0) == [])
        #expect(dispatch.requestArrived(ticket: 5, cookie: nil, now: t0) == [.refuse(ticket: 5, .queueFull(limit: 3))])

        #expect(
            dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(1)) == [
                .forwarded(1, to: .acme(1), cold: .seconds(1)),
                .forwarded(3, to: .acme(1), cold: .seconds(1)),
                .forwarded(4, to: .acme(1), cold: .seconds(1)),
            ]
        )
        #expect(dispatch.timeElapsed(now: t0 + .seconds(3600)) == [])
    }

    @Test("cancelling every waiting request leaves nothing to forward when the worker comes")
    func allCancelled() {
        var dispatch = TenantDispatch.fixture()
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        dispatch.requestCancelled(ticket: 1)
        #expect(dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(1)) == [])
        #expect(dispatch.inFlight == 0)
        // Cancelling a forwarded ticket changes nothing (its end comes as requestFinished).
        _ = dispatch.requestArrived(ticket: 2, cookie: nil, now: t0)
        dispatch.requestCancelled(ticket: 2)
        #expect(dispatch.inFlight == 1)
    }
}

// MARK: - Control channel

@Suite("Tenant dispatch: control channel lost and resynchronized")
struct TenantDispatchControlChannelTests {
    @Test("an activation lost with the channel is asked again after resynchronizing")
    func pendingActivationAskedAgain() {
        var dispatch = TenantDispatch.fixture()
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.activate(additional: false)])
        dispatch.controlChannelLost()
        #expect(!dispatch.activationPending)
        #expect(dispatch.waitingCount == 1)

        #expect(dispatch.resynchronized(ready: [], now: t0 + .seconds(1)) == [.activate(additional: false)])
        #expect(
            dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .seconds(2)) == [
                .forwarded(1, to: .acme(1), cold: .seconds(2))
            ]
        )
    }

    @Test("requests arriving while disconnected wait without asking, and one activation is asked on resync")
    func arrivalsWhileDisconnected() {
        var dispatch = TenantDispatch.fixture()
        dispatch.controlChannelLost()
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [])
        #expect(dispatch.waitingCount == 2)
        #expect(!dispatch.activationPending)

        #expect(dispatch.resynchronized(ready: [], now: t0 + .seconds(1)) == [.activate(additional: false)])
        #expect(dispatch.requestArrived(ticket: 3, cookie: nil, now: t0 + .seconds(1)) == [])
    }

    @Test("a resync that reports a ready worker serves the waiting requests at once")
    func resyncServesWaiting() {
        var dispatch = TenantDispatch.fixture()
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        dispatch.controlChannelLost()
        #expect(
            dispatch.resynchronized(ready: ready(.acme(1)), now: t0 + .seconds(2)) == [
                .forwarded(1, to: .acme(1), cold: .seconds(2))
            ]
        )
        #expect(!dispatch.activationPending)
    }

    @Test("a resync without losing the channel (configuration reloaded) does not ask again for a pending activation")
    func reloadKeepsPendingActivation() {
        var dispatch = TenantDispatch.fixture()
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        #expect(dispatch.resynchronized(ready: [], now: t0 + .seconds(1)) == [])
        #expect(dispatch.activationPending)
    }

    @Test("resynchronizing keeps the in-flight counts of surviving workers (with their new port) and drops the rest")
    func resyncKeepsInFlight() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 3, maxWorkers: 3, ready: [.acme(1), .acme(2)])
        var tickets: UInt64 = 1
        dispatch.load(.acme(1), 3, tickets: &tickets)
        dispatch.load(.acme(2), 1, tickets: &tickets)
        // Pinned to the saturated acme#1 (stays pinned) and to acme#2 (which will be gone).
        #expect(dispatch.requestArrived(ticket: 10, cookie: .acme(1), now: t0) == [])
        dispatch.load(.acme(2), 2, tickets: &tickets)
        #expect(dispatch.requestArrived(ticket: 11, cookie: .acme(2), now: t0) == [])
        #expect(dispatch.inFlightByWorker == [3, 3])

        dispatch.controlChannelLost()
        #expect(
            dispatch.resynchronized(ready: [(.acme(1), 30001), (.acme(3), 20003)], now: t0 + .seconds(1)) == [
                .forwarded(11, to: .acme(3), cookie: true)
            ]
        )
        #expect(
            dispatch.workers == [
                TenantDispatch.Route(id: .acme(1), port: 30001, inFlight: 3, touched: true),
                TenantDispatch.Route(id: .acme(3), port: 20003, inFlight: 1, touched: true),
            ]
        )
        #expect(dispatch.requestFinished(worker: .acme(2), now: t0 + .seconds(2)) == [])
        #expect(
            dispatch.requestFinished(worker: .acme(1), now: t0 + .seconds(2)) == [
                .forward(ticket: 10, worker: .acme(1), port: 30001, setCookie: false, coldStart: nil)
            ]
        )
    }
}

// MARK: - Activity

@Suite("Tenant dispatch: activity reports")
struct TenantDispatchActivityTests {
    @Test("takeActivity reports workers with traffic since the last report or requests in flight, then clears")
    func activity() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 3, ready: [.acme(1), .acme(2), .acme(3)])
        // Being ready is not activity.
        #expect(dispatch.activity() == [])

        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.requestArrived(ticket: 2, cookie: nil, now: t0)
        #expect(dispatch.activity() == ["acme#1:1", "acme#2:1"])
        // Still in flight: still reported.
        #expect(dispatch.activity() == ["acme#1:1", "acme#2:1"])

        _ = dispatch.requestFinished(worker: .acme(1), now: t0)
        #expect(dispatch.activity() == ["acme#1:0", "acme#2:1"])
        // Nothing on acme#1 since the last report.
        #expect(dispatch.activity() == ["acme#2:1"])

        _ = dispatch.requestFinished(worker: .acme(2), now: t0)
        #expect(dispatch.activity() == ["acme#2:0"])
        #expect(dispatch.activity() == [])

        // A request forwarded and finished between two reports still counts.
        _ = dispatch.requestArrived(ticket: 3, cookie: .acme(3), now: t0)
        _ = dispatch.requestFinished(worker: .acme(3), now: t0)
        #expect(dispatch.activity() == ["acme#3:0"])
        #expect(dispatch.activity() == [])
    }
}

// MARK: - Randomized

@Suite("Tenant dispatch: randomized event sequences")
struct TenantDispatchRandomizedTests {
    static let limits: [TenantDispatch.Limits] = [
        .init(queueLimit: 5, maxConcurrency: 2, maxWorkers: 3, queueTimeout: .seconds(5)),
        .init(queueLimit: 20, maxConcurrency: 0, maxWorkers: 1, queueTimeout: .seconds(5)),
        .init(queueLimit: 3, maxConcurrency: 1, maxWorkers: 2, queueTimeout: .seconds(3)),
        .init(queueLimit: 50, maxConcurrency: 3, maxWorkers: 1, queueTimeout: .seconds(8)),
        .init(queueLimit: 10, maxConcurrency: 0, maxWorkers: 4, queueTimeout: .seconds(5)),
    ]

    @Test("invariants hold after every random event", arguments: Array(UInt64(1)...8), limits)
    func invariants(seed: UInt64, limits: TenantDispatch.Limits) throws {
        var run = DispatchChaos(seed: seed, limits: limits)
        try run.play(events: 4000)
        try run.settle()
    }
}

/// Stops a run at its first broken invariant (after recording it).
private struct DispatchInvariantBroken: Error {}

/// Plays a router and a clusterd around one `TenantDispatch`: requests arrive (with fresh, live or stale
/// cookies), finish and are cancelled; workers become ready and leave; activations are answered or fail;
/// the control channel drops (events are then missed) and comes back; time passes.
private struct DispatchChaos {
    struct Arrival {
        var at: Instant
        /// The cookie named a ready worker when the request arrived.
        var pinnedTo: WorkerID?
        /// No worker was ready when it arrived: it waits for one to start.
        var cold: Bool
    }

    var dispatch: TenantDispatch
    let limits: TenantDispatch.Limits
    var rng: SeededGenerator
    let seed: UInt64
    var now = t0
    var nextTicket: UInt64 = 1
    var nextSerial = 1
    var connected = true
    /// The workers clusterd has ready; the router hears of changes only while connected.
    var clusterReady: [WorkerID] = []
    var everReady: [WorkerID] = []
    var waiting: [UInt64: Arrival] = [:]
    var answers: [UInt64: Int] = [:]
    var cancelled: Set<UInt64> = []
    /// Forwarded and not finished: ticket → worker.
    var outstanding: [UInt64: WorkerID] = [:]
    /// Workers with a forward or a finish since the last activity report.
    var touched: Set<WorkerID> = []
    var pending = false
    var eventNumber = 0
    var trace: [String] = []

    init(seed: UInt64, limits: TenantDispatch.Limits) {
        self.seed = seed
        self.limits = limits
        self.rng = SeededGenerator(seed: seed)
        self.dispatch = TenantDispatch(limits: limits)
    }

    mutating func play(events: Int) throws {
        for _ in 0..<events { try randomEvent() }
    }

    /// Reconnects, lets every waiting request time out, finishes everything: each request was answered once.
    mutating func settle() throws {
        if !connected { try reconnect() }
        now = now + limits.queueTimeout
        try event("settle: time") { $0.timeElapsed(now: $1) }
        try check(waiting.isEmpty, "requests still waiting after the queue timeout: \(waiting.keys.sorted())")
        for ticket in outstanding.keys.sorted() { try finish(ticket) }
        try check(dispatch.inFlight == 0, "in flight after every request finished: \(dispatch.inFlightByWorker)")
        for ticket in UInt64(1)..<nextTicket {
            let count = answers[ticket, default: 0]
            if cancelled.contains(ticket) {
                try check(count == 0, "cancelled request \(ticket) answered \(count) times")
            } else {
                try check(count == 1, "request \(ticket) answered \(count) times")
            }
        }
    }

    // MARK: - Events

    private mutating func chance(_ percent: Int) -> Bool {
        Int.random(in: 0..<100, using: &rng) < percent
    }

    private mutating func randomEvent() throws {
        switch Int.random(in: 0..<100, using: &rng) {
        case 0..<30:
            try arrive()
        case 30..<50:
            guard let ticket = outstanding.keys.sorted().randomElement(using: &rng) else { return }
            try finish(ticket)
        case 50..<54:
            guard let ticket = waiting.keys.sorted().randomElement(using: &rng) else { return }
            cancelled.insert(ticket)
            waiting[ticket] = nil
            try event("cancel \(ticket)") { dispatch, _ in
                dispatch.requestCancelled(ticket: ticket)
                return []
            }
        case 54..<62:
            guard clusterReady.count < limits.maxWorkers else { return }
            try startWorker()
        case 62..<67:
            guard let worker = clusterReady.randomElement(using: &rng) else { return }
            clusterReady.removeAll { $0 == worker }
            guard connected else { return }
            try event("left \(worker)") { $0.workerLeft(worker, now: $1) }
        case 67..<77:
            guard pending, connected else { return }
            try answerActivation()
        case 77..<81:
            guard connected else { return }
            connected = false
            pending = false
            try event("control channel lost") { dispatch, _ in
                dispatch.controlChannelLost()
                return []
            }
        case 81..<86:
            if connected {
                let ready = clusterReady.map { (id: $0, port: $0.port) }
                try event("configuration reloaded") { $0.resynchronized(ready: ready, now: $1) }
            } else {
                try reconnect()
            }
        case 86..<93:
            now = now + .milliseconds(Int.random(in: 0...1500, using: &rng))
            try event("time") { $0.timeElapsed(now: $1) }
        case 93..<97:
            try unreachable()
        default:
            var expected = dispatch.workers.filter { touched.contains($0.id) || $0.inFlight > 0 }.map {
                ($0.id, $0.inFlight)
            }
            for id in dispatch.unreachable.keys.sorted() {
                let inFlight = outstanding.values.filter { $0 == id }.count
                if touched.contains(id) || inFlight > 0 { expected.append((id, inFlight)) }
            }
            let report = dispatch.takeActivity()
            touched.removeAll()
            try check(
                report.map(\.id) == expected.map(\.0) && report.map(\.inFlight) == expected.map(\.1),
                "activity \(report) but expected \(expected)"
            )
        }
    }

    private mutating func arrive() throws {
        let ticket = nextTicket
        nextTicket += 1
        var cookie: WorkerID?
        if chance(50) {
            cookie = chance(90) ? everReady.randomElement(using: &rng) : WorkerID(tenant: "acme", serial: 999)
        }
        let pinnedTo = cookie.flatMap { id in dispatch.workers.contains { $0.id == id } ? id : nil }
        waiting[ticket] = Arrival(at: now, pinnedTo: pinnedTo, cold: dispatch.workers.isEmpty)
        // The router's fast path decides exactly as requestArrived does, or leaves everything as it was.
        var fast = dispatch
        var slow = dispatch
        let taken = fast.forwardAtOnce(cookie: cookie)
        let actions = slow.requestArrived(ticket: ticket, cookie: cookie, now: now)
        if let taken {
            try check(
                actions == [
                    .forward(
                        ticket: ticket,
                        worker: taken.worker,
                        port: taken.port,
                        setCookie: taken.setCookie,
                        coldStart: nil
                    )
                ],
                "forwardAtOnce took \(taken), requestArrived did \(actions)"
            )
            try check(
                fast.workers == slow.workers,
                "forwardAtOnce left \(fast.workers), requestArrived \(slow.workers)"
            )
        } else {
            try check(fast.workers == dispatch.workers, "forwardAtOnce changed \(fast.workers) and took nothing")
            try check(
                !actions.contains { if case .forward(_, _, _, _, nil) = $0 { true } else { false } },
                "forwardAtOnce took nothing where requestArrived forwarded at once: \(actions)"
            )
        }
        try event("request \(ticket) cookie \(cookie.map(\.description) ?? "-")") {
            $0.requestArrived(ticket: ticket, cookie: cookie, now: $1)
        }
    }

    /// As the proxy does when connecting fails: the worker is reported unreachable, the request finished there
    /// and routed again (as a new arrival).
    private mutating func unreachable() throws {
        let candidates = outstanding.filter { ticket in dispatch.workers.contains { $0.id == ticket.value } }
        guard let (ticket, worker) = candidates.sorted(by: { $0.key < $1.key }).randomElement(using: &rng) else {
            return
        }
        // Sessions waiting for it move (and, should it come back and take them, get their cookie again).
        for (waitingTicket, arrival) in waiting where arrival.pinnedTo == worker {
            waiting[waitingTicket]!.pinnedTo = nil
        }
        try event("unreachable \(worker) (request \(ticket))") { $0.workerUnreachable(worker, now: $1) }
        try finish(ticket)
        try arrive()
    }

    private mutating func finish(_ ticket: UInt64) throws {
        guard let worker = outstanding.removeValue(forKey: ticket) else { return }
        if dispatch.workers.contains(where: { $0.id == worker }) || dispatch.unreachable[worker] != nil {
            touched.insert(worker)
        }
        try event("finished \(ticket) on \(worker)") { $0.requestFinished(worker: worker, now: $1) }
    }

    private mutating func startWorker() throws {
        let worker = WorkerID(tenant: "acme", serial: nextSerial)
        nextSerial += 1
        clusterReady.append(worker)
        everReady.append(worker)
        guard connected else { return }
        try event("ready \(worker)") { $0.workerReady(worker, port: worker.port, now: $1) }
    }

    private mutating func answerActivation() throws {
        if chance(70) {
            if clusterReady.isEmpty || (clusterReady.count < limits.maxWorkers && chance(30)) { try startWorker() }
            let ready = clusterReady.map { (id: $0, port: $0.port) }
            pending = false
            try event("activation answered \(clusterReady)") { $0.activationSucceeded(ready, now: $1) }
        } else {
            let refusals: [ActivationRefusal] = [
                .startFailed("exit 1"), .startTimedOut("no READY"), .tenantStopped("stopped"), .unavailable("busy"),
                .unknownTenant("removed"),
                .tenantFailed("crash loop", retryAfter: .milliseconds(Int.random(in: 500...8000, using: &rng))),
            ]
            let refusal = refusals.randomElement(using: &rng)!
            pending = false
            try event("activation failed \(refusal)") { $0.activationFailed(refusal, now: $1) }
        }
    }

    private mutating func reconnect() throws {
        connected = true
        let ready = clusterReady.map { (id: $0, port: $0.port) }
        try event("resynchronized \(clusterReady)") { $0.resynchronized(ready: ready, now: $1) }
    }

    // MARK: - Checking

    private mutating func event(
        _ name: String,
        _ body: (inout TenantDispatch, Instant) -> [TenantDispatch.Action]
    ) throws {
        eventNumber += 1
        let actions = body(&dispatch, now)
        trace.append("\(eventNumber) \(name) → \(actions)")
        if trace.count > 30 { trace.removeFirst() }
        try account(actions, event: name)
        try checkInvariants()
    }

    private mutating func account(_ actions: [TenantDispatch.Action], event name: String) throws {
        var activations = 0
        for action in actions {
            switch action {
            case .forward(let ticket, let worker, let port, let setCookie, let coldStart):
                let arrival = try answer(ticket)
                let route = dispatch.workers.first { $0.id == worker }
                try check(route != nil, "\(ticket) forwarded to \(worker), which is not ready")
                try check(port == worker.port, "\(ticket) forwarded to \(worker) on port \(port)")
                if connected {
                    try check(clusterReady.contains(worker), "\(ticket) forwarded to \(worker), gone at clusterd")
                }
                let keepsSession = arrival.pinnedTo == worker
                try check(
                    setCookie == (limits.sticky && !keepsSession),
                    "\(ticket) to \(worker): setCookie \(setCookie), pinned at arrival to \(arrival.pinnedTo.map(\.description) ?? "-")"
                )
                if let coldStart {
                    try check(
                        coldStart == now - arrival.at,
                        "\(ticket): cold start \(coldStart), waited \(now - arrival.at)"
                    )
                } else {
                    try check(!arrival.cold, "\(ticket) arrived with no worker ready, yet no cold start")
                }
                outstanding[ticket] = worker
                touched.insert(worker)
            case .refuse(let ticket, let refusal):
                let arrival = try answer(ticket)
                switch refusal {
                case .queueFull(let limit):
                    try check(
                        limit == limits.queueLimit && arrival.at == now && name.hasPrefix("request \(ticket) "),
                        "\(ticket) refused \(refusal) in \(name)"
                    )
                case .waitedTooLong(let timeout):
                    try check(
                        timeout == limits.queueTimeout && now - arrival.at >= timeout,
                        "\(ticket) refused \(refusal) after \(now - arrival.at)"
                    )
                default:
                    break
                }
            case .activate:
                activations += 1
                try check(connected, "activation asked while disconnected")
                try check(!pending, "activation asked while one is pending")
                pending = true
            }
        }
        try check(activations <= 1, "\(activations) activations asked at once")
    }

    /// Marks `ticket` answered; it must be waiting (arrived, never answered, not cancelled).
    private mutating func answer(_ ticket: UInt64) throws -> Arrival {
        answers[ticket, default: 0] += 1
        try check(!cancelled.contains(ticket), "cancelled request \(ticket) answered")
        try check(answers[ticket] == 1, "request \(ticket) answered \(answers[ticket]!) times")
        let arrival = waiting.removeValue(forKey: ticket)
        try check(arrival != nil, "request \(ticket) answered, but it is not waiting")
        return arrival!
    }

    private func checkInvariants() throws {
        let workers = dispatch.workers
        try check(Set(workers.map(\.id)).count == workers.count, "a worker listed twice: \(workers.map(\.id))")
        let held = Set(dispatch.unreachable.keys)
        try check(held.isDisjoint(with: workers.map(\.id)), "held \(held.sorted()) and routed to")
        if connected {
            // Held workers are those clusterd still lists; the router routes to the rest.
            try check(held.isSubset(of: clusterReady), "held \(held.sorted()), clusterd lists \(clusterReady)")
            try check(
                Set(workers.map(\.id)) == Set(clusterReady).subtracting(held),
                "router knows \(workers.map(\.id)) and holds \(held.sorted()), clusterd \(clusterReady)"
            )
        }
        // Time moves only with timeElapsed, which ends the holds that are due.
        for (id, since) in dispatch.unreachable {
            try check(now - since < TenantDispatch.unreachableHold, "\(id) held since \(since), now \(now)")
        }
        for route in workers {
            let expected = outstanding.values.filter { $0 == route.id }.count
            try check(
                route.inFlight == expected,
                "\(route.id): in flight \(route.inFlight), forwarded − finished \(expected)"
            )
            try check(route.inFlight >= 0, "\(route.id): negative in flight")
            if limits.maxConcurrency > 0 {
                try check(route.inFlight <= limits.maxConcurrency, "\(route.id): \(route.inFlight) in flight")
            }
        }
        try check(dispatch.waitingCount <= limits.queueLimit, "\(dispatch.waitingCount) waiting")
        try check(
            dispatch.queue.map(\.ticket).sorted() == waiting.keys.sorted(),
            "queue \(dispatch.queue.map(\.ticket)) but unanswered \(waiting.keys.sorted())"
        )
        try check(dispatch.activationPending == pending, "activationPending \(dispatch.activationPending)")
        // Work-conserving: nobody waits while a worker it may use has room.
        func hasRoom(_ route: TenantDispatch.Route) -> Bool {
            limits.maxConcurrency == 0 || route.inFlight < limits.maxConcurrency
        }
        for waiting in dispatch.queue {
            if let pinned = waiting.pinned {
                let route = workers.first { $0.id == pinned }
                try check(route != nil, "\(waiting.ticket) pinned to \(pinned), which is not ready")
                try check(route.map { !hasRoom($0) } ?? true, "\(waiting.ticket) waits while \(pinned) has room")
            } else {
                try check(!workers.contains(where: hasRoom), "\(waiting.ticket) waits while a worker has room")
            }
        }
        // Requests waiting with no worker always have an activation asked (once connected), unless held
        // workers are all there is: then the hold's end or clusterd's word on them comes first.
        if connected, workers.isEmpty, held.isEmpty, dispatch.waitingCount > 0 {
            try check(pending, "\(dispatch.waitingCount) waiting with no worker and no activation asked")
        }
    }

    private func check(_ condition: Bool, _ message: @autoclosure () -> String) throws {
        guard condition else {
            Issue.record(
                "seed \(seed), \(limits), event \(eventNumber): \(message())\nlast events:\n\(trace.joined(separator: "\n"))"
            )
            throw DispatchInvariantBroken()
        }
    }
}

// MARK: - Unreachable workers

/// A worker the router cannot connect to while clusterd still lists it as ready (clusterd has not handled its
/// exit yet): held out of routing, with no activation asked that would only list it again, until clusterd
/// reports it gone or the hold ends.
@Suite("Tenant dispatch: unreachable workers")
struct TenantDispatchUnreachableTests {
    @Test("the request waits for clusterd to report the worker gone, then for the new worker; nothing asked before")
    func waitsForTheExit() {
        var dispatch = TenantDispatch.fixture(ready: [.acme(1)])
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.forwarded(1, to: .acme(1))])

        #expect(dispatch.workerUnreachable(.acme(1), now: t0 + .milliseconds(1)) == [])
        #expect(dispatch.unreachable == [.acme(1): t0 + .milliseconds(1)])
        // The proxy routes the same request again: it waits; asking clusterd now would list acme#1 again.
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .milliseconds(2)) == [])
        #expect(dispatch.timeElapsed(now: t0 + .milliseconds(500)) == [])
        #expect(!dispatch.activationPending)

        #expect(dispatch.workerLeft(.acme(1), now: t0 + .milliseconds(600)) == [.activate(additional: false)])
        #expect(dispatch.unreachable.isEmpty)
        #expect(
            dispatch.activationSucceeded(ready(.acme(2)), now: t0 + .milliseconds(900)) == [
                .forwarded(2, to: .acme(2), cold: .milliseconds(898))
            ]
        )
    }

    @Test("an activation answer or a ready event still listing the held worker adds nothing and asks nothing more")
    func staleListingsIgnored() {
        var dispatch = TenantDispatch.fixture()
        #expect(dispatch.requestArrived(ticket: 1, cookie: nil, now: t0) == [.activate(additional: false)])
        #expect(dispatch.workerReady(.acme(1), port: 20001, now: t0) == [.forwarded(1, to: .acme(1), cold: .zero)])
        // The request found acme#1 refusing while the activation was still unanswered.
        #expect(dispatch.workerUnreachable(.acme(1), now: t0 + .milliseconds(1)) == [])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0 + .milliseconds(1)) == [])

        #expect(dispatch.activationSucceeded(ready(.acme(1)), now: t0 + .milliseconds(2)) == [])
        #expect(dispatch.workerReady(.acme(1), port: 20001, now: t0 + .milliseconds(3)) == [])
        #expect(dispatch.workers.isEmpty)
        #expect(dispatch.waitingCount == 1)
        #expect(!dispatch.activationPending)
    }

    @Test("a worker that was only slow to accept gets requests again once the hold ends, with its counts")
    func holdEnds() {
        var dispatch = TenantDispatch.fixture(ready: [.acme(1)])
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        _ = dispatch.workerUnreachable(.acme(1), now: t0)
        // As the proxy does: the request that found it unreachable is finished, then routed again.
        #expect(dispatch.requestFinished(worker: .acme(1), now: t0) == [])
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [])

        let hold = TenantDispatch.unreachableHold
        #expect(dispatch.timeElapsed(now: t0 + hold - .milliseconds(1)) == [])
        #expect(dispatch.timeElapsed(now: t0 + hold) == [.forwarded(2, to: .acme(1), cold: hold)])
        #expect(dispatch.unreachable.isEmpty)
        #expect(dispatch.inFlightByWorker == [1], "the refused request no longer counts")
    }

    @Test("with nothing waiting, a hold still ends (the router ticks tenants with holds), beside the others")
    func holdEndsBesideOthers() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 2, ready: [.acme(1), .acme(2)])
        _ = dispatch.workerUnreachable(.acme(1), now: t0)
        #expect(dispatch.workers.map(\.id) == [.acme(2)])
        #expect(dispatch.needsTime)
        #expect(dispatch.timeElapsed(now: t0 + TenantDispatch.unreachableHold) == [])
        #expect(dispatch.workers.map(\.id) == [.acme(2), .acme(1)])
        #expect(!dispatch.needsTime)
    }

    @Test("a held worker still counts against max_workers; once clusterd reports it gone, one more is asked for")
    func heldCountsAgainstMaxWorkers() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1), .acme(2)])
        var tickets: UInt64 = 1
        dispatch.load(.acme(2), 1, tickets: &tickets)
        #expect(dispatch.workerUnreachable(.acme(1), now: t0) == [])
        // acme#2 is full and acme#1 held: clusterd is at max_workers, so nothing is asked yet.
        #expect(dispatch.requestArrived(ticket: 10, cookie: nil, now: t0) == [])
        #expect(dispatch.workerLeft(.acme(1), now: t0 + .milliseconds(5)) == [.activate(additional: true)])
        #expect(dispatch.activationSucceeded(ready(.acme(2)), now: t0 + .milliseconds(6)) == [])
        #expect(
            dispatch.workerReady(.acme(3), port: 20003, now: t0 + .milliseconds(300)) == [
                .forwarded(10, to: .acme(3), cookie: true)
            ]
        )
    }

    @Test("a held worker's requests still running are counted and reported as activity")
    func heldWorkerActivity() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 2, ready: [.acme(1), .acme(2)])
        var tickets: UInt64 = 1
        dispatch.load(.acme(1), 2, tickets: &tickets)
        _ = dispatch.activity()
        _ = dispatch.workerUnreachable(.acme(1), now: t0)
        #expect(dispatch.activity() == ["acme#1:2"])
        _ = dispatch.requestFinished(worker: .acme(1), now: t0)
        #expect(dispatch.activity() == ["acme#1:1"])
    }

    @Test("with another worker ready, requests and the held worker's pinned sessions go there at once")
    func otherWorkerServes() {
        var dispatch = TenantDispatch.fixture(maxConcurrency: 1, maxWorkers: 2, ready: [.acme(1), .acme(2)])
        var tickets: UInt64 = 1
        dispatch.load(.acme(1), 1, tickets: &tickets)
        dispatch.load(.acme(2), 1, tickets: &tickets)
        // Pinned to acme#1, which is full: it waits for acme#1.
        #expect(dispatch.requestArrived(ticket: 3, cookie: .acme(1), now: t0) == [])

        // acme#1 turns out unreachable: the session waiting for it moves to acme#2 when that has room (no
        // worker is asked for: the held one still counts against max_workers).
        #expect(dispatch.workerUnreachable(.acme(1), now: t0) == [])
        #expect(dispatch.requestFinished(worker: .acme(2), now: t0) == [.forwarded(3, to: .acme(2), cookie: true)])
        #expect(dispatch.workers.map(\.id) == [.acme(2)])
    }

    @Test("a resynchronization keeps holding the workers clusterd still lists and forgets those it does not")
    func resynchronization() {
        var dispatch = TenantDispatch.fixture(maxWorkers: 3, ready: [.acme(1), .acme(2)])
        _ = dispatch.workerUnreachable(.acme(1), now: t0)
        _ = dispatch.workerUnreachable(.acme(2), now: t0)

        _ = dispatch.resynchronized(ready: ready(.acme(2), .acme(3)), now: t0 + .milliseconds(10))
        #expect(dispatch.unreachable == [.acme(2): t0])
        #expect(dispatch.workers.map(\.id) == [.acme(3)])
    }

    @Test("a worker reported gone before its connect failed is not held: the next request asks for a worker")
    func goneFirst() {
        var dispatch = TenantDispatch.fixture(ready: [.acme(1)])
        _ = dispatch.requestArrived(ticket: 1, cookie: nil, now: t0)
        #expect(dispatch.workerLeft(.acme(1), now: t0) == [])
        #expect(dispatch.workerUnreachable(.acme(1), now: t0) == [])
        #expect(dispatch.unreachable.isEmpty)
        #expect(dispatch.requestArrived(ticket: 2, cookie: nil, now: t0) == [.activate(additional: false)])
    }
}
