import ClusterControl
import Foundation
import Glibc

/// A scripted stand-in for clusterd's control socket, on its own thread: connections one after another,
/// each request line answered with what `respond` says. `hello` is answered by default.
final class FakeClusterd: @unchecked Sendable {
    enum Response {
        /// Lines, each sent with a newline.
        case lines([String])
        /// One line, a byte at a time (the client must put partial reads together).
        case trickle(String)
        /// Bytes as they are.
        case raw([UInt8])
        /// Close the connection without answering.
        case close
        /// Answer nothing and keep the connection open.
        case silence
    }

    let directory: String
    let path: String
    private let listener: Int32
    private let greeting: [String]
    private let closeAfterGreeting: Bool
    private let respond: @Sendable (ControlRequest) -> Response?
    private let lock = NSLock()
    private var received: [ControlRequest] = []
    private var thread: Thread?
    private let finished = DispatchSemaphore(value: 0)

    /// Requests received so far, hello included.
    var requests: [ControlRequest] { lock.withLock { received } }

    /// `greeting` is sent to each connection before anything is read (e.g. a refusal, then `.close`);
    /// with `closeAfterGreeting` the connection is then closed with nothing read.
    init(
        greeting: [String] = [],
        closeAfterGreeting: Bool = false,
        respond: @escaping @Sendable (ControlRequest) -> Response? = { _ in nil }
    ) throws {
        var template = Array("/tmp/clusterctl-test-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw POSIXError(.EIO) }
        directory = String(cString: made)
        path = directory + "/control.sock"
        self.greeting = greeting
        self.closeAfterGreeting = closeAfterGreeting
        self.respond = respond
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(listener, 16) == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in
            serve()
            finished.signal()
        }
        self.thread = thread
        thread.start()
    }

    /// Stops accepting and removes the socket and its directory.
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
        finished.wait()
        close(listener)
        unlink(path)
        rmdir(directory)
    }

    private func serve() {
        while true {
            let connection = accept(listener, nil, nil)
            if connection < 0 {
                if errno == EINTR { continue }
                return
            }
            handle(connection)
            close(connection)
        }
    }

    private func handle(_ connection: Int32) {
        for line in greeting { send(connection, Array((line + "\n").utf8)) }
        if closeAfterGreeting { return }
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                guard case .success(let request) = ControlCodec.parseRequest(line) else { return }
                lock.withLock { received.append(request) }
                switch respond(request) ?? Self.standard(request) {
                case .lines(let lines): send(connection, Array(lines.map { $0 + "\n" }.joined().utf8))
                case .trickle(let line):
                    for byte in Array((line + "\n").utf8) {
                        send(connection, [byte])
                        usleep(200)
                    }
                case .raw(let bytes): send(connection, bytes)
                case .close: return
                case .silence: break
                }
            }
            let count = recv(connection, &chunk, chunk.count, 0)
            guard count > 0 else { return }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    private func send(_ connection: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes {
                Glibc.send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
            }
            guard sent > 0 else { return }
            offset += sent
        }
    }

    /// `hello` gets a hello reply; anything else an `internal` error.
    static func standard(_ request: ControlRequest) -> Response {
        if case .hello = request.operation {
            return .lines([reply(request, HelloReply(version: 1, pid: 4242))])
        }
        return .lines([reply(request, error: ControlError(.internalError, "not scripted"))])
    }

    /// The reply line to `request` with `result`, without its newline.
    static func reply(_ request: ControlRequest, _ result: some JSONTextWritable) -> String {
        String(ControlCodec.reply(id: request.id, result).text.dropLast())
    }

    static func reply(_ request: ControlRequest, error: ControlError) -> String {
        String(ControlCodec.reply(id: request.id, error: error).text.dropLast())
    }
}
