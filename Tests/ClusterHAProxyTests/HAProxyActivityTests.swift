import ClusterControl
import ClusterCore
import Testing

@testable import ClusterHAProxy

/// The header row of HAProxy 2.6.12's `show stat`, as it answered on a stats socket.
private let header =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,"

/// A `show stat` answer in 2.6's column layout with these server rows; the other columns are empty.
private func answer(_ rows: [(proxy: String, server: String, scur: Int, stot: Int)]) -> String {
    let columns = header.dropFirst(2).split(separator: ",").count
    var text =
        header + "\n" + "clusterd_http,FRONTEND,,,3,5,9986,40" + String(repeating: ",", count: columns - 8) + "\n"
    for row in rows {
        text += "\(row.proxy),\(row.server),0,0,\(row.scur),9,,\(row.stot)" + String(repeating: ",", count: columns - 8)
        text += "\n"
    }
    return text + "\n"
}

private let snapshot = ClusterSnapshot.fixture([
    .fixture(
        "acme",
        maxWorkers: 1,
        workers: [.fixture("acme#1", port: 20001), .fixture("acme#2", port: 20002, state: .draining)]
    ),
    .fixture("beta", maxWorkers: 1, workers: [.fixture("beta#1", port: 20011)]),
])

private func synchronized() -> HAProxySync {
    var sync = HAProxySync()
    _ = sync.resynchronized(snapshot, running: try! HAProxyLayout(snapshot))
    return sync
}

@Suite("HAProxy show stat and activity")
struct HAProxyActivityTests {
    @Test("the CSV is read by its header's column names")
    func parse() throws {
        let rows = try HAProxyStatistics.parse(answer([("t_acme", "w1", 2, 17)]))
        #expect(
            rows == [
                .init(proxy: "clusterd_http", server: "FRONTEND", currentSessions: 3, totalSessions: 40),
                .init(proxy: "t_acme", server: "w1", currentSessions: 2, totalSessions: 17),
            ]
        )
    }

    @Test("columns in another order, quoted fields and CRLF lines")
    func otherOrder() throws {
        let csv =
            "# stot,scur,svname,pxname,desc\r\n5,1,w2,t_beta,\"a, \"\"quoted\"\" text\"\r\n\r\n7,0,\"w1\",t_beta,\r\n"
        #expect(
            try HAProxyStatistics.parse(csv) == [
                .init(proxy: "t_beta", server: "w2", currentSessions: 1, totalSessions: 5),
                .init(proxy: "t_beta", server: "w1", currentSessions: 0, totalSessions: 7),
            ]
        )
        #expect(HAProxyStatistics.fields(of: "a,\"b,c\",\"d\"\"e\",,") == ["a", "b,c", "d\"e", "", ""])
    }

    @Test("lines whose counters are not numbers, or too short, are left out")
    func oddLines() throws {
        let csv = "# pxname,svname,scur,stot\nt_acme,w1,,\nt_acme\nt_acme,w2,1,2\n"
        #expect(try HAProxyStatistics.parse(csv).map(\.server) == ["w2"])
    }

    @Test(
        "no header, or a header without a needed column, is an error",
        arguments: ["", "Unknown command\n", "# pxname,svname,scur\nx,y,1\n"]
    )
    func unreadable(csv: String) {
        #expect(throws: HAProxyError.self) { try HAProxyStatistics.parse(csv) }
    }

    @Test("first answer: workers with sessions open, and draining ones; then only changes")
    func firstAndLater() throws {
        var sync = synchronized()
        // acme#1 in t_acme/w1, acme#2 (draining) in w2, beta#1 in t_beta/w1.
        #expect(sync.slot(of: "acme#2") == 2)
        let first = try sync.activity(
            fromStatistics: answer([
                ("t_acme", "w1", 0, 50), ("t_acme", "w2", 1, 9), ("t_acme", "activator", 4, 4),
                ("t_beta", "w1", 2, 3), ("t_beta", "w2", 0, 0),
            ])
        )
        #expect(first == [.init(worker: "acme#2", inFlight: 1), .init(worker: "beta#1", inFlight: 2)])

        // Nothing new: only the draining one, still reported.
        let quiet = try sync.activity(
            fromStatistics: answer([("t_acme", "w1", 0, 50), ("t_acme", "w2", 1, 9), ("t_beta", "w1", 2, 3)])
        )
        #expect(quiet == [.init(worker: "acme#2", inFlight: 1)])

        // acme#1 served a request and is idle again (stot grew); beta#1's requests finished (scur changed).
        let later = try sync.activity(
            fromStatistics: answer([("t_acme", "w1", 0, 51), ("t_acme", "w2", 0, 9), ("t_beta", "w1", 0, 3)])
        )
        #expect(
            later == [
                .init(worker: "acme#1", inFlight: 0), .init(worker: "acme#2", inFlight: 0),
                .init(worker: "beta#1", inFlight: 0),
            ]
        )
    }

    @Test("counters that went down (HAProxy reloaded) count as growth when above 0")
    func countersReset() throws {
        var sync = synchronized()
        _ = try sync.activity(fromStatistics: answer([("t_acme", "w1", 0, 50), ("t_beta", "w1", 0, 30)]))
        let after = try sync.activity(fromStatistics: answer([("t_acme", "w1", 0, 2), ("t_beta", "w1", 0, 0)]))
        #expect(after == [.init(worker: "acme#1", inFlight: 0)])
    }

    @Test("a slot's counters carry over to the next worker in it: only growth after it came is its")
    func slotReused() throws {
        var sync = synchronized()
        _ = try sync.activity(fromStatistics: answer([("t_beta", "w1", 0, 30)]))
        var gone = ControlEvent(event: .workerGone, tenant: "beta", worker: "beta#1")
        _ = sync.apply(gone)
        #expect(try sync.activity(fromStatistics: answer([("t_beta", "w1", 0, 30)])).isEmpty)
        var ready = ControlEvent(event: .workerReady, tenant: "beta", worker: "beta#2")
        ready.port = 20012
        _ = sync.apply(ready)
        #expect(try sync.activity(fromStatistics: answer([("t_beta", "w1", 0, 30)])).isEmpty)
        #expect(
            try sync.activity(fromStatistics: answer([("t_beta", "w1", 1, 31)])) == [
                .init(worker: "beta#2", inFlight: 1)
            ]
        )
        gone.worker = "beta#2"
        _ = sync.apply(gone)
        #expect(try sync.activity(fromStatistics: answer([("t_beta", "w1", 0, 40)])).isEmpty)
    }

    @Test("unknown backends and servers, and slots beyond the layout, are ignored")
    func unknownRows() throws {
        var sync = synchronized()
        let report = try sync.activity(
            fromStatistics: answer([
                ("t_gamma", "w1", 5, 5), ("t_acme", "w9", 5, 5), ("clusterd_router", "router", 5, 5),
                ("t_acme", "BACKEND", 5, 5),
            ])
        )
        #expect(report == [])
    }
}
