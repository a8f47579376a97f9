/// One datagram of the systemd notify protocol (`READY=1\nSTATUS=…`), as sent by `sd_notify`.
public struct NotifyMessage: Sendable, Equatable {
    public var ready = false
    public var stopping = false
    public var reloading = false
    public var watchdogPing = false
    /// `WATCHDOG=trigger`: the worker asks to be treated as hung.
    public var watchdogTrigger = false
    public var status: String?

    public init() {}

    /// Parses newline-separated `KEY=VALUE` assignments; unknown keys and malformed lines are ignored,
    /// as systemd ignores them.
    public init(parsing text: String) {
        for line in text.split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals]
            let value = line[line.index(after: equals)...]
            switch key {
            case "READY": ready = value == "1"
            case "STOPPING": stopping = value == "1"
            case "RELOADING": reloading = value == "1"
            case "WATCHDOG":
                if value == "1" { watchdogPing = true } else if value == "trigger" { watchdogTrigger = true }
            case "STATUS": status = String(value.prefix(512))
            default: continue
            }
        }
    }
}
