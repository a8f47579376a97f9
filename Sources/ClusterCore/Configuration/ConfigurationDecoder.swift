/// Validates a parsed tenants.conf document into a ``ClusterConfiguration``.
///
/// Every problem is collected, never just the first: a user fixing a file sees the whole list at once.
/// Unknown keys are errors, because a typo must not silently change behaviour.
public struct ConfigurationDecoder: Sendable {
    /// Relative paths in the document are resolved against this directory (the file's own).
    public var baseDirectory: String?

    public init(baseDirectory: String? = nil) {
        self.baseDirectory = baseDirectory
    }

    /// The configuration, or every issue found.
    public func decode(_ document: [String: ConfigValue]) -> Result<ClusterConfiguration, InvalidConfiguration> {
        var issues = IssueList()
        var root = TableReader(path: "", table: document, issues: issues)
        let clusterTable = root.table("cluster")
        let defaultsTable = root.table("defaults")
        let tenantsTable = root.table("tenant")
        root.finish(known: ["cluster", "defaults", "tenant"])
        issues = root.issues

        var config = ClusterConfiguration()
        if let clusterTable {
            var cluster = TableReader(path: "cluster", table: clusterTable, issues: issues)
            decodeCluster(&cluster, into: &config)
            issues = cluster.issues
        }

        var defaults = TenantSettings()
        if let defaultsTable {
            var reader = TableReader(path: "defaults", table: defaultsTable, issues: issues)
            decodeTenantSettings(&reader, into: &defaults, isDefaults: true)
            issues = reader.issues
        }

        for (name, value) in (tenantsTable ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "tenant.\(name)"
            guard case .table(let table) = value else {
                issues.add(path, "must be a table ([\(path)]), found \(value.typeName)")
                continue
            }
            if let problem = TenantName.problem(with: name) {
                issues.add(path, problem)
            }
            var settings = defaults
            settings.hosts = nil
            var reader = TableReader(path: path, table: table, issues: issues)
            decodeTenantSettings(&reader, into: &settings, isDefaults: false)
            issues = reader.issues
            if let tenant = settings.resolve(name: name, path: path, cluster: config, issues: &issues) {
                config.tenants[name] = tenant
            }
        }

        checkHostWide(config, issues: &issues)
        return issues.isEmpty ? .success(config) : .failure(InvalidConfiguration(issues: issues.all))
    }

    private func decodeCluster(_ reader: inout TableReader, into config: inout ClusterConfiguration) {
        if let value = reader.value("listen") {
            let texts: [String]?
            switch value {
            case .string(let text): texts = [text]
            case .array(let items): texts = items.map { if case .string(let s) = $0 { s } else { nil } }.allPresent()
            default: texts = nil
            }
            if let texts, !texts.isEmpty {
                var addresses: [ListenAddress] = []
                for text in texts {
                    if let address = ListenAddress(parsing: text) {
                        addresses.append(address)
                    } else {
                        reader.issue("listen", "\"\(text)\" is not HOST:PORT (IPv6 as \"[::1]:8080\", port 0-65535)")
                    }
                }
                config.listen = addresses
            } else {
                reader.issue("listen", "must be \"HOST:PORT\" or a non-empty array of them, found \(value.typeName)")
            }
        }
        if let path = reader.string("control_socket") {
            let resolved = resolve(path)
            if path.isEmpty {
                reader.issue("control_socket", "must not be empty")
            } else if resolved.utf8.count > 107 {
                reader.issue(
                    "control_socket",
                    "path is \(resolved.utf8.count) bytes; a Unix socket path must be at most 107 bytes"
                )
            }
            config.controlSocket = resolved
        }
        if let path = reader.string("state_dir") {
            if path.isEmpty { reader.issue("state_dir", "must not be empty") }
            config.stateDirectory = resolve(path)
        }
        if let text = reader.string("ports") {
            if let range = PortRange(parsing: text) {
                config.ports = range
            } else {
                reader.issue(
                    "ports",
                    "\"\(text)\" is not a port range like \"20000-29999\" (ports 1-65535, low ≤ high)"
                )
            }
        }
        if let count = reader.integer("max_workers") {
            if count < 1 {
                reader.issue("max_workers", "must be ≥ 1, found \(count)")
            } else {
                config.maxWorkers = count
            }
        }
        if let domain = reader.string("domain") {
            let normalized = HostName.normalize(domain)
            if let problem = HostName.problem(with: normalized) {
                reader.issue("domain", problem)
            } else {
                config.domain = normalized
            }
        }
        if let group = reader.string("control_group") {
            if group.isEmpty || group.contains(where: { $0 == ":" || $0 == "/" || $0.isWhitespace }) {
                reader.issue("control_group", "\"\(group)\" is not a group name")
            } else {
                config.controlGroup = group
            }
        }
        reader.finish(known: [
            "listen", "control_socket", "state_dir", "ports", "max_workers", "domain", "control_group",
        ])
    }

