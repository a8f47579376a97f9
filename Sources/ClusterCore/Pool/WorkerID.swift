/// A worker's identity: its tenant and a per-tenant serial number, written `acme#3`.
///
/// Serials only grow, so an id is never reused for a different process while clusterd runs. Coded as its text,
/// `"acme#3"`, as the control protocol carries it.
public struct WorkerID: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var tenant: String
    public var serial: Int

    public init(tenant: String, serial: Int) {
        self.tenant = tenant
        self.serial = serial
    }

    /// Parses `tenant#serial`; nil when malformed.
    public init?(parsing text: String) {
        guard let hash = text.lastIndex(of: "#"), let serial = Int(text[text.index(after: hash)...]), serial > 0
        else { return nil }
        let tenant = String(text[..<hash])
        guard !tenant.isEmpty else { return nil }
        self.init(tenant: tenant, serial: serial)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let id = WorkerID(parsing: text) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "a worker id is tenant#serial (e.g. \"acme#3\"), found \"\(text.prefix(80))\""
            )
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    public static func < (lhs: WorkerID, rhs: WorkerID) -> Bool {
        (lhs.tenant, lhs.serial) < (rhs.tenant, rhs.serial)
    }

    public var description: String { "\(tenant)#\(serial)" }
}

extension WorkerID: ExpressibleByStringLiteral {
    /// `"acme#3"` in code; a literal that is not `tenant#serial` is a programming error.
    public init(stringLiteral text: String) {
        guard let id = WorkerID(parsing: text) else { preconditionFailure("not a worker id (tenant#serial): \(text)") }
        self = id
    }
}
