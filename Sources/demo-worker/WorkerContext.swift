import NIOCore
import NIOHTTP1

/// What every connection's ``RequestHandler`` shares: identity, session counters, fault
/// switches, and the response bodies that never change, encoded once.
struct WorkerContext: Sendable {
    let identity: WorkerIdentity
    let sessions: SessionCounters
    /// Set by `--crash-after`.
    let crashTrigger: CrashTrigger?
    /// `GET /` body.
    let helloBody: ByteBuffer
    /// `GET /whoami` body.
    let whoamiBody: ByteBuffer

    init(identity: WorkerIdentity, sessions: SessionCounters, crashTrigger: CrashTrigger?) {
        self.identity = identity
        self.sessions = sessions
        self.crashTrigger = crashTrigger
        self.helloBody = ByteBuffer(string: identity.helloText)
        self.whoamiBody = ByteBuffer(string: identity.whoamiJSON)
    }
}
