/// An error of the supervisor's own machinery (not of a worker).
public struct SupervisorError: Error, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public static let notifySocket = Code(rawValue: "notify-socket")
        public static let reactor = Code(rawValue: "reactor")
        public static let listen = Code(rawValue: "listen")
        public static let router = Code(rawValue: "router")
        public static let socketActivation = Code(rawValue: "socket-activation")
        public static let upgrade = Code(rawValue: "upgrade")
        public var description: String { rawValue }
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
