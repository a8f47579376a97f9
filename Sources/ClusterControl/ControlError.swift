/// An error reply: `{"id": 7, "error": {"code": "unknown-tenant", "message": "no tenant named \"acme\""}}`.
public struct ControlError: Error, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Stable, machine-readable; new codes may be added in a version.
    public struct Code: ProtocolName {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        // The request itself
        public static let malformed = Code(rawValue: "malformed")
        public static let badRequest = Code(rawValue: "bad-request")
        public static let unknownOperation = Code(rawValue: "unknown-operation")
        public static let lineTooLong = Code(rawValue: "line-too-long")
        public static let helloRequired = Code(rawValue: "hello-required")
        public static let unsupportedVersion = Code(rawValue: "unsupported-version")
        // The connection
        public static let permissionDenied = Code(rawValue: "permission-denied")
        public static let tooManyConnections = Code(rawValue: "too-many-connections")
        public static let slowSubscriber = Code(rawValue: "slow-subscriber")
        // Operations
        public static let unknownTenant = Code(rawValue: "unknown-tenant")
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        public static let invalidConfiguration = Code(rawValue: "invalid-configuration")
        public static let shuttingDown = Code(rawValue: "shutting-down")
        public static let internalError = Code(rawValue: "internal")
        public static let upgradeFailed = Code(rawValue: "upgrade-failed")
        // Activation
        public static let startFailed = Code(rawValue: "start-failed")
        public static let startTimeout = Code(rawValue: "start-timeout")
        public static let hostAtCapacity = Code(rawValue: "host-at-capacity")
        public static let tenantFailed = Code(rawValue: "tenant-failed")
        public static let tenantStopped = Code(rawValue: "tenant-stopped")
        public static let tooManyWaiting = Code(rawValue: "too-many-waiting")
    }

    public var code: Code
    public var message: String
    /// Extra lines, e.g. every error of a rejected reload.
    public var details: [String]?
    /// For `tenant-failed`: when starts are allowed again.
    public var retryAfterMilliseconds: Int?

    public init(_ code: Code, _ message: String, details: [String]? = nil, retryAfterMilliseconds: Int? = nil) {
        self.code = code
        self.message = message
        self.details = details
        self.retryAfterMilliseconds = retryAfterMilliseconds
    }

    enum CodingKeys: String, CodingKey {
        case code
        case message
        case details
        case retryAfterMilliseconds = "retry_after_ms"
    }

    public var description: String { message }
}
