/// When clusterd itself is ready as a service (systemd's READY=1): once its control channel listens and, when
/// it waits for one, the router has subscribed to it (so the router has the routing table).
///
/// Pure: each event returns true exactly once, at the moment to announce; never again after that.
public struct ServiceReadiness: Sendable, Equatable {
    private enum State: Sendable, Equatable {
        case waiting(controlListening: Bool, routerSubscribed: Bool)
        case announced
    }

    /// READY=1 waits for the router's subscription too.
    public let awaitsRouter: Bool
    private var state: State = .waiting(controlListening: false, routerSubscribed: false)

    public init(awaitsRouter: Bool) {
        self.awaitsRouter = awaitsRouter
    }

    /// Announced already (READY=1 was said).
    public var isAnnounced: Bool { state == .announced }

    /// The control channel accepts connections. True: announce READY=1 now.
    public mutating func controlChannelListening() -> Bool {
        guard case .waiting(_, let router) = state else { return false }
        return advance(controlListening: true, routerSubscribed: router)
    }

    /// A router subscribed on the control channel. True: announce READY=1 now.
    public mutating func routerSubscribed() -> Bool {
        guard case .waiting(let control, _) = state else { return false }
        return advance(controlListening: control, routerSubscribed: true)
    }

    private mutating func advance(controlListening: Bool, routerSubscribed: Bool) -> Bool {
        guard controlListening, routerSubscribed || !awaitsRouter else {
            state = .waiting(controlListening: controlListening, routerSubscribed: routerSubscribed)
            return false
        }
        state = .announced
        return true
    }
}
