import ClusterControl
import Foundation
import Glibc

/// A real `clusterd start --no-router` in a temporary directory, for end-to-end tests.
final class ClusterdProcess {
    let directory: String
    let configPath: String
    let socketPath: String
    let logPath: String
    private(set) var process: Spawned!

    /// The router's port, when started with `router: true`.
    private(set) var routerPort: Int?

    /// `tenants` is TOML for the [defaults]/[tenant.*] tables; [cluster] is written here. With `router`, clusterd
    /// runs its router on 127.0.0.1 on a free port (``routerPort``); `routerArguments` go to `clusterd start`.
    /// `launcher` runs before clusterd (e.g. a socket-activation wrapper ending in `--`); `environment` is added to
    /// clusterd's. A socket-activated router's port is the caller's to know.
    init(
        tenants: String,
        maxWorkers: Int = 64,
        extraCluster: String = "",
        router: Bool = false,
        routerArguments: [String] = [],
        launcher: [String] = [],
        environment: [String: String] = [:],
        socketPath: String? = nil,
        executable: String = Paths.clusterd
    ) throws {
        directory = Paths.temporaryDirectory("clusterd")
        chmod(directory, 0o755)
        configPath = directory + "/tenants.conf"
        self.socketPath = socketPath ?? directory + "/control.sock"
        let socketPath = self.socketPath
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
        let clusterdArguments =
            ["start", "--tenants", configPath]
            + (router ? (launcher.isEmpty ? ["--listen", "127.0.0.1:0"] : []) + routerArguments : ["--no-router"])
        let arguments =
            launcher.isEmpty ? [executable] + clusterdArguments : launcher + [executable] + clusterdArguments
        self.arguments = arguments
        self.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        try launch()
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let client = ControlTestClient(path: socketPath), client.hello() {
                guard router, launcher.isEmpty else { return }
                if let port = Self.routerPort(in: log()) {
                    routerPort = port
                    return
                }
            }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw ClusterdFailed(what: "clusterd did not serve \(socketPath)", log: self.log())
    }

    private var arguments: [String] = []
    private var environment: [String: String] = [:]

    private func launch() throws {
        let logFD = open(logPath, O_WRONLY | O_APPEND | O_CLOEXEC)
        defer { close(logFD) }
        process = try Spawned(arguments, environment: environment, outputFD: logFD)
    }

    /// SIGKILL, as a crash: nothing of clusterd's shutdown runs. Its workers and router are left running.
    func crash() {
        kill(pid, SIGKILL)
        process.wait()
    }

    /// Starts clusterd again with the same files (after `crash()`), and waits until it answers.
    func startAgain() throws {
        try launch()
        let deadline = ContinuousClock.now + .seconds(15)
        while ContinuousClock.now < deadline {
            if let client = ControlTestClient(path: socketPath), client.hello() { return }
            guard process.isRunning else { break }
            usleep(20_000)
        }
        throw ClusterdFailed(what: "clusterd did not start again", log: log())
    }

    var pid: Int32 { process.pid }

    /// A connected client that has said hello.
    func client() throws -> ControlTestClient {
        guard let client = ControlTestClient(path: socketPath), client.hello() else {
            throw ClusterdFailed(what: "cannot talk to clusterd", log: log())
        }
        return client
    }

    func snapshot(_ client: ControlTestClient? = nil) throws -> ClusterSnapshot {
        let client = try client ?? self.client()
        guard case .success(let value)? = client.request(.status(tenant: nil)) else {
            throw ClusterdFailed(what: "status failed", log: log())
        }
        return try value.decode(as: ClusterSnapshot.self)
    }

    /// Rewrites the tenants part of the file (for reload tests).
    func rewrite(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// From clusterd's "router listening address=127.0.0.1:PORT" line.
    static func routerPort(in log: String) -> Int? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains("router listening") }),
            let range = line.range(of: "address=127.0.0.1:")
        else { return nil }
        return Int(line[range.upperBound...].prefix { $0.isNumber })
    }

    /// The router child's pid (from "router started pid=…", the last one).
    func routerPID() -> Int32? {
        guard let line = log().split(separator: "\n").last(where: { $0.contains("router started") }),
            let range = line.range(of: "pid=")
        else { return nil }
        return Int32(line[range.upperBound...].prefix { $0.isNumber })
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
        guard process.isRunning else { return process.wait() }
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning {
            kill(pid, SIGKILL)
            process.wait()
            // Workers outlive a killed clusterd by design; a test must not leave them behind.
            for worker in Self.processes(withEnvironment: "NOTIFY_SOCKET=@clusterd/\(pid)/") { kill(worker, SIGKILL) }
        }
        return process.wait()
    }

    deinit { stop() }

    /// Processes whose environment has an entry starting with `prefix`.
    static func processes(withEnvironment prefix: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return data.split(separator: 0).contains { $0.starts(with: Array(prefix.utf8)) }
        }
    }
}

struct ClusterdFailed: Error, CustomStringConvertible {
    var what: String
    var log: String
    var description: String { "\(what)\n--- clusterd log ---\n\(log)" }
}
