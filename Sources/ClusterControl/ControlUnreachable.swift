/// Why a client could not get an answer from clusterd, naming the socket (clusterctl: exit status 3).
public struct ControlUnreachable: Error, CustomStringConvertible {
    public var socketPath: String
    public var reason: String

    public init(socketPath: String, reason: String) {
        self.socketPath = socketPath
        self.reason = reason
    }

    /// `cannot reach clusterd at /run/clusterd/control.sock: No such file or directory (is clusterd running? …)`
    public var description: String { "cannot reach clusterd at \(socketPath): \(reason)" }
}
