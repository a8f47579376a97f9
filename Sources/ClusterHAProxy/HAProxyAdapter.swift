import ClusterControl
import ClusterCore
import Glibc
import Logging

/// `clusterd haproxy`: follows clusterd's control channel and keeps a running HAProxy in step with it.
///
/// One thread, blocking calls, each bounded by a timeout. It writes haproxy.cfg and the host map, reloads HAProxy
/// through its master CLI when they change (saving the servers' state first, so that the new process keeps its
/// workers), sets each slot through the stats socket as workers come and go (``HAProxySync``), resynchronizes
/// every slot when HAProxy's worker process changes or either connection comes back, and reports each worker's
/// in-flight count from `show stat` every ``Options/activityInterval``. Neither side going away stops it: it
/// says what is wrong and tries again.
public final class HAProxyAdapter {
    public struct Options: Sendable {
        public var controlSocket: String
        public var files: HAProxyFiles
        /// HAProxy's master CLI (`haproxy -W -S PATH`): where reloads are asked for.
        public var masterSocket: String
        /// haproxy.cfg's settings; its map and server-state paths are the files'.
        public var settings: HAProxyConfiguration.Settings
        public var activityInterval: Duration = .seconds(1)
        /// Reloads closer together than this wait (a burst of `clusterctl reload` costs one).
        public var minimumReloadInterval: Duration = .seconds(2)
        /// How long a reload may take before the new worker answers on the stats socket.
        public var reloadTimeout: Duration = .seconds(15)

        public init(
            controlSocket: String,
            files: HAProxyFiles,
            masterSocket: String,
            settings: HAProxyConfiguration.Settings
        ) {
            self.controlSocket = controlSocket
            self.files = files
            self.masterSocket = masterSocket
            var settings = settings
            settings.mapFilePath = files.hostMap
            settings.serverStateFilePath = files.serverState
            self.settings = settings
        }
    }

    private let options: Options
    private let logger: Logger
    private let runtime: HAProxyRuntimeSocket
    private let master: HAProxyRuntimeSocket
    private var sync = HAProxySync()
    /// The layout of the configuration HAProxy runs (or will read when it starts).
    private var runningLayout: HAProxyLayout?
    /// The worker pid answering the stats socket; nil while HAProxy cannot be reached.
    private var haproxyPID: Int?
    private var lastHAProxyFailure: String?
    private var lastReload: ContinuousClock.Instant?
    /// The files changed and HAProxy has not reloaded them yet.
    private var reloadPending = false
    /// The configuration text for which a reload was forced because HAProxy lacked its backends: not again.
    private var forcedReloadFor: String?
    /// The configuration text HAProxy refused to reload: not tried again until the text changes.
    private var refusedConfiguration: String?
    private var lastMasterFailure: String?
    private var onReady: (() -> Void)?

    /// `onReady` runs once, when the files are written and HAProxy (if running) is in step: systemd's READY=1.
    public init(options: Options, logger: Logger, onReady: (() -> Void)? = nil) {
        self.options = options
        self.logger = logger
        self.runtime = HAProxyRuntimeSocket(path: options.settings.statsSocketPath)
        self.master = HAProxyRuntimeSocket(path: options.masterSocket)
        self.onReady = onReady
    }

    /// Runs until `running()` is false (checked at least every ``Options/activityInterval``).
    public func run(while running: () -> Bool) {
        var backoff = ReconnectBackoff()
        while running() {
            let began = ContinuousClock.now
            do {
                try follow(while: running)
            } catch {
                logger.warning(
                    "clusterd's control channel is gone; HAProxy keeps its workers, reconnecting",
                    metadata: ["error": "\(error)"]
                )
            }
            let pause = backoff.ended(after: .now - began)
            let until = ContinuousClock.now + pause
            while running() && ContinuousClock.now < until { sleep(for: min(until - .now, .milliseconds(100))) }
        }
    }

    // MARK: - Following clusterd

    private func follow(while running: () -> Bool) throws {
        let client = try ControlClient(
            socketPath: options.controlSocket,
            timeout: .seconds(10),
            client: .haproxyAdapter
        )
        let hello = try client.hello()
        let snapshot = try subscribe(client)
        logger.info(
            "following clusterd",
            metadata: ["pid": "\(hello.pid)", "tenants": "\(snapshot.tenants.count)", "socket": "\(client.socketPath)"]
        )
        probeHAProxy()
        converge(to: snapshot)
        if let onReady {
            self.onReady = nil
            onReady()
        }
        var nextTick = ContinuousClock.now + options.activityInterval
        while running() {
            if let event = try client.nextEvent(waitingAtMost: max(.zero, nextTick - .now)) {
                if perform(sync.apply(event)) { converge(to: try status(client)) }
            }
            if ContinuousClock.now >= nextTick {
                try tick(client)
                nextTick = .now + options.activityInterval
            }
        }
    }

