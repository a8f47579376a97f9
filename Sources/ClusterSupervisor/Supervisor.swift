import CSpawn
import CSystemd
import ClusterControl
import ClusterCore
import Glibc
import Logging
import ServiceLifecycle
import TenantsFile

/// The I/O shell around ``ClusterStateMachine``: owns the worker processes, feeds the machine what happens
/// (exits, notify messages, probes, deadlines, requests) and executes the actions it returns.
///
/// One actor owns the machine; a ``Reactor`` thread watches the OS. `run()` lives until shutdown completes:
/// on graceful shutdown (SIGTERM via ServiceLifecycle, or `shutdown()`) every worker is drained and stopped
/// before it returns.
public actor Supervisor: Service {
    public struct Options: Sendable {
        /// The tenants file `reload` re-reads; nil when the configuration was built in code.
        public var tenantsFile: String?
        /// Applied to every configuration read from the file (command-line overrides such as `--listen`).
        public var overrides: @Sendable (inout ClusterConfiguration) -> Void
        /// Tells systemd how clusterd is doing (a no-op outside systemd).
        public var notifier: ServiceNotifier
        /// READY=1 waits for the router (`clusterd router`, subscribed on the control channel) when true.
        public var awaitsRouter: Bool
        /// What an in-place upgrade needs besides the supervisor's own state; nil: upgrades are refused.
        public var upgrade: UpgradeContext?
        /// Workers to take over at start (after an in-place upgrade, or a crash of the previous clusterd).
        public var takeover: Takeover?
        /// NOTIFY_SOCKET for workers; `@name` is the abstract namespace.
        public var notifySocketPath: String
        public var restartPolicy: RestartPolicy
        /// Delay between TCP readiness probes of a starting `tcp` worker: starts at the first, grows to the second.
        public var probeInterval: (initial: Duration, maximum: Duration)

        public init(
            tenantsFile: String? = nil,
            overrides: @escaping @Sendable (inout ClusterConfiguration) -> Void = { _ in },
            notifier: ServiceNotifier = ServiceNotifier(),
            awaitsRouter: Bool = false,
            upgrade: UpgradeContext? = nil,
            takeover: Takeover? = nil,
            notifySocketPath: String? = nil,
            restartPolicy: RestartPolicy = .standard,
            probeInterval: (initial: Duration, maximum: Duration) = (.milliseconds(5), .milliseconds(200))
        ) {
            self.tenantsFile = tenantsFile
            self.overrides = overrides
            self.notifier = notifier
            self.awaitsRouter = awaitsRouter
            self.upgrade = upgrade
            self.takeover = takeover
            self.notifySocketPath = takeover?.notifySocketPath ?? notifySocketPath ?? Self.uniqueNotifySocketPath()
            self.restartPolicy = restartPolicy
            self.probeInterval = probeInterval
        }

        private static func uniqueNotifySocketPath() -> String {
            "@clusterd/\(getpid())/notify-\(String(UInt64.random(in: 0...UInt64.max), radix: 36))"
        }
    }

    private enum Input: Sendable {
        case reactor(Reactor.Event)
        case shutdownRequested
        case activationCancelled(ActivationID, tenant: String)
        /// Every second: systemd's STATUS= and, at its interval, WATCHDOG=1 — sent from this loop, so a wedged
        /// supervisor stops feeding the watchdog.
        case tick
    }

    private(set) var machine: ClusterStateMachine
    private let options: Options
    let logger: Logger
    private let spawn: WorkerSpawn
    private let notifyFD: Int32
    private let reactor: Reactor
    private let inputs: AsyncStream<Input>
    private let inputContinuation: AsyncStream<Input>.Continuation

    private var processes = WorkerProcesses()
    private var probes: ReadinessProbes
    /// The worker of each probe connect the reactor watches.
    private var probeByKey: [UInt64: WorkerID] = [:]
    /// In-flight counts per reporter (control connection); a worker's total is what the machine sees.
    private var activity = ActivityLedger()
    private var waiters: [ActivationID: CheckedContinuation<ActivationAnswer, any Error>] = [:]
    private var nextActivation: UInt64 = 1
    private var subscribers = EventSubscribers()
    private var finished = false
    /// Each worker's start time, as last written to `state_dir/runtime.json`.
    private var workerStartTimes: [Int32: UInt64] = [:]
    /// The set of processes changed since `state_dir/runtime.json` was last written.
    private var runtimeRecordDirty = false
    private var readiness: ServiceReadiness

    public init(configuration: ClusterConfiguration, options: Options = Options(), logger: Logger) throws {
        self.machine = ClusterStateMachine(configuration: configuration, policy: options.restartPolicy)
        self.logger = logger
        var options = options
        var fd = options.takeover?.notifyFD ?? csd_notify_server_open(options.notifySocketPath)
        if fd < 0, options.takeover?.notifyFD == nil, options.takeover != nil {
            // The previous clusterd's name is taken: adopted workers' notifications are lost, new ones get a new one.
            logger.warning("cannot serve the previous NOTIFY_SOCKET again; adopted workers cannot notify")
            options.notifySocketPath = Options().notifySocketPath
            fd = csd_notify_server_open(options.notifySocketPath)
        }
        self.options = options
        self.probes = ReadinessProbes(
            initialInterval: options.probeInterval.initial,
            maximumInterval: options.probeInterval.maximum
        )
        self.readiness = ServiceReadiness(awaitsRouter: options.awaitsRouter)
        guard fd >= 0 else {
            throw SupervisorError(
                .notifySocket,
                "cannot open NOTIFY_SOCKET \(options.notifySocketPath)",
                cause: SystemError("bind")
            )
        }
        self.notifyFD = fd
        var environment: [String: String] = [:]
        for name in WorkerSpawn.inheritedNames {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        var currentDirectory = "/"
        if let directory = getcwd(nil, 0) {
            currentDirectory = String(cString: directory)
            free(directory)
        }
        self.spawn = WorkerSpawn(
            notifySocketPath: options.notifySocketPath,
            inheritedEnvironment: environment,
            currentDirectory: currentDirectory
        )
        (inputs, inputContinuation) = AsyncStream.makeStream(of: Input.self)
        let continuation = inputContinuation
        do {
            reactor = try Reactor(notifyFD: fd, logger: logger) { event in continuation.yield(.reactor(event)) }
        } catch {
            close(fd)
            throw SupervisorError(.reactor, "cannot start the event loop", cause: error)
        }
    }

    /// Workers taken over (from an upgrade, or a crashed clusterd): watched again (exit, output when its pipes
    /// survived), then given to the machine.
    private func takeOver(_ takeover: Takeover) {
        var adopted: [AdoptedWorker] = []
        var withoutOutput = 0
        for taken in takeover.workers {
            let worker = taken.worker
            let pidfd = cspawn_pidfd_open(worker.pid)
            guard pidfd >= 0 else {
                logger.warning("a worker to take over is gone", metadata: metadata(worker.id, ["pid": "\(worker.pid)"]))
                for fd in [taken.stdoutFD, taken.stderrFD].compactMap({ $0 }) { close(fd) }
                continue
            }
            processes.add(
                WorkerProcess(
                    pid: worker.pid,
                    pidfd: pidfd,
                    isChild: taken.isChild,
                    stdoutFD: taken.stdoutFD ?? -1,
                    stderrFD: taken.stderrFD ?? -1
                ),
                of: worker.id,
                exitKey: reactor.watchProcess(pid: worker.pid, pidfd: pidfd, child: taken.isChild)
            )
            if let stdout = taken.stdoutFD, let stderr = taken.stderrFD {
                watchOutput(of: worker.id, stdout: stdout, stderr: stderr)
            } else {
                withoutOutput += 1
            }
            adopted.append(worker)
        }
        let (actions, unknown) = machine.workersAdopted(adopted, nextSerials: takeover.nextSerials, now: Instant.now())
        perform(actions)
        for stray in unknown {
            logger.notice("stopping a taken-over worker of a tenant no longer configured", metadata: metadata(stray.id))
            kill(-stray.pid, SIGTERM)
        }
        switch takeover.source {
        case .upgrade(_, let outcome):
            logger.notice(
                "took over after an upgrade",
                metadata: ["workers": "\(adopted.count)", "outcome": "\(outcome ?? "upgraded")"]
            )
        case .crashRecovery:
            logger.notice(
                "adopted the workers of a clusterd that stopped without stopping them",
                metadata: ["workers": "\(adopted.count)", "without_output": "\(withoutOutput)"]
            )
        }
        runtimeRecordDirty = true
    }

    // MARK: - Service

    /// Supervises until shutdown completes (every worker gone).
    public func run() async throws {
        reactor.start()
        defer {
            reactor.stop()
            close(notifyFD)
            if !options.notifySocketPath.hasPrefix("@") { unlink(options.notifySocketPath) }
            subscribers.finishAll()
            for (_, waiter) in waiters { waiter.resume(returning: .failed(.shuttingDown)) }
            waiters.removeAll()
        }
        logger.info(
            "supervising",
            metadata: [
                "tenants": "\(machine.configuration.tenants.count)",
                "max_workers": "\(machine.configuration.maxWorkers)",
                "notify_socket": "\(options.notifySocketPath)",
            ]
        )
        if let takeover = options.takeover { takeOver(takeover) }
        restoreScales()
        perform(machine.timeElapsed(now: Instant.now()))
        let continuation = inputContinuation
        await withTaskGroup(of: Void.self) { group in
            if options.notifier.isActive {
                let period = min(.seconds(1), options.notifier.watchdogInterval ?? .seconds(1))
                group.addTask {
                    while (try? await Task.sleep(for: period)) != nil { continuation.yield(.tick) }
                }
            }
            await withGracefulShutdownHandler {
                for await input in inputs {
                    handle(input)
                    if finished { break }
                }
            } onGracefulShutdown: {
                continuation.yield(.shutdownRequested)
            }
            group.cancelAll()
        }
    }

    /// Drain and stop every worker; `run()` returns once they are gone.
    public nonisolated func shutdown() {
        inputContinuation.yield(.shutdownRequested)
    }

    // MARK: - Requests

    /// A ready worker of `tenant` (waiting while one starts), or why there is none.
    /// Throws only `CancellationError` when the caller is cancelled while waiting.
    public func activate(tenant: String, additional: Bool = false) async throws -> ActivationAnswer {
        let id = ActivationID(nextActivation)
        nextActivation += 1
        let continuation = inputContinuation
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiter: CheckedContinuation<ActivationAnswer, any Error>) in
                if Task.isCancelled {
                    waiter.resume(throwing: CancellationError())
                    return
                }
                waiters[id] = waiter
                perform(
                    machine.activationRequested(id, tenant: tenant, additional: additional, now: Instant.now())
                )
            }
        } onCancel: {
            continuation.yield(.activationCancelled(id, tenant: tenant))
        }
    }

    /// The router's count of requests (and open WebSockets) in flight on a worker; counts as activity.
    public func reportActivity(worker: WorkerID, inFlight: Int) {
        reportActivity([(worker, inFlight)], from: 0)
    }

    /// A reporter's (one router's) in-flight counts; counts as activity. Each reporter's counts are kept apart
    /// and summed per worker, so several routers can front the same workers. Unknown workers are ignored.
    public func reportActivity(_ reports: [(worker: WorkerID, inFlight: Int)], from reporter: Int) {
        let now = Instant.now()
        var actions: [ClusterAction] = []
        for report in reports where machine.worker(report.worker) != nil {
            let total = activity.reported(report.inFlight, on: report.worker, by: reporter)
            actions += machine.activityReported(report.worker, inFlight: total, now: now)
        }
        perform(actions)
    }

    /// A reporter went away (its control connection closed): its requests went with it.
    public func reporterDisconnected(_ reporter: Int) {
        let changed = activity.reporterDisconnected(reporter)
        guard !changed.isEmpty else { return }
        let now = Instant.now()
        var actions: [ClusterAction] = []
        for worker in changed where machine.worker(worker) != nil {
            actions += machine.activityReported(worker, inFlight: activity.total(on: worker), now: now)
        }
        perform(actions)
    }

    public func scale(tenant: String, workers: Int) throws(CommandRejection) {
        _ = try scale([tenant: workers])
    }

    /// Scales several tenants at once: all are checked before any is applied. Returns every tenant's scale
    /// after the change; the scales are saved in `state_dir`.
    public func scale(_ counts: [String: Int]) throws(CommandRejection) -> [String: Int] {
        perform(try machine.scaleRequested(counts, now: Instant.now()).get())
        saveScales()
        return machine.scales
    }

    public func start(tenant: String) throws(CommandRejection) {
        try perform(machine.startRequested(tenant: tenant, now: Instant.now()).get())
    }

    public func stop(tenant: String) throws(CommandRejection) {
        try perform(machine.stopRequested(tenant: tenant, now: Instant.now()).get())
    }

    public func drain(tenant: String) throws(CommandRejection) {
        try perform(machine.drainRequested(tenant: tenant, now: Instant.now()).get())
    }

    public func restart(tenant: String) throws(CommandRejection) {
        try perform(machine.restartRequested(tenant: tenant, now: Instant.now()).get())
    }

    /// Applies a new, already validated configuration.
    public func reload(_ configuration: ClusterConfiguration) {
        perform(machine.configurationReloaded(configuration, now: Instant.now()))
    }

    /// Re-reads the tenants file and applies it; an invalid file changes nothing and the error lists why.
    public func reloadFromFile() -> Result<Int, ReloadFailure> {
        guard let path = options.tenantsFile else {
            return .failure(ReloadFailure(message: "clusterd was not started from a tenants file", details: []))
        }
        options.notifier.reloading()
        defer { options.notifier.ready(status: statusLine()) }
        switch TenantsFile.load(path: path) {
        case .success(var configuration):
            options.overrides(&configuration)
            reload(configuration)
            return .success(configuration.tenants.count)
        case .failure(let error):
            let details = error.description.split(separator: "\n").map(String.init)
            logger.error("reload refused; the running configuration stays", metadata: ["errors": "\(details.count)"])
            for line in details { logger.error("\(line)") }
            return .failure(
                ReloadFailure(
                    message: "\(path) has \(details.count) error\(details.count == 1 ? "" : "s"); nothing changed",
                    details: details
                )
            )
        }
    }

    /// Re-executes clusterd in place (the binary at `UpgradeContext.executable`, same pid): workers, listeners,
    /// the control socket and the router are handed over, so no worker restarts and no request fails. The new
    /// binary must first pass `clusterd check` on the tenants file. Returns only when the upgrade did not
    /// happen; then clusterd keeps running as it was.
    public func upgrade() async -> SupervisorError {
        guard let context = options.upgrade else {
            return SupervisorError(.upgrade, "this clusterd cannot upgrade in place (started without a tenants file)")
        }
        if let problem = await context.preflight() { return problem }
        logger.notice("upgrading in place", metadata: ["executable": "\(context.executable)"])
        options.notifier.reloading()
        reactor.pause()
        let handover = Handover(
            notifySocketPath: options.notifySocketPath,
            notifyFD: notifyFD,
            controlSocketFD: context.controlSocketFD,
            controlSocketOwned: context.controlSocketOwned,
            routerListenerFDs: context.routerListenerFDs,
            routerPID: context.routerPID(),
            workers: machine.workersToHandOver.compactMap { worker in
                processes[worker.id].map {
                    Handover.HandedWorker(
                        worker: worker,
                        stdoutFD: $0.stdoutFD,
                        stderrFD: $0.stderrFD,
                        isChild: $0.isChild
                    )
                }
            },
            nextSerials: machine.nextSerials,
            fallbackExecutableFD: context.fallbackExecutableFD,
            arguments: context.arguments,
            handovers: upgradeHistory.handovers + 1,
            outcome: nil
        )
        let failure = handover.exec(context.executable)
        reactor.start()
        options.notifier.ready(status: statusLine())
        logger.error("upgrade failed; still running", metadata: ["error": "\(failure)"])
        return failure
    }

    /// How many in-place upgrades this process has been through, and how the last one went.
    public var upgradeHistory: (handovers: Int, outcome: String?) {
        if case .upgrade(let handovers, let outcome) = options.takeover?.source {
            return (handovers, outcome ?? "upgraded")
        }
        return (0, nil)
    }

    public func status() -> ClusterStatus {
        machine.status(now: Instant.now())
    }

    /// The control channel accepts connections.
    public func controlChannelListening() {
        if readiness.controlChannelListening() { announceReady() }
    }

    /// A control client subscribed; `client` is the name it gave in `hello` (the router says `clusterd-router`).
    public func subscriberConnected(client: String?) {
        if client == ControlClientName.router.rawValue {
            if readiness.routerSubscribed() { announceReady() }
            writeRuntimeRecord()  // a new router pid
        }
    }

    /// READY=1: the control channel listens and the router (if any) has the routing table.
    private func announceReady() {
        options.notifier.ready(status: statusLine())
        logger.info("serving", metadata: ["status": "\(statusLine())"])
    }

    /// "3 tenants, 2 workers ready, 0 failed": systemd's STATUS=.
    private func statusLine() -> String {
        machine.status(now: Instant.now()).summary
    }

    /// Routing and status for control-channel clients; nil for an unknown tenant.
    public func snapshot(tenant: String? = nil) -> ClusterSnapshot? {
        if let tenant, machine.status(ofTenant: tenant, now: Instant.now()) == nil { return nil }
        return ClusterSnapshot(status: status(), configuration: machine.configuration, tenant: tenant)
    }

    /// A snapshot and, from that very moment, every event as an encoded protocol line. A subscriber that
    /// leaves more than `bufferLimit` lines unread is cut off: its stream ends and `overflowed` is set.
    public func subscribe(bufferLimit: Int = 10_000) -> (ClusterSnapshot, Subscription) {
        let subscription = Subscription(bufferLimit: bufferLimit)
        subscribers.add(subscription)
        return (snapshot()!, subscription)
    }

    public var configuration: ClusterConfiguration { machine.configuration }

    /// Everything published from now on, until `run()` ends.
    public func events() -> AsyncStream<ClusterEvent> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: ClusterEvent.self,
            bufferingPolicy: .bufferingNewest(10_000)
        )
        subscribers.add(continuation)
        return stream
    }

    // MARK: - Events from the OS

    private func handle(_ input: Input) {
        let now = Instant.now()
        switch input {
        case .shutdownRequested:
            logger.info("shutting down: draining and stopping every worker")
            options.notifier.stopping()
            perform(machine.shutdownRequested(now: now))
        case .tick:
            options.notifier.status(statusLine())
            if options.notifier.watchdogInterval != nil { options.notifier.watchdog() }
        case .activationCancelled(let id, let tenant):
            if let waiter = waiters.removeValue(forKey: id) {
                machine.activationCancelled(id, tenant: tenant)
                waiter.resume(throwing: CancellationError())
            }
        case .reactor(.processExited(let key, let status)):
            guard let (id, _) = processes.removeExited(key: key) else { return }
            probes.forget(id)
            activity.workerExited(id)
            options.notifier.removeStored(name: OutputFDNames.stdout(id))
            options.notifier.removeStored(name: OutputFDNames.stderr(id))
            perform(machine.workerExited(id, status, now: now))
        case .reactor(.notified(let pid, let message)):
            guard let id = processes.worker(sentFrom: pid) else {
                logger.debug("notify message from a process that is not a worker", metadata: ["pid": "\(pid)"])
                return
            }
            perform(machine.workerNotified(id, NotifyMessage(parsing: message), now: now))
        case .reactor(.timerFired):
            perform(machine.timeElapsed(now: now))
            runDueProbes(now: now)
        case .reactor(.probeFinished(let key, let connected)):
            guard let id = probeByKey.removeValue(forKey: key) else { return }
            if connected {
                probeConnected(id, now: now)
            } else {
                probes.connectFailed(id, now: now)
            }
        }
        armTimer()
    }

    // MARK: - Executing actions

    private func perform(_ actions: [ClusterAction]) {
        var queue = actions[...]
        while let action = queue.popFirst() {
            switch action {
            case .launch(let launch):
                queue.append(contentsOf: launchWorker(launch))
            case .terminate(let id):
                signal(id, SIGTERM)
            case .kill(let id):
                signal(id, SIGKILL)
            case .answerActivation(let id, let answer):
                waiters.removeValue(forKey: id)?.resume(returning: answer)
            case .publish(let event):
                log(event)
                subscribers.publish(event)
                broadcast(event)
                switch event {
                case .workerStarting, .workerReady, .workerGone: runtimeRecordDirty = true
                default: break
                }
            case .shutdownCompleted:
                logger.info("every worker has stopped")
                // Nothing is left to adopt: a clusterd started next begins afresh.
                RuntimeRecord.remove(from: machine.configuration.stateDirectory)
                runtimeRecordDirty = false
                finished = true
                inputContinuation.finish()
            }
        }
        if runtimeRecordDirty { writeRuntimeRecord() }
        armTimer()
    }

    /// `state_dir/runtime.json`: the workers (and router) a clusterd started after a crash adopts.
    private func writeRuntimeRecord() {
        runtimeRecordDirty = false
        // A worker's start time is read from /proc once: it cannot change while the worker is ours, and the time
        // recorded first is the identity of the process we started or adopted, even if its pid were reused.
        var startTimes: [Int32: UInt64] = [:]
        let workers = machine.workersToHandOver.compactMap { worker -> RuntimeRecord.Entry? in
            guard let startTime = workerStartTimes[worker.pid] ?? ProcessIdentity.startTime(of: worker.pid) else {
                return nil
            }
            startTimes[worker.pid] = startTime
            return RuntimeRecord.Entry(worker: worker, startTime: startTime)
        }
        workerStartTimes = startTimes
        let router = options.upgrade.flatMap { context in
            context.routerPID().flatMap { pid in
                ProcessIdentity.startTime(of: pid).map {
                    RuntimeRecord.Process(
                        pid: pid,
                        startTime: $0,
                        listenerFDs: context.routerListenerFDs.indices.map { 3 + Int32($0) }
                    )
                }
            }
        }
        let record = RuntimeRecord(
            clusterdPID: getpid(),
            notifySocketPath: options.notifySocketPath,
            workers: workers,
            router: router,
            // Only tenants that ever had a worker: the rest start at 1 anyway (and there may be 10,000 of them).
            nextSerials: machine.nextSerials.filter { $0.value > 1 }
        )
        do {
            try record.save(to: machine.configuration.stateDirectory)
        } catch {
            logger.error(
                "cannot write the runtime record; after a crash the workers would not be adopted",
                metadata: ["error": "\(error)"]
            )
        }
    }

    private func broadcast(_ event: ClusterEvent) {
        guard subscribers.hasSubscriptions else { return }
        let line = ControlCodec.event(ControlEvent(event, snapshot: snapshot()!))
        for subscription in subscribers.deliver(line) {
            logger.warning(
                "control subscriber too slow; disconnected",
                metadata: ["unread": "\(subscription.bufferLimit)"]
            )
        }
    }

    private func restoreScales() {
        let store = ScaleStore(directory: machine.configuration.stateDirectory)
        do {
            let now = Instant.now()
            for (tenant, count) in try store.load().sorted(by: { $0.key < $1.key }) {
                if machine.configuration.tenants[tenant] == nil {
                    logger.notice(
                        "saved scale of a tenant no longer configured is ignored",
                        metadata: ["tenant": "\(tenant)"]
                    )
                    continue
                }
                logger.info("scale restored", metadata: ["tenant": "\(tenant)", "workers": "\(count)"])
                perform(machine.restoreScale(tenant: tenant, workers: count, now: now))
            }
        } catch {
            logger.error(
                "cannot read saved scales; starting without them",
                metadata: ["path": "\(store.path)", "error": "\(error)"]
            )
        }
    }

    private func saveScales() {
        let store = ScaleStore(directory: machine.configuration.stateDirectory)
        do {
            try store.save(machine.scales)
        } catch {
            logger.error(
                "cannot save scales; they will not survive a restart",
                metadata: ["path": "\(store.path)", "error": "\(error)"]
            )
        }
    }

    private func launchWorker(_ launch: WorkerLaunch) -> [ClusterAction] {
        let now = Instant.now()
        switch spawn.start(launch) {
        case .failure(let failure):
            if case .failed(let reason) = failure {
                logger.error("worker failed to start", metadata: metadata(launch.worker, ["reason": "\(reason)"]))
            }
            return machine.workerLaunchFailed(launch.worker, failure, now: now)
        case .success(let process):
            processes.add(
                process,
                of: launch.worker,
                exitKey: reactor.watchProcess(pid: process.pid, pidfd: process.pidfd)
            )
            watchOutput(of: launch.worker, stdout: process.stdoutFD, stderr: process.stderrFD)
            // Under systemd, the output pipes survive a crash of clusterd in its fd store.
            options.notifier.store(fd: process.stdoutFD, name: OutputFDNames.stdout(launch.worker))
            options.notifier.store(fd: process.stderrFD, name: OutputFDNames.stderr(launch.worker))
            if launch.readiness == .tcp { probes.workerLaunched(launch.worker, port: launch.port, now: now) }
            return machine.workerLaunched(launch.worker, pid: process.pid, now: now)
        }
    }

    /// Worker output into the log, tagged with tenant and worker: stdout at info, stderr at notice.
    private func watchOutput(of id: WorkerID, stdout: Int32, stderr: Int32) {
        var workerLogger = logger
        workerLogger[metadataKey: "tenant"] = "\(id.tenant)"
        workerLogger[metadataKey: "worker"] = "\(id)"
        reactor.captureOutput(fd: stdout, logger: workerLogger, level: .info)
        reactor.captureOutput(fd: stderr, logger: workerLogger, level: .notice)
    }

    /// Signals the worker's whole process group (it is the group leader).
    private func signal(_ id: WorkerID, _ signal: Int32) {
        guard let process = processes[id] else { return }
        if kill(-process.pid, signal) != 0, errno != ESRCH {
            logger.warning("could not signal worker", metadata: metadata(id, ["error": "\(SystemError("kill"))"]))
        }
    }

    private func runDueProbes(now: Instant) {
        for attempt in probes.attemptsDue(now: now) {
            switch LoopbackSocket.connect(port: attempt.port) {
            case .connected:
                probeConnected(attempt.worker, now: now)
            case .inProgress(let fd):
                probeByKey[reactor.watchProbe(fd: fd)] = attempt.worker
            case .refused:
                probes.connectFailed(attempt.worker, now: now)
            }
        }
    }

    /// A probe connected: the worker is ready (the machine ignores one that is gone).
    private func probeConnected(_ id: WorkerID, now: Instant) {
        probes.connectSucceeded(id)
        perform(machine.workerBecameReady(id, now: now))
    }

    private func armTimer() {
        guard !finished else { return }
        let deadlines = [machine.nextDeadline(), probes.nextDeadline].compactMap { $0 }
        reactor.setTimer(deadlines.min())
    }
}
