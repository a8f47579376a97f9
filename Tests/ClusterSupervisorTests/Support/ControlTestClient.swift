import ClusterControl

/// A control-channel client for tests: clusterctl's ``ControlClient`` (the shared conversation) for well-formed
/// requests, and raw lines in and out for what no client would send.
final class ControlTestClient {
    let client: ControlClient
    /// How long each raw send or read may wait.
    let timeout: Duration
    private var nextRawID = 1_000_000

    /// Connects to `path`; nil when the connect fails.
    init?(path: String, timeoutSeconds: Int = 10) {
        timeout = .seconds(timeoutSeconds)
        guard
            let client = try? ControlClient(
                socketPath: path,
                timeout: .seconds(timeoutSeconds),
                client: ControlClientName(rawValue: "tests")
            )
        else { return nil }
        self.client = client
    }

    /// hello with this build's versions; true when accepted.
    func hello() -> Bool {
        (try? client.hello()) != nil
    }

    /// Sends a request (after `hello`) and returns its reply; events read meanwhile go to `onEvent`. nil when the
    /// connection failed or timed out.
    func request(
        _ operation: ControlOperation,
        onEvent: (ControlEvent) -> Void = { _ in }
    ) -> Result<JSONValue, ControlError>? {
        try? client.request(operation, onEvent: onEvent)
    }

    /// Sends `{"id":…,"op":op, parameters…}` as it is, hello or not, and returns the reply with its id.
    func request(raw op: String, _ parameters: [String: JSONValue] = [:]) -> Result<JSONValue, ControlError>? {
        let id = nextRawID
        nextRawID += 1
        var object = parameters
        object["op"] = .string(op)
        object["id"] = .number(Double(id))
        guard send(JSONValue.object(object).jsonText() + [UInt8(ascii: "\n")]) else { return nil }
        while let line = readIncoming() {
            if case .reply(.number(id)?, let result) = line { return result }
        }
        return nil
    }

    /// Sends raw bytes.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        (try? client.sendRaw(bytes, timeout: timeout)) != nil
    }

    /// Reads one line; nil on EOF or timeout.
    func readLine() -> [UInt8]? {
        try? client.readRawLine(timeout: timeout)
    }

    func readIncoming() -> IncomingLine? {
        readLine().flatMap { IncomingLine($0) }
    }
}