    private func subscribe(_ client: ControlClient) throws -> ClusterSnapshot {
        switch try client.request(.subscribe) {
        case .success(let value): return try value.decode(as: SubscribeReply.self).snapshot
        case .failure(let error): throw ControlUnreachable(socketPath: client.socketPath, reason: error.message)
        }
    }

    /// A fresh snapshot on the subscribed connection. Events that arrive before its reply are already in it.
    private func status(_ client: ControlClient) throws -> ClusterSnapshot {
        switch try client.request(.status(tenant: nil)) {
        case .success(let value): return try value.decode(as: ClusterSnapshot.self)
        case .failure(let error): throw ControlUnreachable(socketPath: client.socketPath, reason: error.message)
        }
    }

    /// Every second: notices an HAProxy that reloaded, restarted, went or came back; carries out a reload that
    /// had to wait; reports activity.
    private func tick(_ client: ControlClient) throws {
        let known = haproxyPID
        probeHAProxy()
        if let pid = haproxyPID, pid != known {
            logger.info(
                known == nil ? "HAProxy answers; setting every slot" : "HAProxy's worker changed; setting every slot",
                metadata: ["haproxy_pid": "\(pid)"]
            )
            converge(to: try status(client))
        } else if reloadPending, haproxyPID != nil, reloadAllowed {
            converge(to: try status(client))
        }
        guard haproxyPID != nil else { return }
        let statistics: String
        do {
            statistics = try runtime.send("show stat -1 4 -1")  // servers only
        } catch {
            haproxyUnreachable(error)
            return
        }
        do {
            let report = try sync.activity(fromStatistics: statistics)
            if !report.isEmpty, case .failure(let error) = try client.request(.activity(report)) {
                logger.warning("clusterd refused an activity report", metadata: ["error": "\(error.message)"])
            }
        } catch let error as HAProxyError {
            logger.warning("cannot read HAProxy's show stat", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - HAProxy

    /// Asks the stats socket which worker serves it (nil when nothing answers).
    private func probeHAProxy() {
        do {
            let info = try runtime.send("show info")
            guard let pid = HAProxyProcesses.workerPID(fromShowInfo: info) else {
                haproxyUnreachable("its show info answer has no Pid (is this HAProxy's stats socket?)")
                return
            }
            if lastHAProxyFailure != nil { logger.info("HAProxy's runtime API answers again") }
            lastHAProxyFailure = nil
            haproxyPID = pid
        } catch {
            haproxyUnreachable(error)
        }
    }

    /// Logged once per distinct reason; retried every tick.
    private func haproxyUnreachable(_ reason: some CustomStringConvertible) {
        haproxyPID = nil
        let text = reason.description
        if text != lastHAProxyFailure {
            logger.error("cannot drive HAProxy; retrying every second", metadata: ["error": "\(text)"])
        }
        lastHAProxyFailure = text
    }

    private var reloadAllowed: Bool {
        lastReload.map { ContinuousClock.now - $0 >= options.minimumReloadInterval } ?? true
    }

    /// Makes haproxy.cfg and the host map describe `snapshot`, reloads HAProxy if they changed (at most once per
    /// ``Options/minimumReloadInterval``), then sets every slot.
    private func converge(to snapshot: ClusterSnapshot, forcingReload: Bool = false) {
        do {
            let layout = try HAProxyLayout(snapshot)
            let text = try HAProxyConfiguration(settings: options.settings).text(for: layout)
            let files = options.files
            if HAProxyFiles.read(files.configuration) != text || HAProxyFiles.read(files.hostMap) == nil {
                try files.replace(files.hostMap, with: HAProxyConfiguration.mapFile(for: layout))
                try files.replace(files.configuration, with: text)
                logger.info(
                    "wrote HAProxy's configuration",
                    metadata: ["path": "\(files.configuration)", "backends": "\(layout.backends.count)"]
                )
                reloadPending = true
            }
            if forcingReload && forcedReloadFor != text {
                forcedReloadFor = text
                reloadPending = true
            }
            if runningLayout == nil || haproxyPID == nil {
                // HAProxy reads the files when it starts.
                runningLayout = layout
                if haproxyPID == nil { reloadPending = false }
            }
            if reloadPending, refusedConfiguration == text {
                reloadPending = false
            }
            if reloadPending, haproxyPID != nil, reloadAllowed {
                switch reload() {
                case .reloaded:
                    runningLayout = layout
                    reloadPending = false
                case .refused:
                    refusedConfiguration = text
                    reloadPending = false
                case .failed:
                    break  // tried again on a later tick
                }
            }
        } catch let error as HAProxyError {
            logger.error(
                "cannot describe this cluster to HAProxy; it keeps its configuration",
                metadata: ["error": "\(error)"]
            )
        } catch {
            logger.error("cannot write HAProxy's configuration", metadata: ["error": "\(error)"])
        }
        guard let runningLayout else { return }
        let actions = sync.resynchronized(snapshot, running: runningLayout)
        var commands = actions.compactMap { action -> String? in
            if case .run(let command) = action { return command.line }
            return nil
        }
        commands += runningLayout.backends.map { HAProxyCommand.recomputeCookies(ofBackend: $0.name) }
        for case .noFreeSlot(let tenant, let worker) in actions {
            logger.warning(
                "a ready worker has no free HAProxy slot; it gets the next one that frees up",
                metadata: ["tenant": "\(tenant)", "worker": "\(worker)"]
            )
        }
        if haproxyPID != nil, send(commands), !forcingReload {
            logger.warning("HAProxy lacks a backend or server of its configuration; reloading it")
            converge(to: snapshot, forcingReload: true)
        }
    }

    /// Runs the commands of `actions`; true when the configuration must be regenerated (``HAProxySync`` said so,
    /// or HAProxy lacked a backend or server).
    private func perform(_ actions: [HAProxySync.Action]) -> Bool {
        var commands: [String] = []
        var stale = false
        for action in actions {
            switch action {
            case .run(let command): commands.append(command.line)
            case .configurationStale: stale = true
            case .noFreeSlot(let tenant, let worker):
                logger.warning(
                    "a ready worker has no free HAProxy slot; it gets the next one that frees up",
                    metadata: ["tenant": "\(tenant)", "worker": "\(worker)"]
                )
            }
        }
        return (haproxyPID != nil && send(commands)) || stale
    }

    /// Sends runtime commands, a few per connection; true when an answer said a backend or server is missing.
    private func send(_ commands: [String]) -> Bool {
        var missing = false
        var start = commands.startIndex
        while start < commands.endIndex {
            let end = min(start + 64, commands.endIndex)
            let batch = commands[start..<end].joined(separator: "; ")
            start = end
            let answer: String
            do {
                answer = try runtime.send(batch)
            } catch {
                haproxyUnreachable(error)
                return false
            }
            for line in answer.split(separator: "\n") where !HAProxyCommand.isSuccess(answerLine: line) {
                if HAProxyCommand.isMissingServer(answerLine: line) { missing = true }
                logger.warning("HAProxy refused a command", metadata: ["answer": "\(line)", "commands": "\(batch)"])
            }
        }
        return missing
    }

    private enum ReloadOutcome {
        /// The new worker answers on the stats socket.
        case reloaded
        /// HAProxy could not load the configuration and kept its old workers.
        case refused
        /// The master CLI did not answer, or no new worker came in time.
        case failed
    }

    /// Saves the servers' state for the new process, asks the master to reload and waits for the new worker.
    /// A reload HAProxy refuses (a configuration it cannot load) leaves the old workers serving, and is logged.
    private func reload() -> ReloadOutcome {
        lastReload = .now
        let files = options.files
        // The state file is for this reload only: a later cold start must not load ports long since reused.
        defer {
            do {
                try files.clearServerState()
            } catch {
                logger.error("cannot empty the server state file", metadata: ["error": "\(error)"])
            }
        }
        let before: HAProxyProcesses.Master?
        do {
            try files.replace(files.serverState, with: try runtime.send("show servers state"))
            before = HAProxyProcesses.master(fromShowProc: try master.send("show proc"))
            _ = try master.send("reload")
        } catch {
            if "\(error)" != lastMasterFailure {
                logger.error(
                    "cannot reload HAProxy through its master CLI; retrying",
                    metadata: ["error": "\(error)", "hint": "is HAProxy started with -W -S \(options.masterSocket)?"]
                )
            }
            lastMasterFailure = "\(error)"
            return .failed
        }
        lastMasterFailure = nil
        let old = haproxyPID
        let deadline = ContinuousClock.now + options.reloadTimeout
        while ContinuousClock.now < deadline {
            sleep(for: .milliseconds(20))
            if let now = try? HAProxyProcesses.master(fromShowProc: master.send("show proc")), let before,
                now.failedReloads > before.failedReloads
            {
                logger.error(
                    "HAProxy refused the new configuration and keeps the old one; see its log",
                    metadata: ["path": "\(files.configuration)"]
                )
                return .refused
            }
            if let info = try? runtime.send("show info"), let pid = HAProxyProcesses.workerPID(fromShowInfo: info),
                pid != old
            {
                haproxyPID = pid
                logger.info("HAProxy reloaded", metadata: ["haproxy_pid": "\(pid)"])
                return .reloaded
            }
        }
        logger.error(
            "HAProxy did not answer with a new worker after a reload",
            metadata: ["waited": "\(options.reloadTimeout.formattedBriefly)"]
        )
        return .failed
    }

    private func sleep(for duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var time = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var left = timespec()
        while nanosleep(&time, &left) != 0 && errno == EINTR { time = left }
    }
}
