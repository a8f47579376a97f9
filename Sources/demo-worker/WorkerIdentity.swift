import Glibc

/// Who this worker is, as the supervisor told it: tenant, worker name, pid and the port it serves.
struct WorkerIdentity: Sendable {
    /// `CLUSTERD_TENANT`, default `demo`.
    var tenant: String
    /// `CLUSTERD_WORKER`, default `demo#0`.
    var worker: String
    /// `GREETING`, default `hello`; `GET /` answers `GREETING from TENANT`.
    var greeting: String
    /// This process's id.
    var pid: Int32
    /// The local port actually served (from the socket, not from `PORT`).
    var port: Int

    /// Reads the identity from the environment; `port` is the port the listener ended up on.
    static func fromEnvironment(port: Int) -> WorkerIdentity {
        WorkerIdentity(
            tenant: Environment.nonEmptyValue("CLUSTERD_TENANT") ?? "demo",
            worker: Environment.nonEmptyValue("CLUSTERD_WORKER") ?? "demo#0",
            greeting: Environment.nonEmptyValue("GREETING") ?? "hello",
            pid: getpid(),
            port: port
        )
    }

    /// The body of `GET /`.
    var helloText: String {
        "\(self.greeting) from \(self.tenant)\n"
    }

    /// The body of `GET /whoami`.
    var whoamiJSON: String {
        #"{"tenant":\#(self.tenant.jsonQuoted),"worker":\#(self.worker.jsonQuoted),"pid":\#(self.pid),"port":\#(self.port)}"#
    }
}