    private func decodeTenantSettings(
        _ reader: inout TableReader,
        into settings: inout TenantSettings,
        isDefaults: Bool
    ) {
        if let value = reader.value("command") {
            if case .array(let items) = value,
                let strings = items.map({ item -> String? in
                    if case .string(let s) = item { s } else { nil }
                }).allPresent()
            {
                settings.command = strings
                settings.commandIsInvalid = false
            } else {
                reader.issue("command", "must be an array of strings like [\"/usr/bin/app\", \"--port\", \"{port}\"]")
                settings.commandIsInvalid = true
            }
        }
        for (key, keyPath) in TenantSettings.durationKeys {
            if let text = reader.string(key) {
                if let duration = DurationSyntax.parse(text) {
                    settings[keyPath: keyPath] = duration
                } else {
                    reader.issue(key, "\"\(text)\" is not a duration like \"250ms\", \"30s\", \"5m\" or \"1h30m\"")
                }
            }
        }
        for (key, keyPath) in TenantSettings.countKeys {
            if let count = reader.integer(key) {
                if count < 0 {
                    reader.issue(key, "must be ≥ 0, found \(count)")
                } else {
                    settings[keyPath: keyPath] = count
                }
            }
        }
        if let text = reader.string("readiness") {
            if let readiness = Readiness(rawValue: text) {
                settings.readiness = readiness
            } else {
                let choices = Readiness.allCases.map(\.rawValue).joined(separator: " | ")
                reader.issue("readiness", "\"\(text)\" is not one of \(choices)")
            }
        }
        if let value = reader.value("env") {
            if case .table(let table) = value {
                var environment = settings.environment
                for (name, item) in table.sorted(by: { $0.key < $1.key }) {
                    guard case .string(let text) = item else {
                        reader.issue("env.\(name)", "must be a string, found \(item.typeName)")
                        continue
                    }
                    if let problem = EnvironmentName.problem(with: name) {
                        reader.issue("env.\(name)", problem)
                    } else if text.contains("\0") {
                        reader.issue("env.\(name)", "must not contain a NUL byte")
                    } else {
                        environment[name] = text
                    }
                }
                settings.environment = environment
            } else {
                reader.issue(
                    "env",
                    "must be a table of strings like { DATABASE_URL = \"...\" }, found \(value.typeName)"
                )
            }
        }
        if let directory = reader.string("working_directory") {
            if directory.hasPrefix("/") {
                settings.workingDirectory = directory
            } else {
                reader.issue("working_directory", "must be an absolute path, found \"\(directory)\"")
            }
        }
        var known = TenantSettings.sharedKeys
        if isDefaults {
            if reader.value("hosts") != nil {
                reader.issue("hosts", "belongs in a [tenant.NAME] table: host names route to one tenant")
            }
            known.insert("hosts")
        } else if let value = reader.value("hosts") {
            if case .array(let items) = value,
                let names = items.map({ item -> String? in
                    if case .string(let s) = item { s } else { nil }
                }).allPresent()
            {
                var hosts: [String] = []
                for name in names {
                    let host = HostName.normalize(name)
                    if let problem = HostName.problem(with: host) {
                        reader.issue("hosts", problem)
                    } else if hosts.contains(host) {
                        reader.issue("hosts", "\"\(host)\" is listed twice")
                    } else {
                        hosts.append(host)
                    }
                }
                settings.hosts = hosts
            } else {
                reader.issue("hosts", "must be an array of host names like [\"acme.example.test\"]")
            }
            known.insert("hosts")
        } else {
            known.insert("hosts")
        }
        reader.finish(known: known)
    }

