import ClusterCore

/// Workers a starting clusterd takes over instead of starting: from an in-place upgrade (this very process,
/// before its exec) or, after a crash, from the previous clusterd's runtime record.
public struct Takeover: Sendable {
    public enum Source: Sendable {
        /// The same process after an exec: workers are its children; everything was handed over.
        case upgrade(handovers: Int, outcome: String?)
        /// A new process after the previous clusterd died: workers are orphans now (not children).
        case crashRecovery
    }

    public struct Worker: Sendable {
        public var worker: AdoptedWorker
        /// Its output pipes' read ends, when they survived (hand-over, or systemd's fd store).
        public var stdoutFD: Int32?
        public var stderrFD: Int32?
        /// A child of this process (reaped here, exit status known).
        public var isChild: Bool

        public init(worker: AdoptedWorker, stdoutFD: Int32?, stderrFD: Int32?, isChild: Bool) {
            self.worker = worker
            self.stdoutFD = stdoutFD
            self.stderrFD = stderrFD
            self.isChild = isChild
        }
    }

    public var source: Source
    /// The NOTIFY_SOCKET the workers were given: served again under the same name, so their notifications
    /// (READY, WATCHDOG) keep arriving.
    public var notifySocketPath: String
    /// The notify socket itself, when handed over; nil: bound anew under `notifySocketPath`.
    public var notifyFD: Int32?
    public var workers: [Worker]
    public var nextSerials: [String: Int]

    public init(
        source: Source,
        notifySocketPath: String,
        notifyFD: Int32?,
        workers: [Worker],
        nextSerials: [String: Int]
    ) {
        self.source = source
        self.notifySocketPath = notifySocketPath
        self.notifyFD = notifyFD
        self.workers = workers
        self.nextSerials = nextSerials
    }
}

extension Handover {
    /// What the supervisor takes over from this hand-over.
    public var takeover: Takeover {
        Takeover(
            source: .upgrade(handovers: handovers, outcome: outcome),
            notifySocketPath: notifySocketPath,
            notifyFD: notifyFD,
            workers: workers.map {
                Takeover.Worker(
                    worker: $0.worker,
                    stdoutFD: $0.stdoutFD >= 0 ? $0.stdoutFD : nil,
                    stderrFD: $0.stderrFD >= 0 ? $0.stderrFD : nil,
                    isChild: $0.isChild
                )
            },
            nextSerials: nextSerials
        )
    }
}
