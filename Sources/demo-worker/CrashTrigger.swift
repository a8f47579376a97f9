import Glibc
import Synchronization

/// `--crash-after N`: exits the process with status 3 once the Nth response has been flushed.
///
/// Used by supervisor tests to make a worker die at a known point, after its client got a
/// complete answer.
final class CrashTrigger: Sendable {
    /// The response count at which the process exits.
    let limit: Int
    private let flushedResponses = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = limit
    }

    /// Call when a response has been written and flushed; exits the process at the limit.
    func responseFlushed() {
        let count = self.flushedResponses.add(1, ordering: .relaxed).newValue
        guard count == self.limit else { return }
        Console.error(
            "demo-worker: exiting with status 3 after \(count) responses as asked (--crash-after \(self.limit))"
        )
        exit(3)
    }
}
