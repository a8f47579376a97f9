import Logging
import Synchronization

/// A log handler that keeps every record, for asserting on what clusterd logged (worker output included).
final class LogCapture: Sendable {
    struct Record: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let records = Mutex<[Record]>([])

    var logger: Logger {
        Logger(label: "clusterd-test") { _ in Handler(capture: self) }
    }

    func matching(_ predicate: (Record) -> Bool) -> [Record] {
        records.withLock { $0.filter(predicate) }
    }

    private struct Handler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var merged: [String: String] = [:]
            for (key, value) in metadata { merged[key] = "\(value)" }
            for (key, value) in event.metadata ?? [:] { merged[key] = "\(value)" }
            let record = Record(level: event.level, message: "\(event.message)", metadata: merged)
            capture.records.withLock { $0.append(record) }
        }
    }
}
