import ClusterHAProxy
import Testing

/// What the adapter reads from HAProxy's answers: which worker process serves the stats socket, the master's
/// reload counters, and whether a runtime command worked. The samples are HAProxy 2.6.12's own output.
@Suite("HAProxy's answers")
struct HAProxyAnswersTests {
    @Test("show info: the worker's Pid")
    func workerPID() {
        let info = "Name: HAProxy\nVersion: 2.6.12-1+deb12u4\nNbthread: 2\nPid: 12458\nUptime: 0d 0h10m32s\n"
        #expect(HAProxyProcesses.workerPID(fromShowInfo: info) == 12458)
        #expect(HAProxyProcesses.workerPID(fromShowInfo: "Name: HAProxy\n") == nil)
        #expect(HAProxyProcesses.workerPID(fromShowInfo: "Pid: twelve\n") == nil)
        #expect(HAProxyProcesses.workerPID(fromShowInfo: "") == nil)
    }

    @Test("show proc: the master's reloads and failed reloads")
    func master() {
        let proc = """
            #<PID>          <type>          <reloads>       <uptime>        <version>
            12455           master          3 [failed: 1]   0d00h10m33s     2.6.12-1+deb12u4
            # workers
            12997           worker          0               0d00h00m00s     2.6.12-1+deb12u4
            # programs

            """
        #expect(
            HAProxyProcesses.master(fromShowProc: proc)
                == HAProxyProcesses.Master(pid: 12455, reloads: 3, failedReloads: 1)
        )
        #expect(HAProxyProcesses.master(fromShowProc: "12997  worker  0  0d00h00m00s  2.6.12\n") == nil)
        #expect(HAProxyProcesses.master(fromShowProc: "Unknown command.\n") == nil)
        #expect(HAProxyProcesses.master(fromShowProc: "1 master x [failed: 0] 0d 2.6\n") == nil)
    }

    @Test("runtime command answers: success, a missing server, anything else")
    func commandAnswers() {
        let successes = [
            "", "IP changed from '127.0.0.1' to '127.0.0.2', port changed from '1' to '9' by 'stats socket command'",
            "no need to change the addr, port changed from '1' to '9' by 'stats socket command'",
            "no need to change the addr, no need to change the port by 'stats socket command'",
        ]
        for line in successes {
            #expect(HAProxyCommand.isSuccess(answerLine: Substring(line)), "\(line)")
            #expect(!HAProxyCommand.isMissingServer(answerLine: Substring(line)))
        }
        for line in ["No such server.", "No such backend."] {
            #expect(!HAProxyCommand.isSuccess(answerLine: Substring(line)))
            #expect(HAProxyCommand.isMissingServer(answerLine: Substring(line)))
        }
        let other: Substring = "Permission denied"
        #expect(!HAProxyCommand.isSuccess(answerLine: other) && !HAProxyCommand.isMissingServer(answerLine: other))
        #expect(HAProxyCommand.recomputeCookies(ofBackend: "t_acme") == "enable dynamic-cookie backend t_acme")
    }
}
