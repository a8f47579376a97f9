import CSpawn
import ClusterCore
import Glibc

/// A worker process as the supervisor holds it.
struct WorkerProcess {
    var pid: Int32
    var pidfd: Int32
    /// Started by this process (false for a worker adopted from a clusterd that crashed).
    var isChild = true
    var stdoutFD: Int32
    var stderrFD: Int32
}

/// Starts one worker exactly per the worker contract: argv and environment from the launch, fd 3 its
/// listening socket for `listen-fds` (with `LISTEN_FDS=1`, `LISTEN_FDNAMES=http`, `LISTEN_PID` = its own
/// pid), `NOTIFY_SOCKET`, stdin from /dev/null, stdout/stderr into pipes, its own process group,
/// no other fds.
struct WorkerSpawn {
    /// Where workers send notify messages.
    var notifySocketPath: String
    /// Variables passed through from clusterd's own environment (PATH, LANG…), under the tenant's `env`.
    var inheritedEnvironment: [String: String]
    /// Relative program paths resolve against this directory (clusterd's working directory).
    var currentDirectory: String

    static let inheritedNames = [
        "PATH", "HOME", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME", "SHELL", "TMPDIR",
    ]

    func start(_ launch: WorkerLaunch) -> Result<WorkerProcess, LaunchFailure> {
        guard let program = resolveProgram(launch.arguments.first ?? "") else {
            let name = launch.arguments.first ?? ""
            let searched = name.contains("/") ? "" : " in PATH (\(inheritedEnvironment["PATH"] ?? "unset"))"
            return .failure(.failed("program \"\(name)\" not found or not executable\(searched)"))
        }

        var listenFD: Int32?
        if launch.readiness == .listenFDs {
            switch LoopbackSocket.listen(port: launch.port) {
            case .success(let fd): listenFD = fd
            case .failure(.inUse): return .failure(.portUnavailable)
            case .failure(.other(let error)): return .failure(.failed("\(error)"))
            }
        } else if !LoopbackSocket.isFree(port: launch.port) {
            return .failure(.portUnavailable)
        }

        var environment = inheritedEnvironment.merging(launch.environment) { _, tenant in tenant }
        environment["NOTIFY_SOCKET"] = notifySocketPath
        var pidVariables: [String] = []
        if listenFD != nil {
            environment["LISTEN_FDS"] = "1"
            environment["LISTEN_FDNAMES"] = "http"
            pidVariables.append("LISTEN_PID")
        }
        if launch.environment["WATCHDOG_USEC"] != nil { pidVariables.append("WATCHDOG_PID") }

        // Read ends stay with clusterd; the child's ends are closed here once the child has its copies.
        var readEnds: [Int32] = []
        var childEnds: [Int32] = []
        defer {
            for fd in childEnds { close(fd) }
        }
        func abandon() {
            for fd in readEnds { close(fd) }
        }
        for _ in 0..<2 {
            var ends: [Int32] = [-1, -1]
            guard cspawn_pipe(&ends) == 0 else {
                let error = SystemError("pipe2")
                if let listenFD { close(listenFD) }
                abandon()
                return .failure(.failed("\(error)"))
            }
            _ = fcntl(ends[0], F_SETFL, O_NONBLOCK)
            readEnds.append(ends[0])
            childEnds.append(ends[1])
        }
        let devNull = open("/dev/null", O_RDONLY | O_CLOEXEC)
        childEnds.append(devNull)

        let spawned = ChildProcess.spawn(
            program: program,
            arguments: launch.arguments,
            environment: environment,
            pidVariables: pidVariables,
            workingDirectory: launch.workingDirectory,
            standardIO: (devNull, childEnds[0], childEnds[1]),
            passing: listenFD.map { [$0] } ?? []
        )
        // The worker holds the only copy of its listening socket: when it dies the socket goes with it, and a
        // router connecting meanwhile is refused (and routes elsewhere) instead of queueing on a dead socket.
        if let listenFD { close(listenFD) }
        guard case .success(let child) = spawned else {
            abandon()
            if case .failure(let failure) = spawned {
                return .failure(.failed(Self.describe(failure, program: program, launch: launch)))
            }
            return .failure(.failed("spawn failed"))
        }
        return .success(
            WorkerProcess(
                pid: child.pid,
                pidfd: child.pidfd,
                stdoutFD: readEnds[0],
                stderrFD: readEnds[1]
            )
        )
    }

    /// The absolute path of the program: as given if absolute, against `currentDirectory` if it contains a
    /// slash, else searched in PATH. Nil when not found or not executable.
    func resolveProgram(_ name: String) -> String? {
        guard !name.isEmpty else { return nil }
        let candidates: [String]
        if name.hasPrefix("/") {
            candidates = [name]
        } else if name.contains("/") {
            candidates = [currentDirectory + "/" + name]
        } else {
            let path = inheritedEnvironment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            candidates = path.split(separator: ":").map { "\($0)/\(name)" }
        }
        return candidates.first { access($0, X_OK) == 0 && !Self.isDirectory($0) }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    private static func describe(_ failure: ChildProcess.SpawnFailure, program: String, launch: WorkerLaunch) -> String
    {
        let reason = String(cString: strerror(failure.error))
        switch failure.stage {
        case CSPAWN_STAGE_CHDIR: return "cannot enter working_directory \(launch.workingDirectory ?? ""): \(reason)"
        case CSPAWN_STAGE_EXEC: return "cannot execute \(program): \(reason)"
        case CSPAWN_STAGE_FORK: return "fork failed: \(reason)"
        case CSPAWN_STAGE_PIPE: return "pipe failed: \(reason)"
        case CSPAWN_STAGE_DUP: return "setting up the worker's fds failed: \(reason)"
        case CSPAWN_STAGE_SETPGID: return "setpgid failed: \(reason)"
        case CSPAWN_STAGE_PIDFD: return "pidfd_open failed: \(reason)"
        default: return "spawn failed: \(reason)"
        }
    }
}
