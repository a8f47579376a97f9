import ArgumentParser
import ClusterControl
import Glibc

/// `clusterctl upgrade`
struct UpgradeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upgrade",
        abstract: "Re-execute clusterd in place from its installed binary (as SIGUSR2 does); workers keep running.",
        discussion: """
            The new binary must pass `clusterd check` on the tenants file first; if it cannot take over, the old one \
            goes on serving and clusterctl exits 1. The control connection closes while clusterd re-executes; \
            clusterctl reconnects and reports the outcome.
            """
    )

    @ParentCommand var clusterctl: Clusterctl

    func run() throws {
        let before: HelloReply
        do {
            let connection = try ControlClient(
                socketPath: clusterctl.socketPath,
                timeout: clusterctl.timeoutDuration
            )
            before = try connection.hello()
            // Success replaces the process: the connection closes without a reply. A reply is a refusal.
            if case .failure(let error) = try? connection.request(.upgrade) {
                StandardError.report(error.message, details: error.details ?? [])
                throw ExitCode.operationFailed
            }
        } catch let unreachable as ControlUnreachable {
            StandardError.report(unreachable.description)
            throw ExitCode.unreachable
        }
        let after = try waitForClusterd()
        let count = after.upgrades ?? 0
        guard count > (before.upgrades ?? 0) else {
            StandardError.report("clusterd did not upgrade")
            throw ExitCode.operationFailed
        }
        if let outcome = after.lastUpgrade, outcome.hasPrefix("rolled back") {
            StandardError.report("the new binary could not take over; the previous one is serving again (\(outcome))")
            throw ExitCode.operationFailed
        }
        print("upgraded in place: pid \(after.pid), \(count) upgrade\(count == 1 ? "" : "s") so far")
    }

    /// Reconnects until clusterd answers hello again (within --timeout).
    private func waitForClusterd() throws -> HelloReply {
        let deadline = ContinuousClock.now + clusterctl.timeoutDuration
        var lastError = "no answer"
        while ContinuousClock.now < deadline {
            do {
                let connection = try ControlClient(socketPath: clusterctl.socketPath, timeout: .seconds(2))
                return try connection.hello()
            } catch {
                lastError = error.description
                usleep(100_000)
            }
        }
        StandardError.report("clusterd did not come back after the upgrade: \(lastError)")
        throw ExitCode.unreachable
    }
}
