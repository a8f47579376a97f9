import ClusterCore

/// `clusterctl status` as text: a summary line, then one line per tenant with its workers indented under it.
///
/// Columns are as wide as their widest cell; the last, free-text column (LAST ERROR, STATUS) is cut so that
/// no line is longer than `width` characters. Plain text: no colours, no trailing spaces.
public struct StatusTable: Sendable {
    public var snapshot: ClusterSnapshot
    public var width: Int

    public init(_ snapshot: ClusterSnapshot, width: Int = 100) {
        self.snapshot = snapshot
        self.width = width
    }

    static let tenantHeader = ["TENANT", "STATE", "WORKERS", "SCALE", "WAITING", "LAST ERROR"]
    static let workerHeader = ["  WORKER", "PID", "PORT", "STATE", "UPTIME", "IN-FLIGHT", "IDLE-IN", "STATUS"]
    static let gap = "  "

    public var lines: [String] {
        var lines = [summary]
        guard !snapshot.tenants.isEmpty else {
            lines.append("no tenants")
            return lines
        }
        let tenantRows = snapshot.tenants.map(Self.row(tenant:))
        let workerRows = snapshot.tenants.map { $0.workers.map(Self.row(worker:)) }
        let hasWorkers = workerRows.contains { !$0.isEmpty }
        let tenantWidths = Self.widths([Self.tenantHeader] + tenantRows)
        let workerWidths = Self.widths([Self.workerHeader] + workerRows.flatMap { $0 })
        lines.append(render(Self.tenantHeader, tenantWidths))
        if hasWorkers {
            lines.append(render(Self.workerHeader, workerWidths))
        }
        for (tenantRow, workers) in zip(tenantRows, workerRows) {
            lines.append(render(tenantRow, tenantWidths))
            for workerRow in workers {
                lines.append(render(workerRow, workerWidths))
            }
        }
        return lines
    }

    /// The whole table, one `\n` after each line.
    public var text: String {
        lines.map { $0 + "\n" }.joined()
    }

    private var summary: String {
        let tenants = snapshot.tenants.count == 1 ? "1 tenant" : "\(snapshot.tenants.count) tenants"
        var text =
            "clusterd: \(tenants), \(snapshot.workersTotal) of at most \(snapshot.maxWorkers) workers on the host"
        if snapshot.shuttingDown { text += ", shutting down" }
        return text
    }

    static func row(tenant: TenantSnapshot) -> [String] {
        let ready = tenant.workers.filter { $0.state == .ready }.count
        var lastError = tenant.lastError.map(oneLine) ?? "-"
        if tenant.state == .failed, let retryIn = tenant.retryInMilliseconds {
            let retry = "retry in \(Duration.milliseconds(retryIn).formattedBriefly)"
            lastError = tenant.lastError == nil ? retry : "\(retry): \(lastError)"
        }
        return [
            oneLine(tenant.name), tenant.state.rawValue, "\(ready)/\(tenant.target)",
            tenant.scale.map { "\($0)" } ?? "-",
            "\(tenant.waiting)", lastError,
        ]
    }

    static func row(worker: WorkerSnapshot) -> [String] {
        var status: [String] = []
        if let reason = worker.stopReason { status.append("(\(reason))") }
        if let text = worker.status, !text.isEmpty { status.append(oneLine(text)) }
        return [
            "  " + oneLine(worker.id.description), worker.pid.map { "\($0)" } ?? "-", "\(worker.port)",
            worker.state.rawValue,
            worker.uptimeMilliseconds.map { Duration.milliseconds($0).formattedBriefly } ?? "-", "\(worker.inFlight)",
            worker.idleInMilliseconds.map { Duration.milliseconds($0).formattedBriefly } ?? "-",
            status.isEmpty ? "-" : status.joined(separator: " "),
        ]
    }

    /// Control characters (a worker's `STATUS=` is free text) become spaces, so a row stays one line.
    static func oneLine(_ text: String) -> String {
        // Most text is printable ASCII, left as it is without looking at each character.
        if text.utf8.allSatisfy({ (0x20..<0x7F).contains($0) }) { return text }
        return String(text.map { $0.isNewline || $0.asciiValue.map { $0 < 0x20 || $0 == 0x7F } == true ? " " : $0 })
    }

    /// The widest cell of each column but the last, which is as wide as it needs to be.
    static func widths(_ rows: [[String]]) -> [Int] {
        guard let columns = rows.first?.count else { return [] }
        return (0..<columns).map { column in rows.map { $0[column].count }.max() ?? 0 }
    }

    private func render(_ cells: [String], _ widths: [Int]) -> String {
        var line = ""
        var length = 0  // characters in `line`
        for (index, cell) in cells.enumerated() {
            let cellLength = cell.count
            if index == cells.count - 1 {
                let room = max(width - length, 1)
                line += cellLength <= room ? cell : String(cell.prefix(max(room - 3, 0))) + "..."
            } else {
                let padded = max(cellLength, widths[index]) + Self.gap.count
                line += cell
                line += String(repeating: " ", count: padded - cellLength)
                length += padded
            }
        }
        while line.last == " " { line.removeLast() }
        return line
    }
}
