import Foundation
import Glibc
import Synchronization
import Testing

/// The built `demo-worker`, started on a free port for one test and killed after it.
final class DemoWorkerProcess: @unchecked Sendable {
    let port: Int
    private let process: Process

    static var binary: String? {
        var directory = Substring(#filePath)
        while let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            directory = directory[..<slash]
            let candidate = "\(directory)/.build/debug/demo-worker"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Starts demo-worker and waits until it accepts connections.
    init() throws {
        let binary = try #require(Self.binary, "build the package first: swift build")
        self.port = try FreePort.take()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--threads", "1"]
        var environment = ProcessInfo.processInfo.environment
        environment["PORT"] = String(self.port)
        environment["CLUSTERD_TENANT"] = "app"
        environment["CLUSTERD_WORKER"] = "app#1"
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = process
        for _ in 0..<200 {
            if FreePort.accepts(self.port) { return }
            usleep(20_000)
        }
        self.stop()
        throw RawHTTPClient.Failure(description: "demo-worker did not start listening on \(self.port)")
    }

    /// Kills the worker and reaps it.
    func stop() {
        if self.process.isRunning {
            kill(self.process.processIdentifier, SIGKILL)
        }
        self.process.waitUntilExit()
    }

    deinit {
        self.stop()
    }
}

/// Ports on 127.0.0.1 for backends, and ports that must stay closed.
///
/// Taken in turn from 5000-9999: below the kernel's ephemeral range (32768 up), where every listener bound to
/// port 0 and every outgoing connection of the tests running alongside gets its port, and below the supervisor
/// tests' worker ports (`PortBlocks`, 10000 up). A port given out as closed so stays closed: nothing else binds
/// there (a port bound to 0 and released could be handed to another test's listener a moment later).
enum FreePort {
    /// Starting at an offset of this process's own, so that two test runs at once rarely take the same ports.
    private static let next = Atomic<Int>(Int(getpid()) * 37)
    private static let range = 5000...9999

    /// A port nothing listens on now, and that no other caller of `take()` in this process gets.
    static func take() throws -> Int {
        for _ in range {
            let port = range.lowerBound + next.wrappingAdd(1, ordering: .relaxed).oldValue % range.count
            if isFree(port) { return port }
        }
        throw RawHTTPClient.Failure(description: "no free port in \(range)")
    }

    /// Whether `port` can be bound (nothing listens on it, nor holds it).
    private static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var reuse: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<CInt>.size))
        var address = Self.loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// Whether something accepts TCP connections on `port`.
    static func accepts(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = Self.loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
