import Glibc

/// The control socket's file: created safely, never replacing something that is not a stale socket.
public enum ControlSocketFile {
    /// Makes `path` free to bind: creates the directory, removes a stale socket nothing listens on;
    /// refuses a live socket, or anything that is not a socket (a file, a symlink).
    static func prepare(_ path: String) throws(ControlServerError) {
        let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
        if !directory.isEmpty { try makeDirectories(directory) }
        var info = stat()
        guard lstat(path, &info) == 0 else {
            if errno == ENOENT { return }
            throw ControlServerError("cannot inspect \(path)", cause: SystemError("lstat"))
        }
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlServerError("\(path) exists and is not a socket; refusing to replace it")
        }
        if isListening(path) {
            throw ControlServerError("another process (another clusterd?) is listening on \(path)")
        }
        guard unlink(path) == 0 else {
            throw ControlServerError("cannot remove the stale socket \(path)", cause: SystemError("unlink"))
        }
    }

    /// Mode 0660 (and the control group, if any): SO_PEERCRED decides, the mode keeps strangers from connecting.
    static func secure(_ path: String, groupID: UInt32?) throws(ControlServerError) {
        if let groupID, chown(path, UInt32.max, groupID) != 0 {
            throw ControlServerError("cannot give \(path) to group \(groupID)", cause: SystemError("chown"))
        }
        guard chmod(path, 0o660) == 0 else {
            throw ControlServerError("cannot set the mode of \(path)", cause: SystemError("chmod"))
        }
    }

    /// Prepares `path`, binds and listens on it, and secures the file: the control socket clusterd makes itself
    /// (its fd outlives an in-place upgrade).
    public static func open(_ path: String, groupName: String?) throws(ControlServerError) -> Int32 {
        var groupID: UInt32?
        if let groupName {
            guard let id = ControlAccess.groupID(named: groupName) else {
                throw ControlServerError("cluster.control_group \"\(groupName)\" is not a group on this host")
            }
            groupID = id
        }
        try prepare(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ControlServerError("cannot create the control socket", cause: SystemError("socket"))
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw ControlServerError("\(path) is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard bound == 0, listen(fd, 256) == 0 else {
            let error = SystemError("bind/listen \(path)")
            close(fd)
            throw ControlServerError("cannot listen on \(path)", cause: error)
        }
        do {
            try secure(path, groupID: groupID)
        } catch {
            close(fd)
            unlink(path)
            throw error
        }
        return fd
    }

    static func isListening(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in bytes.enumerated() { raw[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return result == 0
    }

    private static func makeDirectories(_ path: String) throws(ControlServerError) {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0, errno != EEXIST {
                throw ControlServerError("cannot create \(current)", cause: SystemError("mkdir"))
            }
        }
    }
}

/// The control server could not start.
public struct ControlServerError: Error, CustomStringConvertible {
    public var message: String
    public var cause: (any Error)?

    init(_ message: String, cause: (any Error)? = nil) {
        self.message = message
        self.cause = cause
    }

    public var description: String { cause.map { "\(message): \($0)" } ?? message }
}
