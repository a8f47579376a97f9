import NIOCore
import NIOEmbedded
import Testing

@testable import ClusterRouter

/// Admission at the connection limit, and the bound on rejected connections that linger.
@Suite("Client connection tracker")
struct ClientConnectionTrackerTests {
    @Test("up to the limit admitted; beyond, rejected and lingering up to a bound, then rejected outright")
    func admission() throws {
        let tracker = ClientConnectionTracker(limit: 2)
        let admitted = (0..<2).map { _ in EmbeddedChannel() }
        for channel in admitted {
            guard case .admitted(draining: false) = tracker.admit(channel) else {
                Issue.record("a connection under the limit was not admitted")
                return
            }
        }
        #expect(tracker.openConnections == 2)

        let lingering = (0..<ClientConnectionTracker.maxLingeringRejections).map { _ in EmbeddedChannel() }
        for channel in lingering {
            guard case .rejected(linger: true) = tracker.admit(channel) else {
                Issue.record("a rejection under the lingering bound did not linger")
                return
            }
        }
        guard case .rejected(linger: false) = tracker.admit(EmbeddedChannel()) else {
            Issue.record("a rejection beyond the lingering bound lingered")
            return
        }

        // A lingering rejection that closes frees its place; a closed admitted connection frees a slot.
        _ = try lingering[0].finish()
        guard case .rejected(linger: true) = tracker.admit(EmbeddedChannel()) else {
            Issue.record("the freed lingering place was not reused")
            return
        }
        _ = try admitted[0].finish()
        #expect(tracker.openConnections == 1)
        guard case .admitted = tracker.admit(EmbeddedChannel()) else {
            Issue.record("the freed slot was not reused")
            return
        }
        #expect(tracker.openConnections == 2)
    }
}
