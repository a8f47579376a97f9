// Every line of the protocol, written directly rather than through JSONEncoder: a snapshot (the reply to `status`
// and `subscribe`, and the `config-reloaded` event) of 10,000 tenants is 1.5 MB, which JSONEncoder takes ~50 ms to
// write. Each type writes the bytes JSONEncoder writes for its Codable conformance: every key of its CodingKeys, in
// sorted order, an optional member left out when nil. Tests compare the two on every type.

extension ClusterSnapshot: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
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
    public func write(to json: inout JSONTextWriter) {
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
            $0.member("state", state.rawValue)
            $0.member("target", target)
            $0.member("waiting", waiting)
            $0.member("workers", workers)
        }
    }
}

extension WorkerSnapshot: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("id", id.description)
            $0.member("idle_in_ms", idleInMilliseconds)
            $0.member("in_flight", inFlight)
            $0.member("pid", pid)
            $0.member("port", port)
            $0.member("state", state.rawValue)
            $0.member("status", status)
            $0.member("stop_reason", stopReason)
            $0.member("uptime_ms", uptimeMilliseconds)
        }
    }
}

extension SubscribeReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object { $0.member("snapshot", snapshot) }
    }
}

extension ControlEvent: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
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
            $0.member("worker", worker?.description)
        }
    }
}

extension RequestID: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        switch self {
        case .number(let number): number.write(to: &json)
        case .string(let string): string.write(to: &json)
        }
    }
}

extension HelloReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("last_upgrade", lastUpgrade)
            $0.member("pid", pid)
            $0.member("server", server)
            $0.member("upgrades", upgrades)
            $0.member("version", version)
        }
    }
}

extension EmptyReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object { _ in }
    }
}

extension ScaleReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object { $0.member("scales", scales) }
    }
}

extension ReloadReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object { $0.member("tenants", tenants) }
    }
}

extension WorkerEndpoint: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("id", id.description)
            $0.member("port", port)
        }
    }
}

extension ActivateReply: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object { $0.member("workers", workers) }
    }
}

extension ControlError: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("code", code.rawValue)
            $0.member("details", details)
            $0.member("message", message)
            $0.member("retry_after_ms", retryAfterMilliseconds)
        }
    }
}

extension WorkerActivity: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.object {
            $0.member("in_flight", inFlight)
            $0.member("worker", worker.description)
        }
    }
}

extension ControlRequest: JSONTextWritable {
    /// `{"id":…,"op":…, the operation's parameters}`, keys sorted as every line's are.
    public func write(to json: inout JSONTextWriter) {
        json.object { object in
            switch operation {
            case .hello(let versions, let client):
                object.member("client", client)
                object.member("id", id)
                object.member("op", operation.name)
                object.member("versions", versions)
            case .status(let tenant):
                object.member("id", id)
                object.member("op", operation.name)
                object.member("tenant", tenant)
            case .scale(let counts):
                object.member("id", id)
                object.member("op", operation.name)
                object.member("tenants", counts)
            case .start(let tenant), .stop(let tenant), .restart(let tenant), .drain(let tenant):
                object.member("id", id)
                object.member("op", operation.name)
                object.member("tenant", tenant)
            case .reload, .subscribe, .upgrade:
                object.member("id", id)
                object.member("op", operation.name)
            case .activate(let tenant, let additional):
                object.member("additional", additional)
                object.member("id", id)
                object.member("op", operation.name)
                object.member("tenant", tenant)
            case .activity(let reports):
                object.member("id", id)
                object.member("op", operation.name)
                object.member("workers", reports)
            }
        }
    }
}
