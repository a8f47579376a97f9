import ClusterControl
import Foundation
import Glibc

/// A real `clusterd start --no-router` in a temporary directory, for end-to-end tests.
final class ClusterdProcess {
    let directory: String
    let configPath: String
    let socketPath: String
    let logPath: String
    let process = Process()

    /// `tenants` is TOML for the [defaults]/[tenant.*] tables; [cluster] is written here.
    init(tenants: String, maxWorkers: Int = 64, extraCluster: String = "") throws {
        directory = Paths.temporaryDirectory("clusterd")
        chmod(directory, 0o755)
        configPath = directory + "/tenants.conf"
        socketPath = directory + "/control.sock"
        logPath = directory + "/clusterd.log"
        let ports = PortBlocks.take()
        let config = """
            [cluster]
            control_socket = "\(socketPath)"
            state_dir = "\(directory)/state"
            ports = "\(ports)"
            max_workers = \(maxWorkers)
            domain = "example.test"
            \(extraCluster)

            \(tenants)
            """
        try config.write(toFile: configPath, atomically: true, encoding: .utf8)
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Paths.clusterd)
        process.arguments = ["start", "--tenants", configPath, "--no-router"]
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardOutput = logFile
        process.standardError = logFile
        try process.run()
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let client = ControlTestClient(path: socketPath), client.hello() { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw ClusterdFailed(what: "clusterd did not serve \(socketPath)", log: self.log())
    }

    var pid: Int32 { process.processIdentifier }

    /// A connected client that has said hello.
    func client() throws -> ControlTestClient {
        guard let client = ControlTestClient(path: socketPath), client.hello() else {
            throw ClusterdFailed(what: "cannot talk to clusterd", log: log())
        }
        return client
    }

    func snapshot(_ client: ControlTestClient? = nil) throws -> ClusterSnapshot {
        let client = try client ?? self.client()
        guard case .success(let value)? = client.request("status") else {
            throw ClusterdFailed(what: "status failed", log: log())
        }
        return try value.decode(as: ClusterSnapshot.self)
    }

    /// Rewrites the tenants part of the file (for reload tests).
    func rewrite(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    func log() -> String {
        (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    }

    /// Open fds of clusterd itself.
    func openFDs() -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// clusterd's children that exited and were not reaped.
    func zombieChildren() -> [Int32] {
        ProcessTable.children(of: pid).filter { $0.state == "Z" }.map(\.pid)
    }

    /// SIGTERM and wait (SIGKILL after `timeout`); returns the exit status.
    @discardableResult
    func stop(timeout: Duration = .seconds(20)) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit { stop() }
}

struct ClusterdFailed: Error, CustomStringConvertible {
    var what: String
    var log: String
    var description: String { "\(what)\n--- clusterd log ---\n\(log)" }
}
