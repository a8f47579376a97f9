import Testing

@testable import ClusterCore

@Suite("Service readiness (READY=1)")
struct ServiceReadinessTests {
    enum Event: String, CaseIterable, CustomTestStringConvertible {
        case controlChannelListening, routerSubscribed
        var testDescription: String { rawValue }
    }

    /// Feeds the events in order; returns the indices of those that said "announce now".
    private func announcements(awaitsRouter: Bool, _ events: [Event]) -> [Int] {
        var readiness = ServiceReadiness(awaitsRouter: awaitsRouter)
        var announced: [Int] = []
        for (index, event) in events.enumerated() {
            let now =
                switch event {
                case .controlChannelListening: readiness.controlChannelListening()
                case .routerSubscribed: readiness.routerSubscribed()
                }
            if now { announced.append(index) }
        }
        #expect(readiness.isAnnounced == !announced.isEmpty)
        return announced
    }

    @Test(
        "announced exactly once, at the event that completes what it waits for",
        arguments: [
            // Without a router to wait for: at the control channel; a router's subscription changes nothing.
            (false, [Event.controlChannelListening], [0]),
            (false, [.routerSubscribed], []),
            (false, [.routerSubscribed, .controlChannelListening], [1]),
            (false, [.controlChannelListening, .routerSubscribed, .controlChannelListening], [0]),
            // Waiting for the router: once both happened, in either order.
            (true, [.controlChannelListening], []),
            (true, [.routerSubscribed], []),
            (true, [.controlChannelListening, .routerSubscribed], [1]),
            (true, [.routerSubscribed, .controlChannelListening], [1]),
            (true, [.routerSubscribed, .routerSubscribed, .controlChannelListening], [2]),
            (true, [.controlChannelListening, .controlChannelListening, .routerSubscribed, .routerSubscribed], [2]),
            (true, [.controlChannelListening, .routerSubscribed, .controlChannelListening, .routerSubscribed], [1]),
        ] as [(Bool, [Event], [Int])]
    )
    func announcedOnce(awaitsRouter: Bool, events: [Event], expected: [Int]) {
        #expect(announcements(awaitsRouter: awaitsRouter, events) == expected)
    }

    @Test("nothing is announced before any event")
    func notAtStart() {
        #expect(!ServiceReadiness(awaitsRouter: false).isAnnounced)
        #expect(!ServiceReadiness(awaitsRouter: true).isAnnounced)
    }
}
