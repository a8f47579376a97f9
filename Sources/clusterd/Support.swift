import Glibc
import Logging

func printToStandardError(_ text: String) {
    let line = text.hasSuffix("\n") ? text : text + "\n"
    _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
}

enum LogLevelSetting {
    /// Log lines to stderr at the level from the environment (systemd's journal takes stderr too).
    static func bootstrap() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = fromEnvironment()
            return handler
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
    return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
