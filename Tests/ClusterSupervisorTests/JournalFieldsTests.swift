import ClusterSupervisor
import Foundation
import Glibc
import Logging
import Testing

/// The journal handler's fields and its detection of systemd's journal stream: pure, no journald needed.
@Suite("Journal fields")
struct JournalFieldsTests {
    static func fields(
        level: Logger.Level = .info,
        message: String = "worker ready",
        metadata: Logger.Metadata = [:],
        label: String = "clusterd",
        identifier: String = "clusterd"
    ) -> [String] {
        JournalLogHandler.fields(
            level: level,
            message: message,
            metadata: metadata,
            label: label,
            identifier: identifier,
            file: "ClusterSupervisor/Supervisor.swift",
            function: "launchWorker(_:)",
            line: 503
        )
    }

    /// The value of the one field called `name`; a failed expectation when there are none or several.
    static func value(_ name: String, in fields: [String]) -> String? {
        let values = fields.compactMap { field -> String? in
            guard let equals = field.firstIndex(of: "="), field[..<equals] == name else { return nil }
            return String(field[field.index(after: equals)...])
        }
        #expect(values.count <= 1, "\(name) appears \(values.count) times in \(fields)")
        return values.first
    }

    static func names(_ fields: [String]) -> [String] {
        fields.map { String($0.prefix { $0 != "=" }) }
    }

    // MARK: Records

