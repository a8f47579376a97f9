/// A worker's identity: its tenant and a per-tenant serial number, written `acme#3`.
///
/// Serials only grow, so an id is never reused for a different process while clusterd runs.
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

    public static func < (lhs: WorkerID, rhs: WorkerID) -> Bool {
        (lhs.tenant, lhs.serial) < (rhs.tenant, rhs.serial)
    }

    public var description: String { "\(tenant)#\(serial)" }
}
