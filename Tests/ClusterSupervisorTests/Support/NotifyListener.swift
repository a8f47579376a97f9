import Foundation
import Glibc
import Synchronization

/// A datagram socket standing in for systemd's NOTIFY_SOCKET: records every message clusterd sends.
final class NotifyListener: @unchecked Sendable {
    let path: String
    private let fd: Int32
    private let log = MessageLog()
    private var thread: Thread?

    init(path: String) {
        self.path = path
        unlink(path)
        let socketFD = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        fd = socketFD
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(socketFD, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let log = self.log
        thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                let got = recv(socketFD, &buffer, buffer.count, 0)
                if got > 0 {
                    let text = String(decoding: buffer[0..<got], as: UTF8.self)
                    log.entries.withLock { $0.append((ContinuousClock.now, text)) }
                } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                    return
                }
            }
        }
        thread?.start()
    }

    /// Every message so far, in order.
    var all: [String] { log.entries.withLock { $0.map(\.text) } }

    /// Messages containing `fragment`, with when they arrived.
    func matching(_ fragment: String) -> [(at: ContinuousClock.Instant, text: String)] {
        log.entries.withLock { $0.filter { $0.text.contains(fragment) } }
    }

    func waitFor(_ fragment: String, count: Int = 1, timeout: Duration = .seconds(15)) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if matching(fragment).count >= count { return true }
            usleep(20_000)
        }
        return false
    }

    deinit {
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        unlink(path)
    }
}

private final class MessageLog: Sendable {
    let entries = Mutex<[(at: ContinuousClock.Instant, text: String)]>([])
}