    @Test("a worker's output line: every field, in order")
    func workerLine() {
        let fields = Self.fields(
            level: .notice,
            message: "listening on 127.0.0.1:20001",
            metadata: ["tenant": "acme", "worker": "acme#3", "pid": "4242"]
        )
        #expect(
            fields == [
                "MESSAGE=listening on 127.0.0.1:20001 pid=4242",
                "PRIORITY=5",
                "SYSLOG_IDENTIFIER=clusterd",
                "CLUSTERD_LOGGER=clusterd",
                "CLUSTERD_TENANT=acme",
                "CLUSTERD_WORKER=acme#3",
                "CLUSTERD_PID=4242",
                "CODE_FILE=ClusterSupervisor/Supervisor.swift",
                "CODE_LINE=503",
                "CODE_FUNC=launchWorker(_:)",
            ]
        )
    }

    @Test("no metadata: the message alone, no tenant or worker field")
    func withoutMetadata() {
        let fields = Self.fields(message: "every worker has stopped")
        #expect(Self.value("MESSAGE", in: fields) == "every worker has stopped")
        #expect(Self.value("CLUSTERD_TENANT", in: fields) == nil)
        #expect(Self.value("CLUSTERD_WORKER", in: fields) == nil)
        #expect(fields.count == 7)
    }

    @Test(
        "swift-log levels map to syslog priorities",
        arguments: zip(
            [Logger.Level.trace, .debug, .info, .notice, .warning, .error, .critical],
            [7, 7, 6, 5, 4, 3, 2]
        )
    )
    func priority(level: Logger.Level, priority: Int) {
        #expect(JournalLogHandler.priority(for: level) == priority)
        #expect(Self.value("PRIORITY", in: Self.fields(level: level)) == "\(priority)")
    }

    @Test("SYSLOG_IDENTIFIER is the handler's identifier, CLUSTERD_LOGGER the logger's label")
    func identifierAndLabel() {
        let fields = Self.fields(label: "clusterd.router", identifier: "clusterd-router")
        #expect(Self.value("SYSLOG_IDENTIFIER", in: fields) == "clusterd-router")
        #expect(Self.value("CLUSTERD_LOGGER", in: fields) == "clusterd.router")
    }

    @Test("tenant and worker become their own fields, only tenant or only worker too, and stay out of MESSAGE")
    func tenantAndWorker() {
        let both = Self.fields(message: "hello", metadata: ["worker": "acme#1", "tenant": "acme"])
        #expect(Self.value("CLUSTERD_TENANT", in: both) == "acme")
        #expect(Self.value("CLUSTERD_WORKER", in: both) == "acme#1")
        #expect(Self.value("MESSAGE", in: both) == "hello")

        let tenantOnly = Self.fields(message: "scale restored", metadata: ["tenant": "beta", "workers": "2"])
        #expect(Self.value("CLUSTERD_TENANT", in: tenantOnly) == "beta")
        #expect(Self.value("CLUSTERD_WORKER", in: tenantOnly) == nil)
        #expect(Self.value("CLUSTERD_WORKERS", in: tenantOnly) == "2", "`workers` is not `worker`")
        #expect(Self.value("MESSAGE", in: tenantOnly) == "scale restored workers=2")
    }

    @Test("other metadata: sorted key=value pairs after the message, fields sorted by key")
    func metadataOrdering() {
        let metadata: Logger.Metadata = [
            "zeta": "last", "alpha": "first", "Mid": "upper", "mid": "lower", "tenant": "acme", "b.c": "dotted",
        ]
        let fields = Self.fields(message: "reload", metadata: metadata)
        #expect(Self.value("MESSAGE", in: fields) == "reload Mid=upper alpha=first b.c=dotted mid=lower zeta=last")
        #expect(
            Self.names(fields) == [
                "MESSAGE", "PRIORITY", "SYSLOG_IDENTIFIER", "CLUSTERD_LOGGER", "CLUSTERD_TENANT",
                "CLUSTERD_MID", "CLUSTERD_ALPHA", "CLUSTERD_B_C", "CLUSTERD_MID", "CLUSTERD_ZETA",
                "CODE_FILE", "CODE_LINE", "CODE_FUNC",
            ]
        )
        // Dictionary order never leaks: the same metadata built in another order gives the same fields.
        var reordered: Logger.Metadata = [:]
        for key in metadata.keys.sorted().reversed() { reordered[key] = metadata[key] }
        #expect(Self.fields(message: "reload", metadata: reordered) == fields)
    }

    @Test("keys that map to one name keep every value (the journal allows repeated fields)")
    func collidingKeys() {
        let fields = Self.fields(metadata: ["a.b": "1", "a-b": "2", "A_B": "3"])
        #expect(
            fields.filter { $0.hasPrefix("CLUSTERD_A_B=") } == ["CLUSTERD_A_B=3", "CLUSTERD_A_B=2", "CLUSTERD_A_B=1"]
        )
    }

    @Test("a multi-line message and multi-line values stay one field each, newlines kept")
    func multiLine() {
        let fields = Self.fields(
            message: "panic: index out of range\n  at main.swift:12\n",
            metadata: ["trace": "frame 1\nframe 2", "worker": "acme#2"]
        )
        #expect(
            Self.value("MESSAGE", in: fields)
                == "panic: index out of range\n  at main.swift:12\n trace=frame 1\nframe 2"
        )
        #expect(Self.value("CLUSTERD_TRACE", in: fields) == "frame 1\nframe 2")
        #expect(Self.value("CLUSTERD_WORKER", in: fields) == "acme#2")
        #expect(fields.count == 9)
    }

    @Test("an empty message: MESSAGE is the pairs alone, or empty")
    func emptyMessage() {
        #expect(Self.value("MESSAGE", in: Self.fields(message: "")) == "")
        #expect(Self.value("MESSAGE", in: Self.fields(message: "", metadata: ["code": "7"])) == "code=7")
    }

    @Test("metadata values render as swift-log prints them: strings raw, arrays and dictionaries as Swift literals")
    func valueRendering() {
        let fields = Self.fields(
            message: "m",
            metadata: ["list": ["a", "b"], "map": ["k": "v"], "count": .stringConvertible(12), "text": "a b=c"]
        )
        #expect(Self.value("CLUSTERD_LIST", in: fields) == #"["a", "b"]"#)
        #expect(Self.value("CLUSTERD_MAP", in: fields) == #"["k": "v"]"#)
        #expect(Self.value("CLUSTERD_COUNT", in: fields) == "12")
        #expect(Self.value("CLUSTERD_TEXT", in: fields) == "a b=c")
    }

    // MARK: Field names

    static let longKey = String(repeating: "k", count: 100)

    static let keyNames: [(String, String)] = [
        ("pid", "CLUSTERD_PID"),
        ("request_id", "CLUSTERD_REQUEST_ID"),
        ("error.message", "CLUSTERD_ERROR_MESSAGE"),
        ("exit-status", "CLUSTERD_EXIT_STATUS"),
        ("Mixed Case 9", "CLUSTERD_MIXED_CASE_9"),
        ("9lives", "CLUSTERD_9LIVES"),
        ("", "CLUSTERD_"),
        ("_", "CLUSTERD__"),
        ("_PID", "CLUSTERD__PID"),
        ("__SYSTEMD_UNIT", "CLUSTERD___SYSTEMD_UNIT"),
        ("café", "CLUSTERD_CAF_"),
        ("cafe\u{301}", "CLUSTERD_CAFE_"),
        ("ß", "CLUSTERD__"),
        ("ı", "CLUSTERD__"),
        ("名前", "CLUSTERD___"),
        ("🚀x", "CLUSTERD__X"),
        ("a=b", "CLUSTERD_A_B"),
        ("a\nb", "CLUSTERD_A_B"),
        ("Tenant", "CLUSTERD_TENANT_"),
        ("WORKER", "CLUSTERD_WORKER_"),
        ("logger", "CLUSTERD_LOGGER_"),
        (String(repeating: "k", count: 55), "CLUSTERD_" + String(repeating: "K", count: 55)),
        (longKey, "CLUSTERD_" + String(repeating: "K", count: 55)),
        (String(repeating: "é", count: 100), "CLUSTERD_" + String(repeating: "_", count: 55)),
    ]

    @Test("metadata keys map to CLUSTERD_<KEY>", arguments: keyNames)
    func fieldName(key: String, name: String) {
        #expect(JournalLogHandler.fieldName(forMetadataKey: key) == name)
        #expect(Self.value(name, in: Self.fields(metadata: [key: "v"])) == "v")
    }

    @Test("every field name is one the journal accepts from a client", arguments: keyNames.map(\.0) + ["tenant"])
    func namesAreValid(key: String) {
        for name in Self.names(Self.fields(metadata: [key: "v", "worker": "w"])) {
            #expect(!name.isEmpty && name.utf8.count <= JournalLogHandler.maximumFieldNameLength, "\(name)")
            #expect(
                name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || (48...57).contains($0) || (65...90).contains($0) }
            )
            #expect(!name.hasPrefix("_"), "a leading _ is a trusted field the journal drops: \(name)")
            #expect(!(name.first?.isNumber ?? true), "\(name)")
        }
    }

    // MARK: The handler

    @Test("the handler merges its metadata, the provider's, the event's (which wins) and the error")
    func handlerMetadata() {
        struct Refused: Error, CustomStringConvertible {
            var description: String { "refused" }
        }
        var handler = JournalLogHandler(
            label: "clusterd",
            identifier: "clusterd",
            metadataProvider: Logger.MetadataProvider { ["request": "r1", "tenant": "from-provider"] }
        )
        handler[metadataKey: "tenant"] = "acme"
        handler[metadataKey: "worker"] = "acme#1"
        handler.metadata["attempt"] = "1"
        var event = LogEvent(
            level: .error,
            message: "spawn failed",
            metadata: ["attempt": "2"],
            source: "ClusterSupervisor",
            file: "ClusterSupervisor/Supervisor.swift",
            function: "launch()",
            line: 7
        )
        event.error = Refused()
        let fields = handler.fields(for: event)
        #expect(Self.value("CLUSTERD_TENANT", in: fields) == "from-provider", "the provider overrides the handler")
        #expect(Self.value("CLUSTERD_WORKER", in: fields) == "acme#1")
        #expect(Self.value("CLUSTERD_ATTEMPT", in: fields) == "2", "the event overrides the handler")
        #expect(Self.value("CLUSTERD_REQUEST", in: fields) == "r1")
        #expect(Self.value("CLUSTERD_ERROR_MESSAGE", in: fields) == "refused")
        #expect(Self.value("CLUSTERD_ERROR_TYPE", in: fields)?.hasSuffix("Refused") == true)
        #expect(Self.value("PRIORITY", in: fields) == "3")
        #expect(Self.value("CODE_LINE", in: fields) == "7")
        #expect(Self.value("CODE_FUNC", in: fields) == "launch()")
        #expect(
            Self.value("MESSAGE", in: fields)?.hasPrefix("spawn failed attempt=2 error.message=refused error.type=")
                == true
        )
    }

    // MARK: Detection

    /// `<device>:<inode>` of `fd`, as systemd writes JOURNAL_STREAM.
    static func journalStream(of fd: Int32) throws -> String {
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        return "\(status.st_dev):\(status.st_ino)"
    }

    @Test("JOURNAL_STREAM naming fd 2's device and inode is the journal")
    func matchingStream() throws {
        let stream = try Self.journalStream(of: STDERR_FILENO)
        #expect(JournalLogHandler.isJournalStream(stream, fd: STDERR_FILENO))
    }

    @Test("another device or inode, no variable, or a closed fd is not")
    func otherStream() throws {
        var status = stat()
        try #require(fstat(STDERR_FILENO, &status) == 0)
        #expect(!JournalLogHandler.isJournalStream("\(status.st_dev):\(status.st_ino &+ 1)", fd: STDERR_FILENO))
        #expect(!JournalLogHandler.isJournalStream("\(status.st_dev &+ 1):\(status.st_ino)", fd: STDERR_FILENO))
        #expect(!JournalLogHandler.isJournalStream(nil, fd: STDERR_FILENO))
        #expect(!JournalLogHandler.isJournalStream("\(status.st_dev):\(status.st_ino)", fd: -1))
    }

    @Test("a child whose stderr was redirected inherits JOURNAL_STREAM but is not the journal")
    func redirectedStream() throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        defer {
            close(ends[0])
            close(ends[1])
        }
        let stderrStream = try Self.journalStream(of: STDERR_FILENO)
        let pipeStream = try Self.journalStream(of: ends[1])
        #expect(stderrStream != pipeStream)
        #expect(!JournalLogHandler.isJournalStream(stderrStream, fd: ends[1]))
        #expect(JournalLogHandler.isJournalStream(pipeStream, fd: ends[1]))
    }

    static let malformed: [(String, @Sendable (UInt64, UInt64) -> String)] = [
        ("empty", { _, _ in "" }),
        ("colon only", { _, _ in ":" }),
        ("no inode", { device, _ in "\(device):" }),
        ("no device", { _, inode in ":\(inode)" }),
        ("no colon", { device, inode in "\(device)\(inode)" }),
        ("other separator", { device, inode in "\(device)-\(inode)" }),
        ("a third part", { device, inode in "\(device):\(inode):0" }),
        ("leading space", { device, inode in " \(device):\(inode)" }),
        ("trailing newline", { device, inode in "\(device):\(inode)\n" }),
        ("plus sign", { device, inode in "+\(device):\(inode)" }),
        ("minus sign", { device, inode in "\(device):-\(inode)" }),
        ("hexadecimal", { device, inode in "0x\(String(device, radix: 16)):\(inode)" }),
        ("overflow", { _, inode in "18446744073709551616:\(inode)" }),
        ("non-ASCII digits", { _, _ in "\u{661}\u{662}:\u{663}" }),
        ("words", { _, _ in "device:inode" }),
    ]

    @Test("malformed JOURNAL_STREAM values are not the journal", arguments: malformed.map(\.0))
    func malformedStream(name: String) throws {
        var status = stat()
        try #require(fstat(STDERR_FILENO, &status) == 0)
        let make = try #require(Self.malformed.first { $0.0 == name }?.1)
        let value = make(UInt64(status.st_dev), UInt64(status.st_ino))
        #expect(!JournalLogHandler.isJournalStream(value, fd: STDERR_FILENO), "\(value.debugDescription)")
    }

    // MARK: A real journal, when there is one

    static let journaldRunning =
        access("/run/systemd/journal/socket", F_OK) == 0 && access("/usr/bin/journalctl", X_OK) == 0

    @Test(
        "a record sent to a running journald comes back from journalctl -o json with its fields",
        .enabled(if: journaldRunning, "no journald here (/run/systemd/journal/socket is missing)"),
        .timeLimit(.minutes(1))
    )
    func roundTripThroughJournald() async throws {
        let marker = UUID().uuidString
        let handler = JournalLogHandler(label: "clusterd.test", identifier: "clusterd-test", metadataProvider: nil)
        let logger = Logger(label: "clusterd.test") { _ in handler }
        logger.notice(
            "journal round trip\nsecond line",
            metadata: ["tenant": "acme", "worker": "acme#1", "test-marker": "\(marker)"]
        )

        var record: [String: Any]?
        for _ in 0..<50 where record == nil {
            let output = try Self.run(
                "/usr/bin/journalctl",
                ["-o", "json", "--no-pager", "CLUSTERD_TEST_MARKER=\(marker)"]
            )
            if let line = output.split(separator: "\n").first {
                record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            } else {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let fields = try #require(record, "journalctl never showed the record")
        #expect(fields["MESSAGE"] as? String == "journal round trip\nsecond line test-marker=\(marker)")
        #expect(fields["PRIORITY"] as? String == "5")
        #expect(fields["SYSLOG_IDENTIFIER"] as? String == "clusterd-test")
        #expect(fields["CLUSTERD_TENANT"] as? String == "acme")
        #expect(fields["CLUSTERD_WORKER"] as? String == "acme#1")
        #expect(fields["CLUSTERD_LOGGER"] as? String == "clusterd.test")
        #expect((fields["CODE_FILE"] as? String)?.hasSuffix("JournalFieldsTests.swift") == true)
        #expect(fields["_PID"] as? String == "\(getpid())")
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
