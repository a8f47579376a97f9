import CSystemd
import ClusterControl
import Glibc
import Logging

/// A swift-log handler that sends each record to the systemd journal as structured fields (`sd_journal_sendv`).
///
/// Use it only when `isStandardErrorJournal()` says stderr is the journal; otherwise log to stderr as before.
/// Records carry `PRIORITY=`, `SYSLOG_IDENTIFIER=` (the `identifier`), `CLUSTERD_TENANT=`/`CLUSTERD_WORKER=` from the
/// `tenant`/`worker` metadata, every other metadata key as `CLUSTERD_<KEY>`, the logger label as `CLUSTERD_LOGGER=`,
/// and `CODE_FILE=`/`CODE_LINE=`/`CODE_FUNC=`; `MESSAGE=` repeats the other metadata as sorted `key=value` pairs so
/// plain `journalctl` output stays readable. When the journal refuses a record, the line goes to stderr instead.
public struct JournalLogHandler: LogHandler {
    /// The logger's label, sent as `CLUSTERD_LOGGER=`.
    public let label: String
    /// `SYSLOG_IDENTIFIER=`: `clusterd` for the supervisor, `clusterd-router` for the router.
    public let identifier: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        label: String,
        identifier: String,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = fields(for: event)
        guard Self.send(fields) < 0 else { return }
        // journald is gone (restarting, or the socket is full): stderr still reaches it as a plain stream.
        var merged = effectiveMetadata(for: event)
        merged["logger"] = .string(label)
        StandardError.write("\(event.level): " + Self.message("\(event.message)", pairsFrom: merged, excluding: []))
    }

    /// The journal fields for `event` from this handler: its metadata, the metadata provider's, the event's (which
    /// wins) and the event's error (`error.message`, `error.type`, as `StreamLogHandler` does). Sends nothing.
    public func fields(for event: LogEvent) -> [String] {
        Self.fields(
            level: event.level,
            message: "\(event.message)",
            metadata: effectiveMetadata(for: event),
            label: label,
            identifier: identifier,
            file: event.file,
            function: event.function,
            line: event.line
        )
    }

    private func effectiveMetadata(for event: LogEvent) -> Logger.Metadata {
        var merged = metadata
        if let provided = metadataProvider?.get() {
            merged.merge(provided) { _, provided in provided }
        }
        if let explicit = event.metadata {
            merged.merge(explicit) { _, explicit in explicit }
        }
        if let error = event.error {
            merged["error.message"] = "\(error)"
            merged["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return merged
    }
}

// MARK: - Fields

extension JournalLogHandler {
    /// `CLUSTERD_TENANT=`, from the `tenant` metadata key.
    public static let tenantField = "CLUSTERD_TENANT"
    /// `CLUSTERD_WORKER=`, from the `worker` metadata key.
    public static let workerField = "CLUSTERD_WORKER"
    /// `CLUSTERD_LOGGER=`, the logger's label.
    public static let loggerField = "CLUSTERD_LOGGER"
    /// The journal's limit on a field name's length.
    public static let maximumFieldNameLength = 64

    /// One record's journal fields, each `NAME=value` (values may hold newlines: `sd_journal_sendv` sends them
    /// length-prefixed). Pure: the same arguments give the same fields in the same order.
    ///
    /// Order: `MESSAGE`, `PRIORITY`, `SYSLOG_IDENTIFIER`, `CLUSTERD_LOGGER`, `CLUSTERD_TENANT`, `CLUSTERD_WORKER`, the
    /// other metadata by key, `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`. Two keys that map to one name (`a.b`, `a-b`)
    /// both appear; the journal keeps every value of a repeated field.
    public static func fields(
        level: Logger.Level,
        message: String,
        metadata: Logger.Metadata,
        label: String,
        identifier: String,
        file: String,
        function: String,
        line: UInt
    ) -> [String] {
        var fields = [
            "MESSAGE=" + Self.message(message, pairsFrom: metadata, excluding: ["tenant", "worker"]),
            "PRIORITY=\(priority(for: level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "\(loggerField)=\(label)",
        ]
        if let tenant = metadata["tenant"] { fields.append("\(tenantField)=\(tenant)") }
        if let worker = metadata["worker"] { fields.append("\(workerField)=\(worker)") }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) where key != "tenant" && key != "worker" {
            fields.append("\(fieldName(forMetadataKey: key))=\(value)")
        }
        fields.append("CODE_FILE=\(file)")
        fields.append("CODE_LINE=\(line)")
        fields.append("CODE_FUNC=\(function)")
        return fields
    }

    /// The syslog priority of a swift-log level: trace and debug 7, info 6, notice 5, warning 4, error 3, critical 2.
    public static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// `CLUSTERD_<KEY>` for a metadata key: ASCII letters upper-cased, every other character but A-Z and 0-9 (each
    /// Unicode scalar) an `_`, the whole name cut to 64 bytes. The prefix keeps it from starting with `_` (which
    /// the journal reserves for trusted fields such as `_PID`) or a digit. A key other than `tenant`/`worker` that
    /// maps onto `CLUSTERD_TENANT`, `CLUSTERD_WORKER` or `CLUSTERD_LOGGER` gets a trailing `_`, so those stay
    /// single-valued.
    public static func fieldName(forMetadataKey key: String) -> String {
        var name = "CLUSTERD_"
        for scalar in key.unicodeScalars {
            guard name.utf8.count < maximumFieldNameLength else { break }
            switch scalar {
            case "A"..."Z", "0"..."9": name.unicodeScalars.append(scalar)
            case "a"..."z": name.unicodeScalars.append(Unicode.Scalar(UInt8(scalar.value) - 0x20))
            default: name.append("_")
            }
        }
        if name == tenantField || name == workerField || name == loggerField { name.append("_") }
        return name
    }

    /// `message`, then ` key=value` for each metadata key (sorted) not in `excluded`.
    private static func message(
        _ message: String,
        pairsFrom metadata: Logger.Metadata,
        excluding excluded: Set<String>
    ) -> String {
        let pairs = metadata.filter { !excluded.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }
        return ([message].filter { !$0.isEmpty } + pairs).joined(separator: " ")
    }
}

