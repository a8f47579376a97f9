import NIOCore
import Synchronization

/// The open client connections of a ``ProxyServer``: admits up to the connection limit, and on stop asks each to
/// finish its in-flight request, then closes whatever is left after the drain timeout.
///
/// Touched once when a connection opens and once when it closes (under a lock), never per request.
final class ClientConnectionTracker: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: any Channel] = [:]
        /// Set once a drain began: connections admitted later are quiesced at once.
        var drained: EventLoopPromise<Void>?
        /// Rejected connections reading out what their client still sends before they close.
        var lingeringRejections = 0
    }

    /// At most this many rejected connections linger at once; beyond, they close right after their 503 (a flood
    /// of connections over the limit must not hold a second limit's worth of fds).
    static let maxLingeringRejections = 1024

    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// The number of client connections open now.
    var openConnections: Int {
        self.state.withLock { $0.connections.count }
    }

    /// What ``admit(_:)`` decided.
    enum Admission {
        /// Over the limit: answer 503 and close; when `linger`, only after reading what the client still sends for
        /// a while (the tracker counts it until it closes).
        case rejected(linger: Bool)
        /// Tracked until it closes; when `draining`, quiesce it once its handlers are in.
        case admitted(draining: Bool)
    }

    /// Registers `channel` unless the limit is reached; forgets it when it closes.
    func admit(_ channel: any Channel) -> Admission {
        let id = ObjectIdentifier(channel)
        let admission = self.state.withLock { state -> Admission in
            guard state.connections.count < self.limit else {
                guard state.lingeringRejections < Self.maxLingeringRejections else { return .rejected(linger: false) }
                state.lingeringRejections += 1
                return .rejected(linger: true)
            }
            state.connections[id] = channel
            return .admitted(draining: state.drained != nil)
        }
        if case .rejected(linger: true) = admission {
            channel.closeFuture.whenComplete { _ in
                self.state.withLock { $0.lingeringRejections -= 1 }
            }
        }
        guard case .admitted = admission else { return admission }
        channel.closeFuture.whenComplete { _ in
            let drained = self.state.withLock { state -> EventLoopPromise<Void>? in
                state.connections[id] = nil
                return state.connections.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
        return admission
    }

    /// Quiesces every connection (idle ones close at once, busy ones after their response) and waits until all
    /// are closed, closing the stragglers after `timeout`.
    func drain(on eventLoop: any EventLoop, timeout: TimeAmount) async {
        let promise = eventLoop.makePromise(of: Void.self)
        let (first, connections) = self.state.withLock { state -> (Bool, [any Channel]) in
            guard state.drained == nil else { return (false, []) }
            state.drained = promise
            return (true, Array(state.connections.values))
        }
        guard first else {
            promise.succeed()
            return
        }
        if connections.isEmpty {
            promise.succeed()
        }
        // One task per event loop quiesces all of its connections at once: none of them can then serve a response
        // that starts after another was told to stop without being told too.
        let byLoop = Dictionary(grouping: connections) { ObjectIdentifier($0.eventLoop) }
        for channels in byLoop.values {
            channels[0].eventLoop.execute {
                for channel in channels {
                    channel.pipeline.syncOperations.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                }
            }
        }
        let timedOut = eventLoop.scheduleTask(in: timeout) {
            let stragglers = self.state.withLock { Array($0.connections.values) }
            for channel in stragglers {
                channel.close(promise: nil)
            }
        }
        try? await promise.futureResult.get()
        timedOut.cancel()
    }
}
