import Testing

@testable import ClusterCore

@Suite("Notify messages")
struct NotifyMessageTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var ready = false
        var stopping = false
        var reloading = false
        var watchdogPing = false
        var watchdogTrigger = false
        var status: String?

        var testDescription: String { text.debugDescription }
    }

    @Test(
        "parses sd_notify datagrams",
        arguments: [
            Case(text: "READY=1", ready: true),
            Case(text: "READY=0"),
            Case(text: "READY=yes"),
            Case(text: "STOPPING=1", stopping: true),
            Case(text: "RELOADING=1", reloading: true),
            Case(text: "WATCHDOG=1", watchdogPing: true),
            Case(text: "WATCHDOG=trigger", watchdogTrigger: true),
            Case(text: "WATCHDOG=0"),
            Case(text: "STATUS=Serving 12 sessions", status: "Serving 12 sessions"),
            Case(text: "STATUS=", status: ""),
            Case(text: "STATUS=a=b", status: "a=b"),
            Case(text: "READY=1\nSTATUS=up\nWATCHDOG=1", ready: true, watchdogPing: true, status: "up"),
            Case(text: "STATUS=one\nSTATUS=two", status: "two"),
            Case(text: "MAINPID=42\nERRNO=2\nBUSERROR=x\nFDSTORE=1"),
            Case(text: "garbage\n\n=1\nREADY\nready=1"),
            Case(text: ""),
            Case(text: "READY=1\n", ready: true),
        ]
    )
    func parses(_ example: Case) {
        let message = NotifyMessage(parsing: example.text)
        #expect(message.ready == example.ready)
        #expect(message.stopping == example.stopping)
        #expect(message.reloading == example.reloading)
        #expect(message.watchdogPing == example.watchdogPing)
        #expect(message.watchdogTrigger == example.watchdogTrigger)
        #expect(message.status == example.status)
    }

    @Test("STATUS= is cut at 512 characters")
    func longStatus() {
        let message = NotifyMessage(parsing: "STATUS=" + String(repeating: "x", count: 2000))
        #expect(message.status?.count == 512)
    }

    @Test("an empty message is the default")
    func emptyIsDefault() {
        #expect(NotifyMessage(parsing: "") == NotifyMessage())
    }
}