    private func checkHostWide(_ config: ClusterConfiguration, issues: inout IssueList) {
        if config.ports.count < config.maxWorkers {
            issues.add(
                "cluster.ports",
                "range \(config.ports) has \(config.ports.count) ports, fewer than cluster.max_workers (\(config.maxWorkers))"
            )
        }
        // In 128 bits: each min_workers is at most the cap, but a few of them near Int.max would overflow an Int.
        let floors = config.tenants.values.reduce(Int128(0)) { $0 + Int128($1.minWorkers) }
        if floors > Int128(config.maxWorkers) {
            issues.add(
                "cluster.max_workers",
                "the tenants' min_workers add up to \(floors), more than the host-wide cap (\(config.maxWorkers))"
            )
        }
        var owner: [String: String] = [:]
        if let domain = config.domain {
            for name in config.tenantNames { owner["\(name).\(domain)"] = name }
        }
        for name in config.tenantNames {
            for host in config.tenants[name]!.hosts {
                if let other = owner[host], other != name {
                    issues.add("tenant.\(name).hosts", "\"\(host)\" already routes to tenant \"\(other)\"")
                } else {
                    owner[host] = name
                }
            }
        }
    }

    private func resolve(_ path: String) -> String {
        guard !path.hasPrefix("/"), !path.isEmpty, let base = baseDirectory else { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }
}

/// A configuration that failed validation, with every issue found.
public struct InvalidConfiguration: Error, Sendable, Equatable {
    public var issues: [ConfigurationIssue]

    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }
}

/// Tenant settings while decoding: `[defaults]` then the tenant's own table, resolved at the end.
private struct TenantSettings {
    var hosts: [String]?
    var command: [String]?
    /// `command` was set but not to an array of strings (already reported): not "missing".
    var commandIsInvalid = false
    var environment: [String: String] = [:]
    var workingDirectory: String?
    var idleTimeout = TenantDefaults.idleTimeout
    var startTimeout = TenantDefaults.startTimeout
    var stopTimeout = TenantDefaults.stopTimeout
    var drainTimeout = TenantDefaults.drainTimeout
    var watchdog: Duration = .zero
    var minWorkers = 0
    var maxWorkers = 1
    var readiness = Readiness.listenFDs
    var queueLimit = TenantDefaults.queueLimit
    var maxConcurrency = 0

    static var durationKeys: [(String, WritableKeyPath<TenantSettings, Duration>)] {
        [
            ("idle_timeout", \.idleTimeout), ("start_timeout", \.startTimeout), ("stop_timeout", \.stopTimeout),
            ("drain_timeout", \.drainTimeout), ("watchdog", \.watchdog),
        ]
    }
    static var countKeys: [(String, WritableKeyPath<TenantSettings, Int>)] {
        [
            ("min_workers", \.minWorkers), ("max_workers", \.maxWorkers), ("queue_limit", \.queueLimit),
            ("max_concurrency", \.maxConcurrency),
        ]
    }
    static let sharedKeys: Set<String> = Set(
        ["command", "readiness", "env", "working_directory"] + durationKeys.map(\.0) + countKeys.map(\.0)
    )

    func resolve(
        name: String,
        path: String,
        cluster: ClusterConfiguration,
        issues: inout IssueList
    ) -> TenantConfiguration? {
        let before = issues.count
        if let command {
            if command.isEmpty || command[0].isEmpty {
                issues.add("\(path).command", "must name a program: the first element is empty or missing")
            }
            for argument in command {
                for placeholder in CommandTemplate.placeholders(in: argument)
                where !CommandTemplate.known.contains(placeholder) {
                    issues.add(
                        "\(path).command",
                        "unknown placeholder {\(placeholder)}; known: {port}, {tenant}"
                    )
                }
            }
        } else if !commandIsInvalid {
            issues.add("\(path).command", "missing: set command here or in [defaults]")
        }
        for (key, value) in [("start_timeout", startTimeout), ("stop_timeout", stopTimeout)] where value <= .zero {
            issues.add("\(path).\(key)", "must be longer than 0s")
        }
        if maxWorkers < 1 {
            issues.add("\(path).max_workers", "must be ≥ 1, found \(maxWorkers)")
        } else if minWorkers > maxWorkers {
            issues.add("\(path).max_workers", "must be ≥ min_workers (\(minWorkers)), found \(maxWorkers)")
        }
        if maxWorkers > cluster.maxWorkers {
            issues.add(
                "\(path).max_workers",
                "\(maxWorkers) is above the host-wide cap cluster.max_workers (\(cluster.maxWorkers))"
            )
        }
        guard issues.count == before, let command else { return nil }
        return TenantConfiguration(
            name: name,
            hosts: hosts ?? [],
            command: command,
            environment: environment,
            workingDirectory: workingDirectory,
            idleTimeout: idleTimeout,
            startTimeout: startTimeout,
            stopTimeout: stopTimeout,
            drainTimeout: drainTimeout,
            watchdog: watchdog,
            minWorkers: minWorkers,
            maxWorkers: maxWorkers,
            readiness: readiness,
            queueLimit: queueLimit,
            maxConcurrency: maxConcurrency
        )
    }
}

