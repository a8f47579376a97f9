import ClusterCore

/// The id a client puts on a request; its reply carries the same id. A number or a string.
public enum RequestID: Sendable, Hashable, Codable, CustomStringConvertible {
    case number(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            self = .number(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let number): try container.encode(number)
        case .string(let string): try container.encode(string)
        }
    }

    public var description: String {
        switch self {
        case .number(let number): "\(number)"
        case .string(let string): "\"\(string)\""
        }
    }
}

/// One request line of the control protocol: `{"id": 7, "op": "scale", "tenants": {"acme": 4}}`.
public struct ControlRequest: Sendable, Equatable {
    public var id: RequestID
    public var operation: ControlOperation

    public init(id: RequestID, operation: ControlOperation) {
        self.id = id
        self.operation = operation
    }
}

/// What a request asks for. See docs/control-protocol.md for each one's reply.
public enum ControlOperation: Sendable, Equatable {
    /// First request of every connection: the versions the client speaks.
    case hello(versions: [Int], client: String?)
    case status(tenant: String?)
    /// Several tenants at once; all are checked before any is applied.
    case scale([String: Int])
    case start(tenant: String)
    case stop(tenant: String)
    case restart(tenant: String)
    case drain(tenant: String)
    /// Re-read tenants.conf.
    case reload
    /// A ready worker of the tenant; the reply waits while one starts.
    case activate(tenant: String, additional: Bool)
    /// A router's per-worker in-flight counts.
    case activity([WorkerActivity])
    /// A snapshot now, then events until the connection closes.
    case subscribe
    /// Re-execute clusterd in place (same pid, workers kept); the connection closes as it happens.
    case upgrade

    /// The `op` string of the request.
    public var name: String {
        switch self {
        case .hello: "hello"
        case .status: "status"
        case .scale: "scale"
        case .start: "start"
        case .stop: "stop"
        case .restart: "restart"
        case .drain: "drain"
        case .reload: "reload"
        case .activate: "activate"
        case .activity: "activity"
        case .subscribe: "subscribe"
        case .upgrade: "upgrade"
        }
    }
}

/// A router's report for one worker: requests and open WebSockets in flight now. Any report counts as activity.
public struct WorkerActivity: Sendable, Hashable, Codable {
    public var worker: WorkerID
    public var inFlight: Int

    public init(worker: WorkerID, inFlight: Int) {
        self.worker = worker
        self.inFlight = inFlight
    }

    enum CodingKeys: String, CodingKey {
        case worker
        case inFlight = "in_flight"
    }
}
