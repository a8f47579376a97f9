/// Reads the CSV of HAProxy's `show stat` (management.txt, 9.1 "CSV format"): the first line starts with `#`
/// and names the columns; fields may be double-quoted, with `""` for a quote inside.
public enum HAProxyStatistics {
    /// One proxy or server line: who, and its session counters.
    public struct Row: Hashable, Sendable {
        /// `pxname`: the frontend or backend.
        public var proxy: String
        /// `svname`: the server, or `FRONTEND` / `BACKEND`.
        public var server: String
        /// `scur`: current sessions (requests in flight, open tunnels).
        public var currentSessions: Int
        /// `stot`: sessions since HAProxy started.
        public var totalSessions: Int

        public init(proxy: String, server: String, currentSessions: Int, totalSessions: Int) {
            self.proxy = proxy
            self.server = server
            self.currentSessions = currentSessions
            self.totalSessions = totalSessions
        }
    }

    /// The rows of `csv`, found by the header's column names. Lines whose counters are not numbers are left
    /// out; a missing header or column is an error.
    public static func parse(_ csv: String) throws(HAProxyError) -> [Row] {
        var lines = csv.split(omittingEmptySubsequences: true) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }[...]
        guard let headerLine = lines.popFirst(), headerLine.hasPrefix("#") else {
            throw HAProxyError(
                .unreadableStatistics,
                "the show stat answer does not start with its '# pxname,svname,…' header; is this the stats socket?"
            )
        }
        let header = fields(of: headerLine.dropFirst()).map { $0.trimmingSpaces }
        func column(_ name: String) throws(HAProxyError) -> Int {
            guard let index = header.firstIndex(of: name) else {
                throw HAProxyError(.unreadableStatistics, "the show stat header has no \"\(name)\" column")
            }
            return index
        }
        let proxy = try column("pxname")
        let server = try column("svname")
        let current = try column("scur")
        let total = try column("stot")
        let needed = max(proxy, server, current, total)
        var rows: [Row] = []
        for line in lines where !line.hasPrefix("#") {
            let values = fields(of: line)
            guard values.count > needed, let scur = Int(values[current]), let stot = Int(values[total]) else {
                continue
            }
            rows.append(Row(proxy: values[proxy], server: values[server], currentSessions: scur, totalSessions: stot))
        }
        return rows
    }

    /// The comma-separated fields of one line; a field in double quotes may hold commas and `""`.
    static func fields(of line: Substring) -> [String] {
        var fields: [String] = []
        var field = ""
        var quoted = false
        var iterator = line.makeIterator()
        var pending: Character? = nil
        while let character = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if character == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.append("\"")
                    } else {
                        quoted = false
                        pending = next
                    }
                } else {
                    field.append(character)
                }
            } else if character == "\"" && field.isEmpty {
                quoted = true
            } else if character == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