/// Issues in the order found.
private struct IssueList {
    private(set) var all: [ConfigurationIssue] = []
    var count: Int { all.count }
    var isEmpty: Bool { all.isEmpty }

    mutating func add(_ keyPath: String, _ message: String) {
        all.append(ConfigurationIssue(keyPath: keyPath, message: message))
    }
}

/// Reads the keys of one table, type-checking each and remembering which were used.
private struct TableReader {
    let path: String
    let table: [String: ConfigValue]
    var issues: IssueList

    init(path: String, table: [String: ConfigValue], issues: IssueList) {
        self.path = path
        self.table = table
        self.issues = issues
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    mutating func issue(_ key: String, _ message: String) {
        issues.add(keyPath(key), message)
    }

    func value(_ key: String) -> ConfigValue? { table[key] }

    mutating func string(_ key: String) -> String? {
        guard let value = table[key] else { return nil }
        if case .string(let text) = value { return text }
        issue(key, "must be a string, found \(value.typeName)")
        return nil
    }

    mutating func integer(_ key: String) -> Int? {
        guard let value = table[key] else { return nil }
        if case .integer(let number) = value { return number }
        issue(key, "must be an integer, found \(value.typeName)")
        return nil
    }

    mutating func table(_ key: String) -> [String: ConfigValue]? {
        guard let value = table[key] else { return nil }
        if case .table(let inner) = value { return inner }
        issue(key, "must be a table ([\(keyPath(key))]), found \(value.typeName)")
        return nil
    }

    /// Reports every key not in `known`, suggesting the nearest known one.
    mutating func finish(known: Set<String>) {
        for key in table.keys.sorted() where !known.contains(key) {
            var message = "unknown key"
            if let suggestion = KeySuggestion.nearest(to: key, in: known) {
                message += "; did you mean \"\(suggestion)\"?"
            } else {
                message += "; known keys: \(known.sorted().joined(separator: ", "))"
            }
            issue(key, message)
        }
    }
}

enum KeySuggestion {
    /// The known key within a small edit distance of `key`, if any.
    static func nearest(to key: String, in known: Set<String>) -> String? {
        let candidates = known.map { ($0, distance(Array(key), Array($0))) }
            .filter { $0.1 <= max(2, key.count / 3) }
        return candidates.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    private static func distance(_ a: [Character], _ b: [Character]) -> Int {
        var previous = Array(0...b.count)
        for (i, ca) in a.enumerated() {
            var current = [i + 1]
            for (j, cb) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (ca == cb ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}

enum TenantName {
    /// Why `name` cannot be a tenant name (it becomes a DNS label under `cluster.domain`), or nil.
    static func problem(with name: String) -> String? {
        let allowed = name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        if name.isEmpty || name.utf8.count > 63 || !allowed || name.hasPrefix("-") || name.hasSuffix("-") {
            return
                "tenant name \"\(name)\" must be 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
        }
        return nil
    }
}

enum HostName {
    static func normalize(_ host: String) -> String {
        var lowered = host.lowercased()
        if lowered.hasSuffix(".") { lowered.removeLast() }
        return lowered
    }

    static func problem(with host: String) -> String? {
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let valid =
            !host.isEmpty && host.utf8.count <= 253
            && labels.allSatisfy { label in
                !label.isEmpty && label.utf8.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
            }
        return valid ? nil : "\"\(host)\" is not a valid host name"
    }
}

enum EnvironmentName {
    /// Variables clusterd sets itself; a tenant setting them would break the worker contract.
    static let reserved: Set<String> = [
        "PORT", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
    ]

    static func problem(with name: String) -> String? {
        if name.isEmpty || name.contains("=") || name.contains("\0") {
            return "\"\(name)\" is not an environment variable name"
        }
        if reserved.contains(name) {
            return "is set by clusterd for every worker and cannot be overridden"
        }
        if name.hasPrefix("CLUSTERD_") {
            return
                "names starting with CLUSTERD_ are reserved for clusterd (it sets CLUSTERD_TENANT and CLUSTERD_WORKER)"
        }
        return nil
    }
}

extension Array {
    /// The unwrapped elements if none is nil.
    fileprivate func allPresent<Wrapped>() -> [Wrapped]? where Element == Wrapped? {
        var result: [Wrapped] = []
        for element in self {
            guard let value = element else { return nil }
            result.append(value)
        }
        return result
    }
}
