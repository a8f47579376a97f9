import ClusterCore

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
        public static let unknownTenant = Code(.unknownTenant)
        public static let invalidArgument = Code(rawValue: "invalid-argument")
        public static let invalidConfiguration = Code(rawValue: "invalid-configuration")
        public static let shuttingDown = Code(.shuttingDown)
        public static let internalError = Code(rawValue: "internal")
        public static let upgradeFailed = Code(rawValue: "upgrade-failed")
        // Activation: one code per kind of ``ActivationFailure`` (unknown-tenant and shutting-down above too)
        public static let startFailed = Code(.startFailed)
        public static let startTimeout = Code(.startTimedOut)
        public static let hostAtCapacity = Code(.hostAtCapacity)
        public static let tenantFailed = Code(.tenantFailed)
        public static let tenantStopped = Code(.tenantStopped)
        public static let tooManyWaiting = Code(.tooManyWaiting)

        /// The code of a kind of activation failure.
        public init(_ kind: ActivationFailure.Kind) {
            self.init(rawValue: kind.rawValue)
        }
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

extension ControlError {
    /// The reply to an activation that failed: its kind as the code, its description as the message.
    public init(_ failure: ActivationFailure) {
        let refusal = failure.refusal
        self.init(
            Code(failure.kind),
            refusal.message,
            retryAfterMilliseconds: refusal.retryAfter.map { Int($0.milliseconds) }
        )
    }
}

extension ActivationRefusal {
    /// What an error reply to `activate` means for the requests waiting on it.
    public init(_ error: ControlError) {
        self.init(
            kind: ActivationFailure.Kind(rawValue: error.code.rawValue),
            message: error.message,
            retryAfter: error.retryAfterMilliseconds.map { .milliseconds($0) }
        )
    }
}
