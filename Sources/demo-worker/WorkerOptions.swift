import NIOCore

/// The command line of demo-worker, parsed by hand (the flag set is tiny).
///
/// Flags win over the environment: `--port` beats `PORT`. Listen-fds, when passed, beat both.
struct WorkerOptions: Sendable {
    /// The address to bind when no socket is inherited.
    var host = "127.0.0.1"
    /// `--port N`; `nil` means "use `PORT` from the environment".
    var port: Int?
    /// `--start-delay MS`: milliseconds to wait before accepting connections and reporting ready.
    var startDelayMilliseconds: Int64 = 0
    /// `--fail-start`: exit 1 before listening, for supervisor fault tests.
    var failStart = false
    /// `--crash-after N`: exit 3 once the Nth response has been flushed.
    var crashAfterResponses: Int?
    /// `--threads N`: event loop threads.
    var threads = System.coreCount
    /// `--help`.
    var showHelp = false

    /// What went wrong on the command line; printed with the usage text, exit status 2.
    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static let usage = """
        usage: demo-worker [--port N] [--host ADDR] [--threads N] [--start-delay MS]
                           [--fail-start] [--crash-after N] [--help]

        A small HTTP/1.1 server for clusterd's examples, tests and benchmarks.

        Listening: serves on fd 3 when LISTEN_FDS>=1 and LISTEN_PID is this process
        (systemd socket activation); otherwise binds HOST:PORT (PORT from the
        environment unless --port is given; host defaults to 127.0.0.1).
        Readiness: READY=1 / STATUS= / WATCHDOG=1 / STOPPING=1 on NOTIFY_SOCKET if set.

        Endpoints: GET /  GET /whoami  GET /count  GET /sleep?ms=N  POST /echo

        Flags:
          --port N           port to bind (overrides PORT)
          --host ADDR        address to bind (default 127.0.0.1)
          --threads N        event loop threads (default: number of cores)
          --start-delay MS   wait MS milliseconds before accepting and reporting ready
          --fail-start       exit 1 at start, before listening
          --crash-after N    exit 3 after the Nth response has been sent
          --help             this text

        Environment: PORT, CLUSTERD_TENANT, CLUSTERD_WORKER, GREETING, LISTEN_FDS,
        LISTEN_PID, NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID.

        """

    /// Parses `arguments` (without the program name). Accepts `--flag value` and `--flag=value`.
    static func parse(_ arguments: [String]) throws(UsageError) -> WorkerOptions {
        var options = WorkerOptions()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            let (flag, inlineValue) = Self.split(argument)
            func value() throws(UsageError) -> String {
                if let inlineValue { return inlineValue }
                guard let next = remaining.popFirst() else {
                    throw UsageError(description: "\(flag) needs a value")
                }
                return next
            }
            func integer(in range: ClosedRange<Int>) throws(UsageError) -> Int {
                let text = try value()
                guard let number = Int(text), range.contains(number) else {
                    throw UsageError(
                        description:
                            "\(flag) wants a whole number in \(range.lowerBound)...\(range.upperBound), got '\(text)'"
                    )
                }
                return number
            }
            func noValue() throws(UsageError) {
                if inlineValue != nil { throw UsageError(description: "\(flag) takes no value") }
            }
            switch flag {
            case "--port", "-p": options.port = try integer(in: 0...65535)
            case "--host": options.host = try value()
            case "--threads": options.threads = try integer(in: 1...1024)
            case "--start-delay": options.startDelayMilliseconds = Int64(try integer(in: 0...3_600_000))
            case "--crash-after": options.crashAfterResponses = try integer(in: 1...Int.max)
            case "--fail-start":
                try noValue()
                options.failStart = true
            case "--help", "-h":
                try noValue()
                options.showHelp = true
            default:
                throw UsageError(description: "unknown argument '\(argument)'")
            }
        }
        return options
    }

    private static func split(_ argument: String) -> (flag: String, value: String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else {
            return (argument, nil)
        }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