// MARK: - Sending

extension JournalLogHandler {
    /// Sends `fields` (each `NAME=value`) as one journal record. Returns 0, or a negative errno when the journal
    /// is unreachable or refused the record.
    @discardableResult
    public static func send(_ fields: [String]) -> Int32 {
        var bytes: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = bytes.count
            bytes.append(contentsOf: field.utf8)
            ranges.append(start..<bytes.count)
        }
        return bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return -EINVAL }
            let vectors = ranges.map { range in
                iovec(iov_base: UnsafeMutableRawPointer(mutating: base + range.lowerBound), iov_len: range.count)
            }
            return sd_journal_sendv(vectors, Int32(vectors.count))
        }
    }
}

// MARK: - Detection

extension JournalLogHandler {
    /// Whether this process's stderr is the journal stream systemd connected it to, as `sd_journal_stream_fd(3)`
    /// recommends checking: `JOURNAL_STREAM` names fd 2's device and inode. A child whose stderr was redirected
    /// inherits the variable but not the stream, so it answers false.
    public static func isStandardErrorJournal() -> Bool {
        let journalStream = getenv("JOURNAL_STREAM").map { String(cString: $0) }
        return isJournalStream(journalStream, fd: STDERR_FILENO)
    }

    /// Whether `journalStream` (a `JOURNAL_STREAM` value, `<device>:<inode>` in decimal) names the file `fd` is open
    /// on. False for nil, a malformed value, or an fd `fstat` cannot describe.
    public static func isJournalStream(_ journalStream: String?, fd: Int32) -> Bool {
        guard let journalStream, let (device, inode) = parseJournalStream(journalStream) else { return false }
        var status = stat()
        guard fstat(fd, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    private static func parseJournalStream(_ text: String) -> (device: UInt64, inode: UInt64)? {
        let parts = text.utf8.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let numbers = parts.map { part -> UInt64? in
            guard !part.isEmpty, part.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
                return nil
            }
            return UInt64(String(decoding: part, as: UTF8.self))
        }
        guard let device = numbers[0], let inode = numbers[1] else { return nil }
        return (device, inode)
    }
}
