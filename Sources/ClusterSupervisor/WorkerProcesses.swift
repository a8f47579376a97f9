import ClusterCore
import Glibc

/// The supervisor's worker processes, found by worker, by pid (notify messages) and by the reactor's exit key.
struct WorkerProcesses {
    private var byWorker: [WorkerID: WorkerProcess] = [:]
    private var byPID: [Int32: WorkerID] = [:]
    private var byExitKey: [UInt64: WorkerID] = [:]

    subscript(id: WorkerID) -> WorkerProcess? { byWorker[id] }

    /// A process to keep, watched by the reactor under `exitKey`.
    mutating func add(_ process: WorkerProcess, of id: WorkerID, exitKey: UInt64) {
        byWorker[id] = process
        byPID[process.pid] = id
        byExitKey[exitKey] = id
    }

    /// The process that exited under `exitKey`, forgotten; nil when it is not one of ours.
    mutating func removeExited(key: UInt64) -> (id: WorkerID, process: WorkerProcess)? {
        guard let id = byExitKey.removeValue(forKey: key), let process = byWorker.removeValue(forKey: id) else {
            return nil
        }
        byPID[process.pid] = nil
        return (id, process)
    }

    /// The worker a notify message came from: its main process, or any process in its process group.
    func worker(sentFrom pid: Int32) -> WorkerID? {
        if let id = byPID[pid] { return id }
        let group = getpgid(pid)
        return group > 0 ? byPID[group] : nil
    }
}
