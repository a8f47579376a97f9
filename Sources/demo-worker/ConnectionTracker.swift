import NIOCore
import Synchronization

/// The open HTTP connections, so that a stop can let each finish its current request and
/// then know when the last one has closed.
///
/// Channels register from their own event loops; the lock makes that safe from any thread.
final class ConnectionTracker: Sendable {
    private struct State {
        var connections: [ObjectIdentifier: any Channel] = [:]
        /// Set once a drain began: every connection registered later is quiesced at once.
        var drained: EventLoopPromise<Void>?
    }

    private let state = Mutex(State())

    /// The number of connections open now.
    var openConnections: Int {
        self.state.withLock { $0.connections.count }
    }

    /// Registers an accepted connection whose pipeline is set up; forgets it when it closes.
    ///
    /// Call on the channel's event loop, after its handlers are added, so a quiesce event
    /// always finds `HTTPServerPipelineHandler` in place.
    func track(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let draining = self.state.withLock { state in
            state.connections[id] = channel
            return state.drained != nil
        }
        channel.closeFuture.whenComplete { _ in
            let drained = self.state.withLock { state -> EventLoopPromise<Void>? in
                state.connections[id] = nil
                return state.connections.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
        if draining {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Asks every connection to finish its in-flight request and close (idle ones close now).
    ///
    /// The future succeeds once no connection is open. Calling it again returns the same future.
    func drain(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let (drained, connections, isFirst) = self.state.withLock { state in
            if let drained = state.drained {
                return (drained, [any Channel](), false)
            }
            state.drained = promise
            return (promise, Array(state.connections.values), true)
        }
        guard isFirst else {
            promise.succeed()  // not handed out; complete it so it does not leak
            return drained.futureResult
        }
        if connections.isEmpty {
            promise.succeed()
        }
        for channel in connections {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
        return drained.futureResult
    }

    /// Closes every connection still open, whatever it is doing.
    func closeAll() {
        let connections = self.state.withLock { Array($0.connections.values) }
        for channel in connections {
            channel.close(promise: nil)
        }
    }
}
