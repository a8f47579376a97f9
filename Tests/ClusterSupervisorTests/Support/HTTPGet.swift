import Foundation
import Glibc

/// A minimal blocking HTTP/1.1 GET over loopback, enough to see that a worker answers.
struct HTTPResponse {
    var status: Int
    var body: String
    /// Header names lower-cased.
    var headers: [String: String] = [:]
    /// `name=value` of every Set-Cookie.
    var setCookies: [String] = []
}

enum HTTPGet {
    /// A blocking TCP connection to 127.0.0.1:port with send and receive timeouts; nil when refused.
    static func connect(port: Int, timeoutSeconds: Int = 5) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(UInt32(0x7F00_0001).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    static func get(
        port: Int,
        path: String = "/",
        host: String = "test",
        headers: [String] = [],
        timeoutSeconds: Int = 5
    ) -> HTTPResponse? {
        let extra = headers.map { $0 + "\r\n" }.joined()
        return exchange(
            port: port,
            request: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\n\(extra)Connection: close\r\n\r\n",
            timeoutSeconds: timeoutSeconds
        )
    }

    /// Sends `request` as is, reads until the server closes (or the timeout), parses the first response.
    static func exchange(port: Int, request: String, timeoutSeconds: Int = 5) -> HTTPResponse? {
        guard let fd = connect(port: port, timeoutSeconds: timeoutSeconds) else { return nil }
        defer { close(fd) }
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = recv(fd, &buffer, buffer.count, 0)
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[0..<got])
        }
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n"), text.hasPrefix("HTTP/1.") else { return nil }
        let lines = text[..<headerEnd.lowerBound].split(separator: "\r\n")
        let parts = (lines.first ?? "").split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var headers: [String: String] = [:]
        var setCookies: [String] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = value
            if name == "set-cookie" { setCookies.append(String(value.prefix { $0 != ";" })) }
        }
        return HTTPResponse(
            status: status,
            body: String(text[headerEnd.upperBound...]),
            headers: headers,
            setCookies: setCookies
        )
    }
}
