import CSpawn
import ClusterCore
import Glibc

/// What an in-place upgrade needs from outside the supervisor: the binary to run, the sockets held for the
/// control channel and the router, and the router child.
public struct UpgradeContext: Sendable {
    /// The installed clusterd to execute (the path this process was started from; its file may have been
    /// replaced by a newer build, which is the point).
    public var executable: String
    public var arguments: [String]
    /// This image, opened at start: where a failed take-over goes back to.
    public var fallbackExecutableFD: Int32
    public var tenantsFile: String
    public var controlSocketFD: Int32
    public var controlSocketOwned: Bool
    public var routerListenerFDs: [Int32]
    public var routerPID: @Sendable () -> Int32?

    public init(
        executable: String,
        arguments: [String],
        fallbackExecutableFD: Int32,
        tenantsFile: String,
        controlSocketFD: Int32,
        controlSocketOwned: Bool,
        routerListenerFDs: [Int32],
        routerPID: @escaping @Sendable () -> Int32?
    ) {
        self.executable = executable
        self.arguments = arguments
        self.fallbackExecutableFD = fallbackExecutableFD
        self.tenantsFile = tenantsFile
        self.controlSocketFD = controlSocketFD
        self.controlSocketOwned = controlSocketOwned
        self.routerListenerFDs = routerListenerFDs
        self.routerPID = routerPID
    }

    /// The new binary runs and accepts the tenants file (`clusterd check`), or why not.
    func preflight() async -> SupervisorError? {
        guard access(executable, X_OK) == 0 else {
            return SupervisorError(.upgrade, "\(executable) is not an executable file", cause: SystemError("access"))
        }
        let devNull = open("/dev/null", O_RDWR | O_CLOEXEC)
        defer { close(devNull) }
        let spawned = ChildProcess.spawn(
            program: executable,
            arguments: [executable, "check", "--tenants", tenantsFile],
            environment: ["PATH": "/usr/local/bin:/usr/bin:/bin"],
            standardIO: (devNull, devNull, devNull)
        )
        guard case .success(let child) = spawned else {
            return SupervisorError(.upgrade, "\(executable) does not start")
        }
        let status = await ChildProcess.exit(of: child)
        close(child.pidfd)
        guard status == .exited(0) else {
            return SupervisorError(.upgrade, "\(executable) check --tenants \(tenantsFile) \(status); not upgrading")
        }
        return nil
    }
}
