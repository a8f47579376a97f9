import Testing

@testable import ClusterCore

@Suite("Activity ledger")
struct ActivityLedgerTests {
    @Test("one reporter: the total is its latest count")
    func oneReporter() {
        var ledger = ActivityLedger()
        #expect(ledger.reported(3, on: .acme(1), by: 0) == 3)
        #expect(ledger.reported(1, on: .acme(1), by: 0) == 1)
        #expect(ledger.reported(0, on: .acme(1), by: 0) == 0)
        #expect(ledger.reported(-2, on: .acme(1), by: 0) == 0)
        #expect(ledger.total(on: .acme(2)) == 0)
    }

    @Test("several reporters: each keeps its own count, the total is their sum")
    func severalReporters() {
        var ledger = ActivityLedger()
        #expect(ledger.reported(2, on: .acme(1), by: 1) == 2)
        #expect(ledger.reported(5, on: .acme(1), by: 2) == 7)
        #expect(ledger.reported(1, on: .beta(1), by: 2) == 1)
        #expect(ledger.reported(4, on: .acme(1), by: 1) == 9)
        #expect(ledger.reported(0, on: .acme(1), by: 2) == 4)
        #expect(ledger.total(on: .beta(1)) == 1)
    }

    @Test("a reporter's disconnect drops its counts and names the workers it had, sorted")
    func reporterDisconnected() {
        var ledger = ActivityLedger()
        _ = ledger.reported(2, on: .beta(1), by: 1)
        _ = ledger.reported(1, on: .acme(2), by: 1)
        _ = ledger.reported(3, on: .acme(1), by: 1)
        _ = ledger.reported(0, on: .acme(3), by: 1)  // none in flight: not counted, not changed
        _ = ledger.reported(5, on: .acme(1), by: 2)
        _ = ledger.reported(6, on: .beta(2), by: 2)

        #expect(ledger.reporterDisconnected(1) == [.acme(1), .acme(2), .beta(1)])
        #expect(ledger.total(on: .acme(1)) == 5)
        #expect(ledger.total(on: .acme(2)) == 0)
        #expect(ledger.total(on: .beta(1)) == 0)
        #expect(ledger.total(on: .beta(2)) == 6)
        #expect(ledger.reporterDisconnected(1).isEmpty)
        #expect(ledger.reporterDisconnected(9).isEmpty)
        #expect(ledger.reporterDisconnected(2) == [.acme(1), .beta(2)])
        #expect(ledger == ActivityLedger())
    }

    @Test("a reporter that counted nothing changes nothing when it leaves")
    func emptyReporter() {
        var ledger = ActivityLedger()
        _ = ledger.reported(0, on: .acme(1), by: 1)
        _ = ledger.reported(2, on: .acme(1), by: 2)
        #expect(ledger.reporterDisconnected(1).isEmpty)
        #expect(ledger.total(on: .acme(1)) == 2)
    }

    @Test("a worker's exit forgets it for every reporter")
    func workerExited() {
        var ledger = ActivityLedger()
        _ = ledger.reported(2, on: .acme(1), by: 1)
        _ = ledger.reported(3, on: .acme(1), by: 2)
        _ = ledger.reported(1, on: .acme(2), by: 2)
        ledger.workerExited(.acme(1))
        #expect(ledger.total(on: .acme(1)) == 0)
        #expect(ledger.total(on: .acme(2)) == 1)
        #expect(ledger.reporterDisconnected(1).isEmpty)
        #expect(ledger.reporterDisconnected(2) == [.acme(2)])
    }
}
