import Glibc
import NIOCore

/// The sender half of the sd_notify protocol: datagrams such as `READY=1` to `NOTIFY_SOCKET`.
///
/// Written with plain `socket`/`sendto` (no libsystemd). Paths starting with `@` are
/// abstract-namespace addresses, as systemd defines them.
struct SystemdNotifier: Sendable {
    /// The `NOTIFY_SOCKET` value, for messages.
    let socketName: String
    private let descriptor: CInt
    private let address: sockaddr_un
    private let addressLength: socklen_t

    /// Why `NOTIFY_SOCKET` could not be used.
    struct SetupError: Error, CustomStringConvertible {
        var description: String
    }

    /// The notifier for `NOTIFY_SOCKET`, or `nil` when the variable is unset or empty.
    static func fromEnvironment() throws(SetupError) -> SystemdNotifier? {
        guard let name = Environment.nonEmptyValue("NOTIFY_SOCKET") else { return nil }
        return try SystemdNotifier(socketName: name)
    }

    init(socketName: String) throws(SetupError) {
        guard socketName.hasPrefix("/") || socketName.hasPrefix("@") else {
            throw SetupError(description: "NOTIFY_SOCKET='\(socketName)' is neither a path nor an @abstract name")
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketName.utf8)
        let isAbstract = path.first == UInt8(ascii: "@")
        if isAbstract {
            path[0] = 0
        } else {
            path.append(0)
        }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count <= capacity else {
            throw SetupError(description: "NOTIFY_SOCKET='\(socketName)' is longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { pathBytes in
            pathBytes.copyBytes(from: path)
        }
        let descriptor = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw SetupError(
                description: "cannot create a socket for NOTIFY_SOCKET: \(String(cString: strerror(errno)))"
            )
        }
        self.socketName = socketName
        self.descriptor = descriptor
        self.address = address
        // An abstract address is exactly as long as its name; a path carries its NUL.
        self.addressLength = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count)
    }

    /// Sends `message` as one datagram. Returns an error text when the send failed.
    @discardableResult
    func send(_ message: String) -> String? {
        var address = self.address
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { addressPointer in
            addressPointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { buffer in
                    sendto(
                        self.descriptor,
                        buffer.baseAddress,
                        buffer.count,
                        CInt(MSG_NOSIGNAL),
                        socketAddress,
                        self.addressLength
                    )
                }
            }
        }
        if sent == bytes.count { return nil }
        let reason = sent < 0 ? String(cString: strerror(errno)) : "short send"
        return
            "cannot send '\(message.split(separator: "\n").first ?? "")' to NOTIFY_SOCKET=\(self.socketName): \(reason)"
    }

    /// How often to send `WATCHDOG=1`: half of `WATCHDOG_USEC`, when the watchdog is meant for
    /// this process (`WATCHDOG_PID` unset or equal to our pid). `nil` when there is no watchdog.
    static func watchdogInterval(pid: pid_t) -> TimeAmount? {
        guard let text = Environment.nonEmptyValue("WATCHDOG_USEC"),
            let microseconds = Int64(text), microseconds > 0
        else { return nil }
        if let watchdogPID = Environment.nonEmptyValue("WATCHDOG_PID"), Int32(watchdogPID) != pid {
            return nil
        }
        return .microseconds(max(microseconds / 2, 1))
    }
}
