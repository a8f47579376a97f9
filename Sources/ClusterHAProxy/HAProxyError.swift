/// Why the adapter cannot describe the cluster to HAProxy: a name or a setting HAProxy would misread, or a
/// `show stat` answer that is not the CSV it should be.
public struct HAProxyError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of problem; open to new values.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// A tenant name holds a character HAProxy does not allow in a backend name.
        public static let unsafeTenantName = Code(rawValue: "unsafe-tenant-name")
        /// A host cannot be a key of the host map file.
        public static let unsafeHost = Code(rawValue: "unsafe-host")
        /// A setting would break the generated haproxy.cfg (whitespace in a path, an empty key…).
        public static let unsafeSetting = Code(rawValue: "unsafe-setting")
        /// A `show stat` answer without the header row or its columns.
        public static let unreadableStatistics = Code(rawValue: "unreadable-statistics")

        public var description: String { rawValue }
    }

    public var code: Code
    /// What was wrong and what to do, for a person.
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
