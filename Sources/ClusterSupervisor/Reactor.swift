import CSpawn
import CSystemd
import ClusterCore
import Glibc
import Logging
import Synchronization

/// One thread in `epoll_wait` on everything the supervisor waits for from the OS: worker exits (pidfds),
/// worker output (pipes), the notify socket, TCP readiness probes, and the supervisor's own deadline (a timerfd).
///
/// Exits are reaped here, after the worker's whole process group is killed: the leader is still a zombie at
/// that moment, so its pid (the group id) cannot have been reused. Output is logged here too, line by line and
/// rate-limited per stream, so a worker flooding its stdout never reaches the supervisor's actor.
/// Everything else is handed to the supervisor through `sink`.
final class Reactor: Sendable {
    enum Event: Sendable {
        case processExited(key: UInt64, status: ExitStatus)
        case notified(pid: Int32, message: String)
        case timerFired
        case probeFinished(key: UInt64, connected: Bool)
    }

    private enum Source {
        case wake
        case timer
        case notify(Int32)
        case process(pid: Int32, pidfd: Int32, child: Bool)
        case output(Int32, OutputCapture)
        case probe(Int32)
    }

    private let epollFD: Int32
    private let wakeFD: Int32
    private let timerFD: Int32
    private let sink: @Sendable (Event) -> Void
    private let logger: Logger
    private let sources = Mutex<[UInt64: Source]>([:])
    private let nextKey = Atomic<UInt64>(16)
    private let stopping = Atomic<Bool>(false)
    private let thread = Mutex<pthread_t?>(nil)

    private static let wakeKey: UInt64 = 1
    private static let timerKey: UInt64 = 2
    private static let notifyKey: UInt64 = 3

    init(notifyFD: Int32?, logger: Logger, sink: @escaping @Sendable (Event) -> Void) throws(SystemError) {
        self.logger = logger
        self.sink = sink
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError("epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        timerFD = timerfd_create(CLOCK_MONOTONIC, Int32(TFD_CLOEXEC | TFD_NONBLOCK))
        guard wakeFD >= 0, timerFD >= 0 else {
            let error = SystemError("eventfd/timerfd_create")
            close(epollFD)
            throw error
        }
        register(wakeFD, key: Self.wakeKey, source: .wake, events: EPOLLIN.rawValue)
        register(timerFD, key: Self.timerKey, source: .timer, events: EPOLLIN.rawValue)
        if let notifyFD {
            register(notifyFD, key: Self.notifyKey, source: .notify(notifyFD), events: EPOLLIN.rawValue)
        }
    }

    /// Starts the thread.
    func start() {
        let context = Unmanaged.passRetained(self).toOpaque()
        var handle = pthread_t()
        let result = pthread_create(
            &handle,
            nil,
            { context in
                let reactor = Unmanaged<Reactor>.fromOpaque(context!).takeRetainedValue()
                reactor.loop()
                return nil
            },
            context
        )
        precondition(result == 0, "pthread_create failed: \(result)")
        thread.withLock { $0 = handle }
    }

    /// Stops and joins the thread, leaving every registration (and fd) as it is: before handing them over in an
    /// upgrade. `start()` resumes.
    func pause() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        if let handle = thread.withLock({ $0.take() }) {
            pthread_join(handle, nil)
        }
        stopping.store(false, ordering: .sequentiallyConsistent)
    }

