import Glibc

/// The adapter's files in its directory: haproxy.cfg, the host map, the servers' saved state and the
/// dynamic-cookie key. Each is replaced whole (written beside, synced, renamed), so HAProxy never reads half of one.
public struct HAProxyFiles: Sendable {
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    /// What HAProxy is started with: `haproxy -W -S MASTER_SOCKET -f CONFIGURATION`.
    public var configuration: String { directory + "/haproxy.cfg" }
    public var hostMap: String { directory + "/hosts.map" }
    public var serverState: String { directory + "/servers.state" }
    public var cookieKey: String { directory + "/cookie.key" }

    /// Why a file could not be read or written.
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Creates the directory (mode 0755) when it is missing.
    public func prepare() throws(Failure) {
        if mkdir(directory, 0o755) != 0 && errno != EEXIST {
            throw Failure(path: directory, reason: "cannot create it: \(Self.errnoText())")
        }
    }

    /// The key sticky cookies are hashed with: read from ``cookieKey``, or made once (128 random bits, hex) and
    /// kept there, so that sessions stay on their workers across adapter and HAProxy restarts.
    public func dynamicCookieKey() throws(Failure) -> String {
        if let text = Self.read(cookieKey) {
            let key = String(text.filter { !$0.isWhitespace })
            if !key.isEmpty && key.allSatisfy({ $0.isHexDigit }) { return key }
            throw Failure(path: cookieKey, reason: "not a hex key; delete it to have a new one made")
        }
        // SystemRandomNumberGenerator is the kernel's getrandom(2) on Linux.
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let key = bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        try replace(cookieKey, with: key + "\n", mode: 0o600)
        return key
    }

    /// The whole text of `path`, or nil when it cannot be read.
    public static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if got > 0 {
                bytes += chunk[..<got]
            } else if got == 0 {
                return String(decoding: bytes, as: UTF8.self)
            } else if errno != EINTR {
                return nil
            }
        }
    }

    /// Replaces `path` with `text`: written to `path.tmp`, synced, renamed over it.
    public func replace(_ path: String, with text: String, mode: mode_t = 0o644) throws(Failure) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw Failure(path: temporary, reason: "cannot write it: \(Self.errnoText())") }
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                let reason = Self.errnoText()
                close(fd)
                unlink(temporary)
                throw Failure(path: temporary, reason: "write(): \(reason)")
            }
        }
        let synced = fsync(fd) == 0
        close(fd)
        guard synced, rename(temporary, path) == 0 else {
            let reason = Self.errnoText()
            unlink(temporary)
            throw Failure(path: path, reason: "cannot replace it: \(reason)")
        }
    }

    /// A server state file that lists no server: version 1 and nothing else. HAProxy loads it silently (a
    /// missing or empty one is a warning at every start).
    public static let noServerState = "1\n"

    /// Empties ``serverState``: a later cold start of HAProxy must not load ports long since reused.
    public func clearServerState() throws(Failure) {
        try replace(serverState, with: Self.noServerState)
    }

    private static func errnoText() -> String { String(cString: strerror(errno)) }
}
