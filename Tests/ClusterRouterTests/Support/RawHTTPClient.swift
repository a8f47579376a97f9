import Glibc

/// A blocking HTTP/1.1 client on a plain socket, for byte-exact requests and for reading responses exactly as
/// they came (status, headers, body, and whether the connection was then closed).
final class RawHTTPClient {
    struct Response: CustomStringConvertible {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            self.headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }

        func headers(_ name: String) -> [String] {
            self.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
        }

        var text: String { String(decoding: self.body, as: UTF8.self) }

        var description: String {
            "\(self.status) \(self.headers.map { "\($0.name): \($0.value)" }) \(self.text.prefix(200))"
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let descriptor: CInt
    private var buffer: [UInt8] = []
    private(set) var peerClosed = false

    /// Connects to 127.0.0.1:`port`; reads give up after `timeoutSeconds`.
    init(port: Int, timeoutSeconds: Int = 15) throws {
        self.descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        guard self.descriptor >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(self.descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            let code = errno
            Glibc.close(self.descriptor)
            throw Failure(description: "connect to \(port): errno \(code)")
        }
        self.setTimeout(seconds: timeoutSeconds)
    }

    deinit {
        Glibc.close(self.descriptor)
    }

    func setTimeout(seconds: Int, microseconds: Int = 0) {
        var timeout = timeval(tv_sec: seconds, tv_usec: microseconds)
        setsockopt(self.descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ text: String) throws {
        try self.send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(self.descriptor, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL))
            }
            guard sent > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += sent
        }
    }

    /// Half-closes the sending side.
    func shutdownWrite() {
        shutdown(self.descriptor, CInt(SHUT_WR))
    }

    /// Reads more bytes into the buffer; false on EOF or error (timeouts throw).
    @discardableResult
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            self.buffer.append(contentsOf: chunk[0..<count])
            return true
        }
        if count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
            throw Failure(description: "timed out waiting for the proxy (have \(self.buffer.count) bytes)")
        }
        self.peerClosed = true
        return false
    }

    private func readLine() throws -> String {
        while true {
            if let index = self.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(self.buffer[..<index])
                self.buffer.removeFirst(index + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard try self.fill() else { throw Failure(description: "connection closed mid-line") }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while self.buffer.count < count {
            guard try self.fill() else { throw Failure(description: "connection closed after \(self.buffer.count)") }
        }
        let result = Array(self.buffer[..<count])
        self.buffer.removeFirst(count)
        return result
    }

    /// Reads one response (a `1xx` is a response too). `forHead`: no body follows.
    func readResponse(forHead: Bool = false) throws -> Response {
        let statusLine = try self.readLine()
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw Failure(description: "bad status line '\(statusLine)'")
        }
        var headers: [(name: String, value: String)] = []
        while true {
            let line = try self.readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { throw Failure(description: "bad header '\(line)'") }
            headers.append(
                (String(line[..<colon]), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
            )
        }
        var response = Response(status: status, headers: headers, body: [])
        if forHead || status < 200 || status == 204 || status == 304 { return response }
        if let length = response.header("content-length").flatMap(Int.init) {
            response.body = try self.readExactly(length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = try self.readLine()
                guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                    throw Failure(description: "bad chunk size '\(sizeLine)'")
                }
                if size == 0 {
                    while try !self.readLine().isEmpty {}
                    break
                }
                response.body += try self.readExactly(size)
                _ = try self.readLine()
            }
        } else {
            while try self.fill() {}
            response.body = self.buffer
            self.buffer = []
        }
        return response
    }

    /// Sends `request` and reads the final response, skipping interim `1xx` (not `101`).
    func exchange(_ request: String) throws -> Response {
        try self.send(request)
        var response = try self.readResponse()
        while response.status < 200 && response.status != 101 { response = try self.readResponse() }
        return response
    }

    /// Whatever bytes are buffered or arrive next (tunnels).
    func readRaw() throws -> [UInt8] {
        if self.buffer.isEmpty {
            guard try self.fill() else { throw Failure(description: "connection closed") }
        }
        defer { self.buffer = [] }
        return self.buffer
    }

    /// Whether the proxy closes the connection within `seconds` (data before the close is dropped).
    func waitForClose(seconds: Int) -> Bool {
        self.setTimeout(seconds: seconds)
        do {
            while try self.fill() {}
            return true
        } catch {
            return self.peerClosed
        }
    }

    /// A plain GET with `Host`.
    static func get(_ path: String, host: String = "app.test", extraHeaders: String = "") -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extraHeaders)\r\n"
    }
}
