import Glibc
import Logging

func printToStandardError(_ text: String) {
    let line = text.hasSuffix("\n") ? text : text + "\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

enum LogLevelSetting {
    /// `CLUSTERD_LOG_LEVEL` (trace, debug, info, notice, warning, error, critical); info by default.
    static func fromEnvironment() -> Logger.Level {
        guard let value = getenv("CLUSTERD_LOG_LEVEL") else { return .info }
        return Logger.Level(rawValue: String(cString: value).lowercased()) ?? .info
    }
}
