import ClusterCore
import Glibc

/// HAProxy's runtime API on its stats socket (`stats socket PATH level admin`) or its master CLI (`-S PATH`),
/// one command per connection, as HAProxy's non-interactive mode has it: connect, send the command and a newline,
/// read the answer until HAProxy closes. Every step ends at the timeout.
public struct HAProxyRuntimeSocket: Sendable {
    public let path: String
    public let timeout: Duration

    public init(path: String, timeout: Duration = .seconds(5)) {
        self.path = path
        self.timeout = timeout
    }

    /// Why HAProxy could not be asked: the socket is missing, refuses, or does not answer in time.
    public struct Failure: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "HAProxy's runtime API at \(path): \(reason)" }
    }

    /// The answer to `command` (several commands may be joined with `;`), as text.
    public func send(_ command: String) throws(Failure) -> String {
        let fd = try connect()
        defer { close(fd) }
        let deadline = ContinuousClock.now + timeout
        var bytes = Array(command.utf8)
        bytes.append(UInt8(ascii: "\n"))
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent > 0 {
                offset += sent
            } else if sent < 0, errno == EINTR {
                continue
            } else if sent < 0, errno == EAGAIN {
                try wait(fd, for: Int16(POLLOUT), until: deadline)
            } else {
                throw failure("send(): \(String(cString: strerror(errno)))")
            }
        }
        // The master CLI answers and closes only once the client has finished sending; the stats socket does
        // either way.
        shutdown(fd, Int32(SHUT_WR))
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got > 0 {
                answer.append(contentsOf: chunk[..<got])
            } else if got == 0 {
                return String(decoding: answer, as: UTF8.self)
            } else if errno == EINTR {
                continue
            } else if errno == EAGAIN {
                try wait(fd, for: Int16(POLLIN), until: deadline)
            } else {
                throw failure("recv(): \(String(cString: strerror(errno)))")
            }
        }
    }

    private func connect() throws(Failure) -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: address.sun_path), !bytes.contains(0) else {
            throw failure("not a usable socket path")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(
            AF_UNIX,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
            0
        )
        guard fd >= 0 else { throw failure("socket(): \(String(cString: strerror(errno)))") }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if connected != 0 {
            let code = errno
            close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw failure(
                    "\(String(cString: strerror(code))) (is HAProxy running with `stats socket \(path) level admin`?)"
                )
            case EACCES:
                throw failure("\(String(cString: strerror(code))) (the adapter needs read and write on the socket)")
            default:
                throw failure(String(cString: strerror(code)))
            }
        }
        return fd
    }

    private func wait(_ fd: Int32, for events: Int16, until deadline: ContinuousClock.Instant) throws(Failure) {
        while true {
            let left = deadline - .now
            guard left > .zero else { throw failure("no answer within \(timeout.formattedBriefly)") }
            var entry = pollfd(fd: fd, events: events, revents: 0)
            let ready = poll(&entry, 1, Int32(clamping: left.milliseconds + 1))
            if ready > 0 { return }
            if ready < 0, errno != EINTR { throw failure("poll(): \(String(cString: strerror(errno)))") }
        }
    }

    private func failure(_ reason: String) -> Failure {
        Failure(path: path, reason: reason)
    }
}