    /// Stops and joins the thread, then closes every fd still registered (not the notify socket's,
    /// which belongs to the caller).
    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        var one: UInt64 = 1
        _ = write(wakeFD, &one, 8)
        if let handle = thread.withLock({ $0.take() }) {
            pthread_join(handle, nil)
        }
        let remaining = sources.withLock { sources in
            defer { sources.removeAll() }
            return Array(sources.values)
        }
        for source in remaining {
            switch source {
            case .process(_, let fd, _), .output(let fd, _), .probe(let fd): close(fd)
            case .wake, .timer, .notify: break
            }
        }
        close(timerFD)
        close(wakeFD)
        close(epollFD)
    }

    // MARK: - Registration (any thread)

    /// Watches a worker's pidfd; its exit arrives as `.processExited(key:)` with the returned key. `child`: it is
    /// clusterd's child (reaped here, its status known); an adopted worker from a previous clusterd is not.
    func watchProcess(pid: Int32, pidfd: Int32, child: Bool = true) -> UInt64 {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).newValue
        register(pidfd, key: key, source: .process(pid: pid, pidfd: pidfd, child: child), events: EPOLLIN.rawValue)
        return key
    }

    /// Reads a worker's stdout or stderr (non-blocking read end, owned from now on) into the log.
    func captureOutput(fd: Int32, logger: Logger, level: Logger.Level) {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).newValue
        let capture = OutputCapture(logger: logger, level: level, now: Instant.now())
        register(fd, key: key, source: .output(fd, capture), events: EPOLLIN.rawValue)
    }

    /// Waits for a non-blocking connect on `fd` (owned from now on) to finish: `.probeFinished(key:)`.
    func watchProbe(fd: Int32) -> UInt64 {
        let key = nextKey.wrappingAdd(1, ordering: .relaxed).newValue
        register(fd, key: key, source: .probe(fd), events: EPOLLOUT.rawValue | EPOLLONESHOT.rawValue)
        return key
    }

    /// Arms the timer for `deadline` (CLOCK_MONOTONIC), or disarms it.
    func setTimer(_ deadline: Instant?) {
        var spec = itimerspec()
        if let deadline {
            let nanoseconds = max(deadline.nanoseconds, 1)
            spec.it_value.tv_sec = Int(nanoseconds / 1_000_000_000)
            spec.it_value.tv_nsec = Int(nanoseconds % 1_000_000_000)
        }
        timerfd_settime(timerFD, Int32(TFD_TIMER_ABSTIME), &spec, nil)
    }

    private func register(_ fd: Int32, key: UInt64, source: Source, events: UInt32) {
        sources.withLock { $0[key] = source }
        var event = epoll_event()
        event.events = events
        event.data.u64 = key
        if epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) != 0 {
            logger.error("epoll_ctl ADD failed", metadata: ["error": "\(SystemError("epoll_ctl"))"])
        }
    }

    private func unregister(_ key: UInt64, fd: Int32) {
        sources.withLock { _ = $0.removeValue(forKey: key) }
        epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        close(fd)
    }

    // MARK: - The loop (reactor thread only)

    private func loop() {
        var events = [epoll_event](repeating: epoll_event(), count: 128)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        while !stopping.load(ordering: .sequentiallyConsistent) {
            let count = epoll_wait(epollFD, &events, Int32(events.count), -1)
            if count < 0 {
                if errno == EINTR { continue }
                logger.critical(
                    "epoll_wait failed; worker supervision stopped",
                    metadata: ["error": "\(SystemError("epoll_wait"))"]
                )
                return
            }
            for index in 0..<Int(count) {
                let key = events[index].data.u64
                guard let source = sources.withLock({ $0[key] }) else { continue }
                dispatch(source, key: key, buffer: buffer)
            }
        }
    }

    private func dispatch(_ source: Source, key: UInt64, buffer: UnsafeMutableRawBufferPointer) {
        switch source {
        case .wake:
            var value: UInt64 = 0
            _ = read(wakeFD, &value, 8)
        case .timer:
            var expirations: UInt64 = 0
            if read(timerFD, &expirations, 8) == 8 { sink(.timerFired) }
        case .notify(let fd):
            receiveNotifications(fd, buffer: buffer)
        case .process(_, let pidfd, false):
            // Not our child: init reaps it, and its pid (so its group id) may be reused at once: no group kill.
            unregister(key, fd: pidfd)
            sink(.processExited(key: key, status: .unknown))
        case .process(let pid, let pidfd, true):
            // The group dies with its leader: stragglers a worker forked are not left behind.
            kill(-pid, SIGKILL)
            var exited: Int32 = 0
            var code: Int32 = 0
            let status: ExitStatus
            if cspawn_reap(pid, pidfd, &exited, &code) == 0 {
                status = exited == 1 ? .exited(code) : .signaled(code)
            } else {
                logger.error("could not reap worker", metadata: ["pid": "\(pid)", "error": "\(SystemError("waitid"))"])
                status = .exited(-1)
            }
            unregister(key, fd: pidfd)
            sink(.processExited(key: key, status: status))
        case .output(let fd, let capture):
            let got = read(fd, buffer.baseAddress, buffer.count)
            if got > 0 {
                capture.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
            } else if got == 0 || (errno != EAGAIN && errno != EINTR) {
                capture.finish()
                unregister(key, fd: fd)
            }
        case .probe(let fd):
            var error: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            let connected = getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0
            unregister(key, fd: fd)
            sink(.probeFinished(key: key, connected: connected))
        }
    }

    private func receiveNotifications(_ fd: Int32, buffer: UnsafeMutableRawBufferPointer) {
        for _ in 0..<64 {
            var pid: pid_t = 0
            var uid: uid_t = 0
            let length = csd_notify_receive(
                fd,
                buffer.baseAddress!.assumingMemoryBound(to: CChar.self),
                buffer.count,
                &pid,
                &uid
            )
            if length < 0 { return }
            guard pid > 0 else { continue }
            let message = String(decoding: UnsafeRawBufferPointer(rebasing: buffer[0..<length]), as: UTF8.self)
            sink(.notified(pid: pid, message: message))
        }
    }
}

/// A worker stream's line assembly and rate limit; only the reactor thread touches it.
private final class OutputCapture: @unchecked Sendable {
    private var output: WorkerOutput
    private let logger: Logger
    private let level: Logger.Level

    init(logger: Logger, level: Logger.Level, now: Instant) {
        self.output = WorkerOutput(now: now)
        self.logger = logger
        self.level = level
    }

    func consume(_ bytes: UnsafeRawBufferPointer) {
        log(output.consume(bytes, now: Instant.now()))
    }

    func finish() {
        log(output.finish(now: Instant.now()))
    }

    private func log(_ lines: [WorkerOutput.Line]) {
        for line in lines {
            switch line {
            case .text(let text): logger.log(level: level, "\(text)")
            case .suppressed(let count):
                logger.warning("suppressed \(count) lines of worker output (rate limit)")
            }
        }
    }
}
