import Synchronization

/// A control-channel subscription: encoded event lines, bounded; cut off (and marked) when the reader lags.
public final class Subscription: Sendable {
    public let lines: AsyncStream<[UInt8]>
    private let continuation: AsyncStream<[UInt8]>.Continuation
    public let bufferLimit: Int
    private let overflow = Atomic<Bool>(false)

    init(bufferLimit: Int) {
        self.bufferLimit = bufferLimit
        (lines, continuation) = AsyncStream.makeStream(of: [UInt8].self, bufferingPolicy: .bufferingOldest(bufferLimit))
    }

    /// True once the subscriber was cut off for reading too slowly.
    public var overflowed: Bool { overflow.load(ordering: .relaxed) }

    /// Queues a line; false (and the stream finished) when the buffer was full.
    func deliver(_ line: [UInt8]) -> Bool {
        switch continuation.yield(line) {
        case .enqueued: return true
        case .terminated: return false
        case .dropped:
            overflow.store(true, ordering: .relaxed)
            continuation.finish()
            return false
        @unknown default: return false
        }
    }

    /// Ends the stream (the subscriber went away, or clusterd stops).
    public func finish() {
        continuation.finish()
    }
}
