import ClusterCore

/// Why a tenants.conf could not be used: unreadable, not valid TOML, or not a valid configuration.
///
/// Every issue found is listed, each located by line where the file reader could find one.
public struct TenantsFileError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure; compare with the static members (`error.code == .syntax`).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case unreadable
            case syntax
            case invalid
        }

        private var base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The file could not be read: missing, a directory, no permission, or not UTF-8 text.
        public static let unreadable = Code(.unreadable)
        /// The file is not valid TOML; the one issue names the line of the first syntax error.
        public static let syntax = Code(.syntax)
        /// The file is valid TOML but not a valid configuration; every problem is listed.
        public static let invalid = Code(.invalid)

        public var description: String {
            switch base {
            case .unreadable: "unreadable"
            case .syntax: "syntax"
            case .invalid: "invalid"
            }
        }
    }

    public var code: Code
    /// The file as named by the caller, used as the prefix of every line of ``description``.
    public var fileName: String
    /// What is wrong; a syntax error or an unreadable file is one issue with an empty key path.
    public var issues: [ConfigurationIssue]

    public init(code: Code, fileName: String, issues: [ConfigurationIssue]) {
        self.code = code
        self.fileName = fileName
        self.issues = issues
    }

    /// One line per issue: `FILE:LINE: key.path: message`, or `FILE: key.path: message` when the line is unknown.
    public var description: String {
        issues.map { issue in
            let location = issue.line.map { "\(fileName):\($0)" } ?? fileName
            return "\(location): \(issue)"
        }.joined(separator: "\n")
    }
}
