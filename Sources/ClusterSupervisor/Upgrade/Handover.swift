import CSpawn
import ClusterControl
import ClusterCore
import Foundation
import Glibc

/// What an in-place upgrade hands from the running clusterd image to the next one: the same process after
/// `execve`, so workers stay its children and systemd keeps its main pid. Written as JSON to a memfd whose
/// number is in `CLUSTERD_HANDOVER_FD`; every fd named here is inherited across the exec.
public struct Handover: Codable, Sendable {
    public static let version = 1
    public static let environmentVariable = "CLUSTERD_HANDOVER_FD"

    public struct HandedWorker: Codable, Sendable {
        public var worker: AdoptedWorker
        /// -1: none (a worker adopted without its output).
        public var stdoutFD: Int32
        public var stderrFD: Int32
        public var isChild: Bool
    }

    public var version = Handover.version
    public var notifySocketPath: String
    public var notifyFD: Int32
    /// The control channel's listening socket, and whether clusterd made its file (else systemd did).
    public var controlSocketFD: Int32
    public var controlSocketOwned: Bool
    /// The router's public listeners (from systemd or bound by clusterd).
    public var routerListenerFDs: [Int32]
    /// The router child, still running.
    public var routerPID: Int32?
    public var workers: [HandedWorker]
    public var nextSerials: [String: Int]
    /// The image that wrote this, to go back to if the next one cannot take over.
    public var fallbackExecutableFD: Int32
    public var arguments: [String]
    /// How many hand-overs this process has been through, and how the last upgrade went.
    public var handovers: Int
    public var outcome: String?

    /// Every fd the next image inherits.
    var inheritedFDs: [Int32] {
        ([notifyFD, controlSocketFD, fallbackExecutableFD] + routerListenerFDs
            + workers.flatMap { [$0.stdoutFD, $0.stderrFD] }).filter { $0 >= 0 }
    }

    /// The hand-over this process was started with (and removes it from the environment); nil on a fresh start.
    /// One this image cannot read sends the process back to the image that wrote it, which can.
    public static func take() throws(SupervisorError) -> Handover? {
        guard let text = getenv(environmentVariable).map({ String(cString: $0) }) else { return nil }
        guard let fd = Int32(text) else {
            throw SupervisorError(.upgrade, "\(environmentVariable)=\(text) is not an fd")
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        lseek(fd, 0, SEEK_SET)
        while true {
            let got = read(fd, &buffer, buffer.count)
            if got <= 0 { break }
            data.append(contentsOf: buffer[0..<got])
        }
        struct Header: Decodable {
            var version: Int
            var fallbackExecutableFD: Int32
        }
        guard let header = try? JSONDecoder().decode(Header.self, from: data) else {
            throw SupervisorError(.upgrade, "unreadable hand-over in fd \(fd)")
        }
        guard header.version == version, let handover = try? JSONDecoder().decode(Handover.self, from: data) else {
            // The previous image still reads its own hand-over: go back to it, fds and memfd as they are.
            fexecve(header.fallbackExecutableFD, CommandLine.unsafeArgv, environ)
            throw SupervisorError(.upgrade, "hand-over version \(header.version) unreadable here, and no way back")
        }
        unsetenv(environmentVariable)
        close(fd)
        for fd in handover.inheritedFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return handover
    }

    /// Replaces this process with `executable`; returns only if neither it nor the fallback image could be
    /// executed (then every fd is close-on-exec again).
    func exec(_ executable: String) -> SupervisorError {
        let memfd = cspawn_memfd("clusterd-handover")
        guard memfd >= 0 else {
            return SupervisorError(.upgrade, "cannot write the hand-over", cause: SystemError("memfd_create"))
        }
        defer { close(memfd) }
        var json = JSONTextWriter(pretty: false)
        json.write(self)
        _ = json.bytes.withUnsafeBytes { Glibc.write(memfd, $0.baseAddress, $0.count) }
        let inherited = inheritedFDs + [memfd]
        // Only these cross the exec: not the control connections, nor the event loops' own fds.
        cspawn_cloexec_from(3)
        for fd in inherited { _ = fcntl(fd, F_SETFD, 0) }
        var environment = ProcessInfo.processInfo.environment
        environment[Self.environmentVariable] = String(memfd)
        let argv = CStringArray(arguments)
        let envp = CStringArray(environment.map { "\($0.key)=\($0.value)" })
        defer {
            argv.free()
            envp.free()
        }
        execve(executable, argv.pointers, envp.pointers)
        let failure = SystemError("execve \(executable)")
        fexecve(fallbackExecutableFD, argv.pointers, envp.pointers)
        for fd in inherited { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return SupervisorError(.upgrade, "cannot execute the new binary; still running the old one", cause: failure)
    }

    /// Goes back to the image that handed over (this one could not take over): the same hand-over, marked.
    public func fallBack(because reason: String) -> Never {
        var handover = self
        handover.outcome = "rolled back: \(reason)"
        let error = handover.exec("/proc/self/fd/\(fallbackExecutableFD)")
        fatalError("clusterd: cannot take over after an upgrade (\(reason)), nor go back: \(error)")
    }
}

/// The hand-over as JSON, the shape its Codable conformance reads back (the image it goes to may be older).
extension Handover: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("arguments", arguments)
            $0.member("controlSocketFD", controlSocketFD)
            $0.member("controlSocketOwned", controlSocketOwned)
            $0.member("fallbackExecutableFD", fallbackExecutableFD)
            $0.member("handovers", handovers)
            $0.member("nextSerials", nextSerials)
            $0.member("notifyFD", notifyFD)
            $0.member("notifySocketPath", notifySocketPath)
            $0.member("outcome", outcome)
            $0.member("routerListenerFDs", routerListenerFDs)
            $0.member("routerPID", routerPID)
            $0.member("version", version)
            $0.member("workers", workers)
        }
    }
}

extension Handover.HandedWorker: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("isChild", isChild)
            $0.member("stderrFD", stderrFD)
            $0.member("stdoutFD", stdoutFD)
            $0.member("worker", worker)
        }
    }
}
