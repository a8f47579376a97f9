import ClusterCore

/// The control protocol's wire format: one JSON object per line, UTF-8, `\n`-terminated.
public enum ControlCodec {
    /// The protocol version this build speaks.
    public static let version = 1
    public static let supportedVersions = [1]
    /// Longest line clusterd accepts from a client, newline excluded.
    public static let maximumLineLength = 1 << 20
    /// Longest line a client accepts from clusterd: a `status` or `subscribe` snapshot grows with the tenants and
    /// workers (about 150 bytes each; 10,000 tenants are over 1 MiB).
    public static let maximumReplyLineLength = 64 << 20
    /// Most workers in one `activity` request (a router with more sends several).
    public static let maximumActivityReports = 10_000
    /// Longest error message sent back; what a client sent is never echoed in full.
    public static let maximumMessageLength = 1000

    /// A request that could not be understood, with its id when that much could be read.
    public struct RequestFailure: Error, Sendable, Equatable {
        public var id: RequestID?
        public var error: ControlError
    }

    // MARK: - Requests

    public static func parseRequest(_ line: some Collection<UInt8>) -> Result<ControlRequest, RequestFailure> {
        let value: JSONValue
        do {
            value = try JSONValue(parsing: line)
        } catch {
            return .failure(
                RequestFailure(id: nil, error: ControlError(.malformed, "not valid JSON: one JSON object per line"))
            )
        }
        guard case .object(let object) = value else {
            return .failure(
                RequestFailure(
                    id: nil,
                    error: ControlError(.malformed, "a request is a JSON object, found \(value.typeName)")
                )
            )
        }
        let id: RequestID
        switch object["id"] {
        case .number?:
            guard let number = object["id"]?.integer else { return fail(nil, "\"id\" must be an integer or a string") }
            id = .number(number)
        case .string(let text)?:
            id = .string(text)
        case nil:
            return fail(nil, "missing \"id\" (an integer or a string the reply will carry)")
        case let other?:
            return fail(nil, "\"id\" must be an integer or a string, found \(other.typeName)")
        }
        guard let op = object["op"]?.string else {
            return fail(id, "missing \"op\" (the operation, e.g. \"status\")")
        }
        switch parseOperation(op, object) {
        case .success(let operation): return .success(ControlRequest(id: id, operation: operation))
        case .failure(let error): return .failure(RequestFailure(id: id, error: error))
        }
    }

    private static func fail(_ id: RequestID?, _ message: String) -> Result<ControlRequest, RequestFailure> {
        .failure(RequestFailure(id: id, error: ControlError(.badRequest, message)))
    }

    public static let operations = [
        "hello", "status", "scale", "start", "stop", "restart", "drain", "reload", "activate", "activity", "subscribe",
        "upgrade",
    ]

