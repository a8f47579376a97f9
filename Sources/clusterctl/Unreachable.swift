/// Why clusterctl could not get an answer from clusterd: exit status 3, and a message naming the socket.
struct Unreachable: Error, CustomStringConvertible {
    var socketPath: String
    var reason: String

    /// `cannot reach clusterd at /run/clusterd/control.sock: No such file or directory (is clusterd running? …)`
    var description: String { "cannot reach clusterd at \(socketPath): \(reason)" }
}
