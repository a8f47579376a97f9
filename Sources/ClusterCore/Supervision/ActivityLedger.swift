/// Requests in flight on each worker as several reporters (routers, one per control connection) count them:
/// each reporter's counts are kept apart, and a worker's total is their sum.
///
/// Pure bookkeeping: the shell feeds each total it gets back to the cluster machine as the worker's activity.
/// When a reporter goes away its requests go with it, and the workers it had counted get new totals.
public struct ActivityLedger: Sendable, Equatable {
    /// Non-zero counts only, by reporter and worker.
    private var counts: [Int: [WorkerID: Int]] = [:]

    public init() {}

    /// `reporter` has `inFlight` requests on `worker` (zero or less: none). Returns the worker's new total.
    public mutating func reported(_ inFlight: Int, on worker: WorkerID, by reporter: Int) -> Int {
        counts[reporter, default: [:]][worker] = inFlight > 0 ? inFlight : nil
        return total(on: worker)
    }

    /// Requests in flight on `worker`, summed over every reporter.
    public func total(on worker: WorkerID) -> Int {
        counts.values.reduce(0) { $0 + ($1[worker] ?? 0) }
    }

    /// `reporter` went away: its counts are dropped. Returns the workers whose totals changed, sorted; ask
    /// `total(on:)` for each.
    public mutating func reporterDisconnected(_ reporter: Int) -> [WorkerID] {
        (counts.removeValue(forKey: reporter) ?? [:]).keys.sorted()
    }

    /// The worker is gone: no reporter counts it any more.
    public mutating func workerExited(_ worker: WorkerID) {
        for reporter in counts.keys { counts[reporter]?[worker] = nil }
    }
}
