// The lines that grow with the cluster, written directly rather than through JSONEncoder: a snapshot (the reply to
// `status` and `subscribe`, and the `config-reloaded` event) of 10,000 tenants is 1.5 MB, which JSONEncoder takes
// ~50 ms to write. Each type writes the bytes JSONEncoder writes for its Codable conformance: every key of its
// CodingKeys, in sorted order, an optional member left out when nil. Tests compare the two on every type.

extension ClusterSnapshot: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("domain", domain)
            $0.member("max_workers", maxWorkers)
            $0.member("shutting_down", shuttingDown)
            $0.member("tenants", tenants)
            $0.member("workers_total", workersTotal)
        }
    }
}

extension TenantSnapshot: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("floor", floor)
            $0.member("hosts", hosts)
            $0.member("last_error", lastError)
            $0.member("max_concurrency", maxConcurrency)
            $0.member("max_workers", maxWorkers)
            $0.member("name", name)
            $0.member("queue_limit", queueLimit)
            $0.member("retry_in_ms", retryInMilliseconds)
            $0.member("scale", scale)
            $0.member("state", state)
            $0.member("target", target)
            $0.member("waiting", waiting)
            $0.member("workers", workers)
        }
    }
}

extension WorkerSnapshot: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("id", id)
            $0.member("idle_in_ms", idleInMilliseconds)
            $0.member("in_flight", inFlight)
            $0.member("pid", pid)
            $0.member("port", port)
            $0.member("state", state)
            $0.member("status", status)
            $0.member("stop_reason", stopReason)
            $0.member("uptime_ms", uptimeMilliseconds)
        }
    }
}

extension SubscribeReply: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        json.object { $0.member("snapshot", snapshot) }
    }
}

extension ControlEvent: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("event", event.rawValue)
            $0.member("exit", exit)
            $0.member("exit_code", exitCode)
            $0.member("pid", pid)
            $0.member("port", port)
            $0.member("reason", reason)
            $0.member("retry_after_ms", retryAfterMilliseconds)
            $0.member("signal", signal)
            $0.member("snapshot", snapshot)
            $0.member("tenant", tenant)
            $0.member("worker", worker)
        }
    }
}

extension RequestID: JSONTextWritable {
    func write(to json: inout JSONTextWriter) {
        switch self {
        case .number(let number): number.write(to: &json)
        case .string(let string): string.write(to: &json)
        }
    }
}

extension ControlCodec {
    /// `{"id":…,"result":…}\n` for a result that writes itself; `"id":null` when the id is unknown.
    static func writtenReply(id: RequestID?, _ result: some JSONTextWritable) -> [UInt8] {
        var json = JSONTextWriter(pretty: false)
        json.object {
            if let id { $0.member("id", id) } else { $0.member("id", JSONValue.null) }
            $0.member("result", result)
        }
        json.bytes.append(UInt8(ascii: "\n"))
        return json.bytes
    }
}
