import ClusterControl
import ClusterCore
import Foundation
import Glibc

/// What a clusterd started after a crash needs to find the workers (and router) still running:
/// `state_dir/runtime.json`, rewritten whenever the set of processes changes, removed on a clean stop.
/// Every process is recorded with its start time, so a pid reused by another process is never adopted.
public struct RuntimeRecord: Codable, Sendable {
    public static let version = 1

    public struct Entry: Codable, Sendable {
        public var worker: AdoptedWorker
        public var startTime: UInt64
    }

    public struct Process: Codable, Sendable {
        public var pid: Int32
        public var startTime: UInt64
        /// The fd numbers its listening sockets have inside it (for `pidfd_getfd`).
        public var listenerFDs: [Int32]
    }

    public var version = RuntimeRecord.version
    public var clusterdPID: Int32
    public var notifySocketPath: String
    public var workers: [Entry]
    public var router: Process?
    public var nextSerials: [String: Int]

    static func path(in stateDirectory: String) -> String { stateDirectory + "/runtime.json" }

    /// The record a previous clusterd left, if any (and readable).
    public static func load(from stateDirectory: String) -> RuntimeRecord? {
        guard let data = FileManager.default.contents(atPath: path(in: stateDirectory)),
            let record = try? JSONDecoder().decode(RuntimeRecord.self, from: data), record.version == version
        else { return nil }
        return record
    }

    func save(to stateDirectory: String) throws {
        try FileManager.default.createDirectory(
            atPath: stateDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750]
        )
        try Data(jsonBytes()).write(to: URL(fileURLWithPath: Self.path(in: stateDirectory)), options: .atomic)
    }

    /// The record as JSON, as `load` (JSONDecoder) reads it, by the protocol's JSONTextWriter: the record is
    /// rewritten whenever a worker starts or goes, and JSONEncoder took ~20 ms for 1,000 workers, most of an
    /// activation's cost. Every integer is written exact (`readyAt` nanoseconds pass 2^53 after 104 days).
    func jsonBytes() -> [UInt8] {
        var json = JSONTextWriter(pretty: false)
        json.write(self)
        return json.bytes
    }

    static func remove(from stateDirectory: String) {
        unlink(path(in: stateDirectory))
    }
}

/// A process's start time (clock ticks since boot, field 22 of /proc/PID/stat): with the pid, its identity.
public enum ProcessIdentity {
    public static func startTime(of pid: Int32) -> UInt64? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat"),
            let text = String(data: data, encoding: .utf8), let close = text.lastIndex(of: ")")
        else { return nil }
        // Fields after "pid (comm)": state is field 3, starttime is field 22.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }

    /// Whether `pid` is still the process recorded with `startTime`.
    public static func isSame(_ pid: Int32, startTime: UInt64) -> Bool {
        self.startTime(of: pid) == startTime
    }
}

extension RuntimeRecord: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("clusterdPID", clusterdPID)
            $0.member("nextSerials", nextSerials)
            $0.member("notifySocketPath", notifySocketPath)
            $0.member("router", router)
            $0.member("version", version)
            $0.member("workers", workers)
        }
    }
}

extension RuntimeRecord.Entry: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("startTime", startTime)
            $0.member("worker", worker)
        }
    }
}

extension RuntimeRecord.Process: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("listenerFDs", listenerFDs)
            $0.member("pid", pid)
            $0.member("startTime", startTime)
        }
    }
}

/// As AdoptedWorker's Codable conformance has it (the id as an object), for JSONDecoder to read back.
extension AdoptedWorker: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("id", IDObject(id: id))
            $0.member("pid", pid)
            $0.member("port", port)
            $0.member("readyAt", readyAt.map { NanosecondsObject(nanoseconds: $0.nanoseconds) })
            $0.member("state", state.rawValue)
            $0.member("statusText", statusText)
        }
    }

    private struct IDObject: JSONTextWritable {
        var id: WorkerID
        func write(to json: inout JSONTextWriter) {
            json.object {
                $0.member("serial", id.serial)
                $0.member("tenant", id.tenant)
            }
        }
    }

    private struct NanosecondsObject: JSONTextWritable {
        var nanoseconds: Int64
        func write(to json: inout JSONTextWriter) {
            json.object { $0.member("nanoseconds", nanoseconds) }
        }
    }
}
