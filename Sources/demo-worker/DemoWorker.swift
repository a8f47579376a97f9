import Glibc
import NIOCore
import NIOPosix

/// demo-worker: the small, fast HTTP/1.1 worker of clusterd's README, tests and benchmarks.
///
/// Speaks the worker contract: socket activation (fd 3) or `PORT`, `NOTIFY_SOCKET`
/// readiness and watchdog, SIGTERM for a graceful stop. See ``WorkerOptions/usage``.
@main
enum DemoWorker {
    /// How long a stop waits for in-flight requests before closing connections by force.
    static let drainDeadline = TimeAmount.seconds(10)

    static func main() {
        signal(SIGPIPE, SIG_IGN)
        // SIGTERM and SIGINT stay pending until the stop thread takes them with sigwait: blocked here, before any
        // thread exists, so every thread inherits the mask. (A dispatch signal source after SIG_IGN dropped a
        // SIGTERM that came before the source was armed, and the worker ran on until SIGKILL.)
        var stopSignals = StopSignalThread.signals
        pthread_sigmask(SIG_BLOCK, &stopSignals, nil)
        let options: WorkerOptions
        do {
            options = try WorkerOptions.parse(Array(CommandLine.arguments.dropFirst()))
        } catch {
            Console.error("demo-worker: \(error)")
            Console.error(WorkerOptions.usage)
            exit(2)
        }
        if options.showHelp {
            Console.out(WorkerOptions.usage)
            exit(0)
        }
        if options.failStart {
            Console.error("demo-worker: failing at start as asked (--fail-start)")
            exit(1)
        }
        do {
            try self.run(options)
        } catch {
            Console.error("demo-worker: \(error)")
            exit(1)
        }
        exit(0)
    }

    private static func run(_ options: WorkerOptions) throws {
        let pid = getpid()
        let listener = try self.listener(options: options, pid: pid)
        let notifier = try SystemdNotifier.fromEnvironment()

        let group = MultiThreadedEventLoopGroup(numberOfThreads: options.threads)
        let control = group.next()
        let stopSignal = control.makePromise(of: String.self)
        StopSignalThread.start(succeeding: stopSignal)

        if options.startDelayMilliseconds > 0 {
            // Succeeds with the signal's name when a stop comes first, with nil when the delay is over.
            let delayOver = control.makePromise(of: String?.self)
            control.scheduleTask(in: .milliseconds(options.startDelayMilliseconds)) { delayOver.succeed(nil) }
            stopSignal.futureResult.whenSuccess { delayOver.succeed($0) }
            if let signalName = try delayOver.futureResult.wait() {
                Console.out("demo-worker pid=\(pid) stopped on \(signalName) before listening")
                try group.syncShutdownGracefully()
                return
            }
        }

        let server = try WorkerServer.start(
            listener: listener,
            group: group,
            sessions: SessionCounters(),
            crashTrigger: options.crashAfterResponses.map(CrashTrigger.init(limit:))
        )
        let identity = server.context.identity
        let who = "demo-worker tenant=\(identity.tenant) worker=\(identity.worker) pid=\(pid)"
        Console.out("\(who) listening on \(server.addressDescription) (\(server.listener.mode))")

        var watchdog: RepeatedTask?
        if let notifier {
            if let problem = notifier.send("READY=1\nSTATUS=serving on \(identity.port)") {
                Console.error("demo-worker: \(problem)")
            }
            if let interval = SystemdNotifier.watchdogInterval(pid: pid) {
                watchdog = control.scheduleRepeatedTask(initialDelay: interval, delay: interval) { _ in
                    if let problem = notifier.send("WATCHDOG=1") {
                        Console.error("demo-worker: \(problem)")
                    }
                }
            }
        }

        let signalName = try stopSignal.futureResult.wait()
        if let problem = notifier?.send("STOPPING=1") {
            Console.error("demo-worker: \(problem)")
        }
        let open = server.connections.openConnections
        Console.out("\(who) stopping on \(signalName): no new connections, finishing \(open) open")
        let forced = try server.stop(deadline: self.drainDeadline).wait()
        watchdog?.cancel()
        if forced > 0 {
            Console.error(
                "demo-worker: closed \(forced) connections still busy after \(self.drainDeadline.nanoseconds / 1_000_000_000) s"
            )
        }
        try group.syncShutdownGracefully()
        Console.out("\(who) stopped")
    }

    /// Decides where to listen: the passed socket when it is ours, else `--port`/`PORT`.
    private static func listener(options: WorkerOptions, pid: pid_t) throws -> WorkerServer.Listener {
        switch SocketActivation.detect(pid: pid) {
        case .inherited(let descriptor, let count):
            if count > 1 {
                Console.error("demo-worker: LISTEN_FDS=\(count): serving fd \(descriptor) only")
            }
            return .inherited(descriptor: descriptor)
        case .ignored(let reason):
            Console.error("demo-worker: ignoring passed sockets: \(reason)")
        case .none:
            break
        }
        if let port = options.port {
            return .bind(host: options.host, port: port)
        }
        guard let text = Environment.nonEmptyValue("PORT") else {
            throw WorkerServer.StartError(
                description:
                    "no port to listen on: set PORT, pass --port N, or start me with socket activation (LISTEN_FDS)"
            )
        }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw WorkerServer.StartError(description: "PORT='\(text)' is not a port number (0-65535)")
        }
        return .bind(host: options.host, port: port)
    }
}

/// A thread that waits (sigwait) for the SIGTERM or SIGINT that `main` blocked, and reports which came.
private final class StopSignalThread {
    let promise: EventLoopPromise<String>

    /// SIGTERM and SIGINT.
    static var signals: sigset_t {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        return signals
    }

    private init(promise: EventLoopPromise<String>) {
        self.promise = promise
    }

    static func start(succeeding promise: EventLoopPromise<String>) {
        let context = Unmanaged.passRetained(StopSignalThread(promise: promise)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(
            &thread,
            nil,
            { context in
                let waiter = Unmanaged<StopSignalThread>.fromOpaque(context!).takeRetainedValue()
                var signals = StopSignalThread.signals
                var number: Int32 = 0
                while sigwait(&signals, &number) != 0 {}
                waiter.promise.succeed(number == SIGTERM ? "SIGTERM" : "SIGINT")
                return nil
            },
            context
        )
        guard started == 0 else {
            Unmanaged<StopSignalThread>.fromOpaque(context).release()
            Console.error("demo-worker: cannot start the stop-signal thread (error \(started)): SIGTERM stops at once")
            var signals = signals
            pthread_sigmask(SIG_UNBLOCK, &signals, nil)
            return
        }
        pthread_detach(thread)
    }
}
