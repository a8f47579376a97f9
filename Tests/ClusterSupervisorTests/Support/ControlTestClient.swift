import ClusterControl
import Glibc

/// A blocking control-channel client for tests: raw lines in, parsed lines out.
final class ControlTestClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private var nextID = 1

    /// Connects to `path`; nil when the connect fails.
    init?(path: String, timeoutSeconds: Int = 10) {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
    }

    deinit { close(fd) }

    /// Sends raw bytes.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads one line; nil on EOF or timeout.
    func readLine() -> [UInt8]? {
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let got = recv(fd, &chunk, chunk.count, 0)
            if got <= 0 { return nil }
            buffer.append(contentsOf: chunk[0..<got])
        }
    }

    func readIncoming() -> IncomingLine? {
        readLine().flatMap { IncomingLine($0) }
    }

    /// Sends a request and returns the reply with its id (events read meanwhile are handed to `onEvent`).
    func request(
        _ op: String,
        _ parameters: [String: JSONValue] = [:],
        onEvent: (ControlEvent) -> Void = { _ in }
    ) -> Result<JSONValue, ControlError>? {
        let id = nextID
        nextID += 1
        guard send(ControlRequestLine.encode(id: .number(id), op: op, parameters)) else { return nil }
        while let line = readIncoming() {
            switch line {
            case .event(let event): onEvent(event)
            case .reply(let replyID, let result) where replyID == .number(id): return result
            case .reply: continue
            }
        }
        return nil
    }

    /// hello with version 1; true when accepted.
    func hello() -> Bool {
        if case .success? = request("hello", ["versions": .array([.number(1)]), "client": .string("tests")]) {
            return true
        }
        return false
    }
}
