import NIOCore

/// One deadline on an event loop, checked lazily: moving the deadline later schedules nothing new, so a timeout that
/// is pushed back on every request or body part costs a timer only once per period.
final class ConnectionTimer {
    private let eventLoop: any EventLoop
    private let onExpiry: () -> Void
    private var deadline: NIODeadline?
    private var scheduled: Scheduled<Void>?
    private var scheduledFor = NIODeadline.distantFuture

    /// `onExpiry` runs on `eventLoop` when the deadline passes; it must not capture the timer's owner strongly.
    init(eventLoop: any EventLoop, onExpiry: @escaping () -> Void) {
        self.eventLoop = eventLoop
        self.onExpiry = onExpiry
    }

    /// Arms the timer to expire `timeout` from now (replacing any earlier deadline).
    func expire(in timeout: TimeAmount) {
        self.set(.now() + timeout)
    }

    /// Disarms the timer (a scheduled check may still run, and does nothing).
    func disarm() {
        self.deadline = nil
    }

    /// Disarms and drops the scheduled check: call when the connection closes.
    func cancel() {
        self.deadline = nil
        self.scheduled?.cancel()
        self.scheduled = nil
        self.scheduledFor = .distantFuture
    }

    var isArmed: Bool { self.deadline != nil }

    private func set(_ deadline: NIODeadline) {
        self.deadline = deadline
        if self.scheduled != nil && self.scheduledFor <= deadline { return }
        self.scheduled?.cancel()
        self.schedule(at: deadline)
    }

    private func schedule(at deadline: NIODeadline) {
        self.scheduledFor = deadline
        self.scheduled = self.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            self?.fired()
        }
    }

    private func fired() {
        self.scheduled = nil
        self.scheduledFor = .distantFuture
        guard let deadline = self.deadline else { return }
        if deadline <= .now() {
            self.deadline = nil
            self.onExpiry()
        } else {
            self.schedule(at: deadline)
        }
    }
}
