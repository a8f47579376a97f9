import ClusterCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads tenants.conf (TOML) into a validated ``ClusterConfiguration``, with `FILE:LINE` for every problem.
///
/// Nothing is half-applied: a file either yields a whole configuration or a ``TenantsFileError`` listing every
/// issue found (one for an unreadable file or a TOML syntax error, all of them for invalid settings).
public enum TenantsFile {
    /// Reads and validates the file at `path`; relative paths inside resolve against the file's directory.
    ///
    /// Errors name the file as `path` was given.
    public static func load(path: String) -> Result<ClusterConfiguration, TenantsFileError> {
        let bytes: [UInt8]
        switch readFile(path) {
        case .success(let contents): bytes = contents
        case .failure(let error):
            return .failure(unreadable(path, "cannot read: \(error.reason)"))
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return .failure(unreadable(path, "cannot read: not UTF-8 text", line: firstInvalidUTF8Line(bytes)))
        }
        return parse(text, fileName: path, baseDirectory: directory(of: path))
    }

    /// Parses `text` as if read from `fileName`; relative paths resolve against `baseDirectory`.
    ///
    /// With a nil `baseDirectory`, relative paths stay relative (to the process's working directory).
    public static func parse(
        _ text: String,
        fileName: String,
        baseDirectory: String?
    ) -> Result<ClusterConfiguration, TenantsFileError> {
        let document: [String: ConfigValue]
        switch TOMLDocument.parse(text) {
        case .success(let parsed): document = parsed
        case .failure(let error):
            let issue = ConfigurationIssue(keyPath: "", message: error.message, line: error.line)
            return .failure(TenantsFileError(code: .syntax, fileName: fileName, issues: [issue]))
        }
        switch ConfigurationDecoder(baseDirectory: baseDirectory).decode(document) {
        case .success(let configuration):
            return .success(configuration)
        case .failure(let invalid):
            let locations = KeyLocations(scanning: text)
            let located = invalid.issues.map { issue in
                var issue = issue
                issue.line = issue.line ?? line(of: issue.keyPath, in: locations)
                return issue
            }
            // In file order, like a compiler's; issues with no line (host-wide) keep their order at the end.
            let issues = located.enumerated().sorted { a, b in
                (a.element.line ?? .max, a.offset) < (b.element.line ?? .max, b.offset)
            }.map(\.element)
            return .failure(TenantsFileError(code: .invalid, fileName: fileName, issues: issues))
        }
    }

    /// Where an issue's key is: its own line; for a tenant key inherited from `[defaults]`, the line there; for
    /// any other tenant key, its tenant's table. Host-wide issues (`cluster.…`) have only their own line.
    private static func line(of keyPath: String, in locations: KeyLocations) -> Int? {
        if let line = locations.exactLine(for: keyPath) { return line }
        let parts = keyPath.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == "tenant" else { return nil }
        return locations.exactLine(for: "defaults.\(parts[2])") ?? locations.line(for: keyPath)
    }

    private static func unreadable(_ fileName: String, _ message: String, line: Int? = nil) -> TenantsFileError {
        TenantsFileError(
            code: .unreadable,
            fileName: fileName,
            issues: [ConfigurationIssue(keyPath: "", message: message, line: line)]
        )
    }

    /// A failed system call, by the OS's words for its `errno`.
    private struct SystemError: Error {
        var reason: String

        init(errno code: Int32) {
            reason = String(cString: strerror(code))
        }
    }

    /// The file's bytes, or why they could not be read.
    private static func readFile(_ path: String) -> Result<[UInt8], SystemError> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(SystemError(errno: errno)) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(SystemError(errno: errno))
            }
            if count == 0 { return .success(contents) }
            contents.append(contentsOf: buffer[..<count])
        }
    }

    /// The 1-based line holding the first byte that is not valid UTF-8.
    private static func firstInvalidUTF8Line(_ bytes: [UInt8]) -> Int? {
        var iterator = bytes.makeIterator()
        var parser = Unicode.UTF8.ForwardParser()
        var line = 1
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): if scalar.count == 1, scalar.first == UInt8(ascii: "\n") { line += 1 }
            case .error: return line
            case .emptyInput: return nil
            }
        }
    }

    /// The absolute directory holding `path`.
    private static func directory(of path: String) -> String {
        var absolute = path
        if !path.hasPrefix("/"), let cwd = getcwd(nil, 0) {
            absolute = String(cString: cwd) + "/" + (path.hasPrefix("./") ? String(path.dropFirst(2)) : path)
            free(cwd)
        }
        guard let slash = absolute.lastIndex(of: "/") else { return "." }
        return slash == absolute.startIndex ? "/" : String(absolute[..<slash])
    }
}
