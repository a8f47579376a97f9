/// One thing wrong with a configuration, located by its key path (`tenant.acme.max_workers`).
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    /// Dotted key path; empty for the document as a whole.
    public var keyPath: String
    public var message: String
    /// 1-based line in the file, when the file reader could locate the key.
    public var line: Int?

    public init(keyPath: String, message: String, line: Int? = nil) {
        self.keyPath = keyPath
        self.message = message
        self.line = line
    }

    /// `tenant.acme.max_workers: must be ≥ min_workers (2)`
    public var description: String { keyPath.isEmpty ? message : "\(keyPath): \(message)" }
}
