import ClusterSupervisor
import Glibc
import Logging

enum LogLevelSetting {
    /// Logging at the level from the environment: to the journal with structured fields (`CLUSTERD_TENANT=`, …)
    /// under `identifier` when stderr is systemd's journal stream, else lines to stderr.
    static func bootstrap(identifier: String) {
        let level = fromEnvironment()
        if JournalLogHandler.isStandardErrorJournal() {
            LoggingSystem.bootstrap { label in
                var handler = JournalLogHandler(label: label, identifier: identifier)
                handler.logLevel = level
                return handler
            }
        } else {
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
        }
    }

    /// `CLUSTERD_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical); info by default.
    static func fromEnvironment() -> Logger.Level {
        guard let value = getenv("CLUSTERD_LOG_LEVEL") else { return .info }
        return Logger.Level(rawValue: String(cString: value).lowercased()) ?? .info
    }
}

/// The path of this executable (to start `clusterd router` as a child).
func ownExecutable() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return CommandLine.arguments[0] }
    let path = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    // Replaced on disk (a new build installed over it): the path is what counts, it names the new binary.
    return path.hasSuffix(" (deleted)") ? String(path.dropLast(" (deleted)".count)) : path
}
