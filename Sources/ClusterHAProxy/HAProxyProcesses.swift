/// What HAProxy says about its processes: the worker answering the stats socket (`show info`) and the master's
/// reload counters (`show proc` on the master CLI). The adapter tells a reload or restart from them.
public enum HAProxyProcesses {
    /// The `Pid:` of a `show info` answer: the worker process serving the stats socket. A new one means HAProxy
    /// reloaded or restarted, and its runtime changes are gone.
    public static func workerPID(fromShowInfo text: String) -> Int? {
        for line in text.split(separator: "\n") where line.hasPrefix("Pid:") {
            return Int(line.dropFirst("Pid:".count).drop { $0 == " " })
        }
        return nil
    }

    /// The master's line of `show proc`: `12455  master  3 [failed: 1]  0d00h10m33s  2.6.12`.
    public struct Master: Hashable, Sendable {
        public var pid: Int
        /// Reloads since the master started, failed ones included.
        public var reloads: Int
        /// Reloads whose new configuration HAProxy refused (it kept the previous workers).
        public var failedReloads: Int

        public init(pid: Int, reloads: Int, failedReloads: Int) {
            self.pid = pid
            self.reloads = reloads
            self.failedReloads = failedReloads
        }
    }

    /// The master's counters from a `show proc` answer, or nil when it has no master line.
    public static func master(fromShowProc text: String) -> Master? {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count >= 5, words[1] == "master", let pid = Int(words[0]), let reloads = Int(words[2]),
                words[3] == "[failed:", let failed = Int(words[4].dropLast()), words[4].hasSuffix("]")
            else { continue }
            return Master(pid: pid, reloads: reloads, failedReloads: failed)
        }
        return nil
    }
}
