import CSpawn
import ClusterCore
import Glibc

/// Starting and awaiting child processes through CSpawn: shared by workers and the router child.
enum ChildProcess {
    struct SpawnFailure: Error {
        var stage: cspawn_stage
        var error: Int32
    }

    /// Forks and execs `program` (an absolute path) with exactly `standardIO` as fds 0-2 and `passing` from
    /// fd 3 on. `pidVariables` (`LISTEN_PID`, `WATCHDOG_PID`) are set by the child to its own pid.
    static func spawn(
        program: String,
        arguments: [String],
        environment: [String: String],
        pidVariables: [String] = [],
        workingDirectory: String? = nil,
        standardIO: (input: Int32, output: Int32, error: Int32),
        passing: [Int32] = []
    ) -> Result<cspawn_child, SpawnFailure> {
        let argv = CStringArray(arguments)
        let envp = CStringArray(
            environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" },
            appendingWritable: pidVariables.map { "\($0)=" }
        )
        defer {
            argv.free()
            envp.free()
        }
        var child = cspawn_child()
        var stage = CSPAWN_STAGE_NONE
        var error: Int32 = 0
        let result = passing.withUnsafeBufferPointer { passFDs in
            envp.writable.withUnsafeBufferPointer { pidEntries in
                program.withCString { path in
                    (workingDirectory ?? "").withCString { directory in
                        var request = cspawn_request(
                            path: path,
                            argv: argv.pointers,
                            envp: envp.pointers,
                            pid_entries: pidEntries.baseAddress,
                            pid_entry_count: Int32(pidEntries.count),
                            working_directory: workingDirectory == nil ? nil : directory,
                            stdin_fd: standardIO.input,
                            stdout_fd: standardIO.output,
                            stderr_fd: standardIO.error,
                            pass_fds: passFDs.baseAddress,
                            pass_fd_count: Int32(passFDs.count)
                        )
                        return cspawn_start(&request, &child, &stage, &error)
                    }
                }
            }
        }
        return result == 0 ? .success(child) : .failure(SpawnFailure(stage: stage, error: error))
    }

    /// Waits (on a thread of its own, the wait blocks) until the child exits, then reaps it. The pidfd stays
    /// open (signalling through it stays safe); the caller closes it.
    static func exit(of child: cspawn_child) async -> ExitStatus {
        await withCheckedContinuation { continuation in
            let box = Unmanaged.passRetained(ReapRequest(child: child, continuation: continuation)).toOpaque()
            var thread = pthread_t()
            let started = pthread_create(
                &thread,
                nil,
                { context in
                    let request = Unmanaged<ReapRequest>.fromOpaque(context!).takeRetainedValue()
                    var exited: Int32 = 0
                    var code: Int32 = 0
                    let status: ExitStatus
                    if cspawn_reap(request.child.pid, request.child.pidfd, &exited, &code) == 0 {
                        status = exited == 1 ? .exited(code) : .signaled(code)
                    } else if errno == ECHILD {
                        // Not our child (adopted after a crash): its pidfd becomes readable when it exits.
                        var poll = pollfd(fd: request.child.pidfd, events: Int16(POLLIN), revents: 0)
                        while Glibc.poll(&poll, 1, -1) < 0, errno == EINTR {}
                        status = .unknown
                    } else {
                        status = .exited(-1)
                    }
                    request.continuation.resume(returning: status)
                    return nil
                },
                box
            )
            if started == 0 {
                pthread_detach(thread)
            } else {
                Unmanaged<ReapRequest>.fromOpaque(box).release()
                continuation.resume(returning: .exited(-1))
            }
        }
    }

    private final class ReapRequest: @unchecked Sendable {
        let child: cspawn_child
        let continuation: CheckedContinuation<ExitStatus, Never>

        init(child: cspawn_child, continuation: CheckedContinuation<ExitStatus, Never>) {
            self.child = child
            self.continuation = continuation
        }
    }
}

/// A NULL-terminated array of C strings, owned until `free()`. `writable` entries get 32 spare bytes
/// (the child appends its pid to them) and are also part of `pointers`.
struct CStringArray {
    let pointers: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let writable: [UnsafeMutablePointer<CChar>?]
    private let count: Int

    init(_ strings: [String], appendingWritable writableStrings: [String] = []) {
        count = strings.count + writableStrings.count
        pointers = .allocate(capacity: count + 1)
        for (index, string) in strings.enumerated() {
            pointers[index] = strdup(string)
        }
        var writable: [UnsafeMutablePointer<CChar>?] = []
        for (offset, string) in writableStrings.enumerated() {
            let bytes = Array(string.utf8CString)
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 32)
            buffer.initialize(repeating: 0, count: bytes.count + 32)
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
            pointers[strings.count + offset] = buffer
            writable.append(buffer)
        }
        pointers[count] = nil
        self.writable = writable
    }

    func free() {
        let writableSet = Set(writable.map { UnsafeMutableRawPointer($0!) })
        for index in 0..<count {
            guard let pointer = pointers[index] else { continue }
            if writableSet.contains(UnsafeMutableRawPointer(pointer)) {
                pointer.deallocate()
            } else {
                Glibc.free(pointer)
            }
        }
        pointers.deallocate()
    }
}
