import Glibc

/// What /proc says about this test process and its children.
enum ProcessTable {
    /// Children of this process among `pids` that are zombies (exited, not reaped).
    static func zombies(among pids: Set<Int32>) -> [Int32] {
        children().filter { $0.state == "Z" && pids.contains($0.pid) }.map(\.pid)
    }

    static func children(of parent: Int32 = getpid()) -> [(pid: Int32, state: String)] {
        let me = parent
        var result: [(Int32, String)] = []
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = Int32(name), let stat = read("/proc/\(pid)/stat") else { continue }
            // pid (comm) state ppid ...; comm may contain spaces, so parse after the last ')'.
            guard let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == me else { continue }
            result.append((pid, String(fields[0])))
        }
        return result
    }

    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z"
    }

    /// Open fds of this process that the supervisor could leak: pipes, sockets, pidfds, epoll/event/timer fds.
    static func supervisorKindFDs() -> [String] {
        var result: [String] = []
        guard let directory = opendir("/proc/self/fd") else { return [] }
        defer { closedir(directory) }
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard Int32(name) != nil else { continue }
            var target = [CChar](repeating: 0, count: 256)
            let length = readlink("/proc/self/fd/\(name)", &target, 255)
            guard length > 0 else { continue }
            let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if link.hasPrefix("pipe:") || link.hasPrefix("socket:") || link.hasPrefix("anon_inode:") {
                result.append(link)
            }
        }
        return result
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = Glibc.read(fd, &buffer, buffer.count)
            if got <= 0 { break }
            bytes.append(contentsOf: buffer[0..<got])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
