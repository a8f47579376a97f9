import ClusterControl
import Foundation
import Glibc
import Testing

extension SupervisorIntegrationTests {
    /// A clusterd killed with SIGKILL: the next one adopts its workers and router, so no customer state is lost.
    @Suite("Crash recovery")
    struct CrashRecovery {
        @Test("kill -9 clusterd under load: workers keep their pids, sessions keep counting, no request fails")
        func killedUnderLoad() throws {
            let clusterd = try ClusterdProcess(tenants: Upgrade.tenants, router: true)
            let port = try #require(clusterd.routerPort)
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 2])).isSuccess)
            try Upgrade.waitForReady(clusterd, count: 2)
            let before = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            let first = try #require(HTTPGet.get(port: port, path: "/count", host: "acme.example.test"))
            let cookie = first.setCookies.joined(separator: "; ")

            let firstClusterd = clusterd.pid
            let load = Upgrade.steadyLoad(port: port, cookie: cookie)
            usleep(300_000)
            clusterd.crash()
            usleep(500_000)  // clusterd is down: its router, an orphan now, keeps serving the workers
            try clusterd.startAgain()
            usleep(500_000)
            let (ok, failed, counts) = load.finish()

            #expect(failed == 0, "no request failed (\(ok) ok) across the crash and the restart")
            #expect(counts == Array(2...(counts.count + 1)), "the session's counter went on: \(counts.prefix(5))…")
            let after = try clusterd.snapshot()
            #expect(after.tenant("acme").workers.map(\.pid) == before, "the same workers, adopted")
            #expect(after.tenant("acme").scale == 2)
            #expect(clusterd.log().contains("adopted the workers of a clusterd that stopped without stopping them"))
            #expect(clusterd.log().contains("router adopted"))
            #expect(HTTPGet.get(port: port, path: "/", host: "acme.example.test")?.status == 200)

            // A normal stop still stops everything, adopted or not.
            #expect(clusterd.stop() == 0)
            for pid in before.compactMap({ $0 }) { #expect(!ProcessTable.isAlive(pid), "worker \(pid) stopped") }
            #expect(
                ClusterdProcess.processes(withEnvironment: "NOTIFY_SOCKET=@clusterd/\(firstClusterd)/").isEmpty,
                "nothing the first clusterd started is left"
            )
        }

        @Test("kill -9 clusterd and its router together: workers adopted, a new router, sessions keep counting")
        func bothKilled() throws {
            // A fixed port: the new router listens where the old one did (outside systemd nobody holds it).
            let port = PortBlocks.take().lowerBound
            let clusterd = try ClusterdProcess(
                tenants: Upgrade.tenants,
                router: true,
                routerArguments: ["--listen", "127.0.0.1:\(port)"]
            )
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 2])).isSuccess)
            try Upgrade.waitForReady(clusterd, count: 2)
            try awaitRouterServing(port: port)
            let before = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            let first = try #require(HTTPGet.get(port: port, path: "/count", host: "acme.example.test"))
            let cookie = first.setCookies.joined(separator: "; ")
            let oldRouter = try #require(clusterd.routerPID())

            let load = Upgrade.steadyLoad(port: port, cookie: cookie)
            usleep(300_000)
            kill(oldRouter, SIGKILL)
            clusterd.crash()
            usleep(300_000)  // nothing listens on the router's port now
            try clusterd.startAgain()
            try awaitRouterServing(port: port)
            usleep(300_000)
            let (ok, failed, counts) = load.finish()

            let after = try clusterd.snapshot()
            #expect(after.tenant("acme").workers.map(\.pid) == before, "the same workers, adopted")
            #expect(clusterd.routerPID() != oldRouter, "a new router")
            // Every request that got an answer found its session's state: the counter went on and never back. (It
            // may skip: a request the killed router had passed on was counted but its answer was lost.)
            #expect(counts.first == 2, "the session's counter went on: \(counts.prefix(5))…")
            #expect(zip(counts, counts.dropFirst()).allSatisfy { $0 < $1 }, "never back: \(counts)")
            #expect(ok > 20, "\(ok) ok, \(failed) failed while no router listened")
            print("both killed: \(ok) requests ok, \(failed) failed (refused while no router listened)")
            #expect(clusterd.stop() == 0)
            for pid in before.compactMap({ $0 }) { #expect(!ProcessTable.isAlive(pid), "worker \(pid) stopped") }
        }

        /// Until the router on `port` answers a request for acme.
        private func awaitRouterServing(port: Int) throws {
            let deadline = ContinuousClock.now + .seconds(15)
            while HTTPGet.get(port: port, path: "/", host: "acme.example.test", timeoutSeconds: 2)?.status != 200 {
                guard ContinuousClock.now < deadline else { throw RouterNotServing() }
                usleep(50_000)
            }
        }

        private struct RouterNotServing: Error {}

        @Test("a worker that exits while clusterd is down is not adopted, and is replaced")
        func workerGoneMeanwhile() throws {
            let clusterd = try ClusterdProcess(tenants: Upgrade.tenants)
            let client = try clusterd.client()
            #expect(client.request(.scale(["acme": 2])).isSuccess)
            try Upgrade.waitForReady(clusterd, count: 2)
            let before = try clusterd.snapshot().tenant("acme").workers.map(\.pid)
            clusterd.crash()
            let victim = try #require(before.first ?? nil)
            kill(victim, SIGKILL)
            usleep(200_000)
            try clusterd.startAgain()
            try Upgrade.waitForReady(clusterd, count: 2)
            let after = try clusterd.snapshot().tenant("acme").workers.compactMap(\.pid)
            #expect(!after.contains(victim))
            #expect(after.contains(before[1]!), "the survivor was adopted")
            #expect(clusterd.log().contains("a worker of the previous clusterd is gone"))
        }

        @Test("a clean stop leaves nothing to adopt: the next clusterd starts afresh")
        func cleanStopForgets() throws {
            let clusterd = try ClusterdProcess(tenants: Upgrade.tenants)
            let client = try clusterd.client()
            #expect(client.request(.start(tenant: "acme")).isSuccess)
            #expect(clusterd.stop() == 0)
            #expect(access(clusterd.directory + "/state/runtime.json", F_OK) != 0)
            try clusterd.startAgain()
            #expect(!clusterd.log().contains("adopted the workers"))
        }
    }
}
