import NIOCore
import NIOHTTP1

/// A response the proxy writes itself (refusals, limits, worker failures): `text/plain`, one line of reason.
struct LocalResponse {
    var status: HTTPResponseStatus
    var reason: String
    var retryAfterSeconds: Int?

    init(status: HTTPResponseStatus, reason: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.reason = reason
        self.retryAfterSeconds = retryAfterSeconds
    }

    init(_ refusal: RouterRefusal) {
        self.init(status: refusal.status, reason: refusal.reason, retryAfterSeconds: refusal.retryAfterSeconds)
    }

    init(_ rejection: RequestRejection) {
        self.init(status: rejection.status, reason: rejection.reason)
    }

    /// The head, with `Content-Length` and `Connection: close` when `close`.
    func head(close: Bool, clientVersion: HTTPVersion, bodyLength: Int) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(bodyLength))
        if let retryAfterSeconds {
            headers.add(name: "retry-after", value: String(retryAfterSeconds))
        }
        if close {
            headers.add(name: "connection", value: "close")
        } else if clientVersion.major == 1 && clientVersion.minor == 0 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: .http1_1, status: self.status, headers: headers)
    }

    /// The body: the reason and a newline.
    func body(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: self.reason.utf8.count + 1)
        buffer.writeString(self.reason)
        buffer.writeInteger(UInt8(ascii: "\n"))
        return buffer
    }

    /// The bytes of a complete `503` that closes the connection, for connections over the limit (written before any
    /// HTTP handler exists).
    static func overCapacityBytes(allocator: ByteBufferAllocator) -> ByteBuffer {
        let body = "too many connections to the router; retry shortly\n"
        var buffer = allocator.buffer(capacity: 160)
        buffer.writeString(
            "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
                + "content-length: \(body.utf8.count)\r\nretry-after: 1\r\nconnection: close\r\n\r\n\(body)"
        )
        return buffer
    }
}