    private static func parseOperation(
        _ op: String,
        _ object: [String: JSONValue]
    ) -> Result<ControlOperation, ControlError> {
        func bad(_ message: String) -> Result<ControlOperation, ControlError> {
            .failure(ControlError(.badRequest, "\(op): \(message)"))
        }
        func tenant(_ required: Bool) -> Result<String?, ControlError> {
            switch object["tenant"] {
            case nil where !required, .null? where !required: return .success(nil)
            case .string(let name)? where !name.isEmpty: return .success(name)
            case nil: return .failure(ControlError(.badRequest, "\(op): missing \"tenant\""))
            case let other?:
                return .failure(
                    ControlError(.badRequest, "\(op): \"tenant\" must be a non-empty string, found \(other.typeName)")
                )
            }
        }
        func tenantOperation(_ make: (String) -> ControlOperation) -> Result<ControlOperation, ControlError> {
            tenant(true).map { make($0!) }
        }

        switch op {
        case "hello":
            if let version = object["version"]?.integer {
                return .success(.hello(versions: [version], client: object["client"]?.string))
            }
            guard case .array(let items)? = object["versions"] else {
                return bad("missing \"versions\" (the protocol versions the client speaks, e.g. [1])")
            }
            let versions = items.compactMap(\.integer)
            guard versions.count == items.count, !versions.isEmpty else {
                return bad("\"versions\" must be a non-empty array of integers")
            }
            return .success(.hello(versions: versions, client: object["client"]?.string))
        case "status":
            return tenant(false).map { .status(tenant: $0) }
        case "scale":
            guard case .object(let counts)? = object["tenants"], !counts.isEmpty else {
                return bad("\"tenants\" must be a non-empty object of worker counts, e.g. {\"acme\": 4}")
            }
            var scales: [String: Int] = [:]
            for (name, value) in counts {
                guard let count = value.integer, count >= 0 else {
                    return bad("the count for \(quoted(name)) must be an integer ≥ 0, found \(value.typeName)")
                }
                scales[name] = count
            }
            return .success(.scale(scales))
        case "start": return tenantOperation { .start(tenant: $0) }
        case "stop": return tenantOperation { .stop(tenant: $0) }
        case "restart": return tenantOperation { .restart(tenant: $0) }
        case "drain": return tenantOperation { .drain(tenant: $0) }
        case "reload": return .success(.reload)
        case "subscribe": return .success(.subscribe)
        case "upgrade": return .success(.upgrade)
        case "activate":
            let additional: Bool
            switch object["additional"] {
            case nil, .null?: additional = false
            case .bool(let value)?: additional = value
            case let other?: return bad("\"additional\" must be a boolean, found \(other.typeName)")
            }
            return tenant(true).map { .activate(tenant: $0!, additional: additional) }
        case "activity":
            guard case .array(let items)? = object["workers"] else {
                return bad("\"workers\" must be an array of {\"worker\": \"acme#1\", \"in_flight\": 0}")
            }
            guard items.count <= maximumActivityReports else {
                return bad("at most \(maximumActivityReports) workers per report")
            }
            var reports: [WorkerActivity] = []
            for item in items {
                guard let worker = item["worker"]?.string.flatMap(WorkerID.init(parsing:)),
                    let inFlight = item["in_flight"]?.integer, inFlight >= 0
                else {
                    return bad("each entry must be {\"worker\": \"tenant#serial\", \"in_flight\": integer ≥ 0}")
                }
                reports.append(WorkerActivity(worker: worker, inFlight: inFlight))
            }
            return .success(.activity(reports))
        default:
            return .failure(
                ControlError(
                    .unknownOperation,
                    "unknown op \(quoted(op)); known: \(operations.joined(separator: ", "))"
                )
            )
        }
    }

    // MARK: - Lines out

    // Every line is written by JSONTextWriter: keys sorted, nil members left out, the bytes JSONEncoder would
    // write for the same Codable value (tests hold the two together), at a tenth of its cost.

    /// `{"id":…,"result":…}\n`; `"id":null` when the id is unknown.
    public static func reply(id: RequestID?, _ result: some JSONTextWritable) -> [UInt8] {
        line { object in
            if let id { object.member("id", id) } else { object.member("id", JSONValue.null) }
            object.member("result", result)
        }
    }

    /// `{"error":{…},"id":…}\n`; the message is cut at ``maximumMessageLength``.
    public static func reply(id: RequestID?, error: ControlError) -> [UInt8] {
        var error = error
        if error.message.count > maximumMessageLength {
            error.message = String(error.message.prefix(maximumMessageLength)) + "…"
        }
        return line { object in
            object.member("error", error)
            if let id { object.member("id", id) } else { object.member("id", JSONValue.null) }
        }
    }

    /// `{"event":…}\n`
    public static func event(_ event: ControlEvent) -> [UInt8] {
        var json = JSONTextWriter(pretty: false)
        json.write(event)
        json.bytes.append(UInt8(ascii: "\n"))
        return json.bytes
    }

    /// `{"id":1,"op":"status","tenant":"acme"}\n`: a request as a client sends it.
    public static func request(_ request: ControlRequest) -> [UInt8] {
        var json = JSONTextWriter(pretty: false)
        json.write(request)
        json.bytes.append(UInt8(ascii: "\n"))
        return json.bytes
    }

    /// `"text"`, shortened to `limit` characters: for names a client sent, quoted back in messages.
    public static func quoted(_ text: String, limit: Int = 80) -> String {
        text.count <= limit ? "\"\(text)\"" : "\"\(text.prefix(limit))…\""
    }

    private static func line(_ members: (inout JSONTextWriter) -> Void) -> [UInt8] {
        var json = JSONTextWriter(pretty: false)
        json.object(members)
        json.bytes.append(UInt8(ascii: "\n"))
        return json.bytes
    }
}
