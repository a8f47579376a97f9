import ClusterControl
import ClusterCore
import Glibc
import Logging
import NIOCore
import Synchronization

/// One control connection: hello first, then requests answered in any order (an `activate` waits for its
/// worker while later requests are answered), and after `subscribe` the event lines.
struct ControlSession {
    static let helloTimeout: Duration = .seconds(10)

    let supervisor: Supervisor
    let logger: Logger
    /// Identifies this connection's activity reports: its in-flight counts end with it.
    let reporter: Int

    func run(_ connection: NIOAsyncChannel<ControlLine, ByteBuffer>) async {
        let channel = connection.channel
        do {
            try await connection.executeThenClose { inbound, outbound in
                let greeted = Greeting()
                let helloTimer = channel.eventLoop.scheduleTask(
                    in: .seconds(Int64(Self.helloTimeout.components.seconds))
                ) {
                    if !greeted.done { channel.close(promise: nil) }
                }
                defer { helloTimer.cancel() }
                try await withThrowingDiscardingTaskGroup { tasks in
                    var subscription: Subscription?
                    var clientName: String?
                    for try await item in inbound {
                        guard case .line(let buffer) = item else {
                            let error = ControlError(
                                .lineTooLong,
                                "a line may be at most \(ControlCodec.maximumLineLength) bytes; closing the connection"
                            )
                            try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: nil, error: error)))
                            break
                        }
                        let request: ControlRequest
                        switch ControlCodec.parseRequest(buffer.readableBytesView) {
                        case .success(let parsed): request = parsed
                        case .failure(let failure):
                            try await outbound.write(
                                ByteBuffer(bytes: ControlCodec.reply(id: failure.id, error: failure.error))
                            )
                            continue
                        }
                        let id = request.id
                        switch request.operation {
                        case .hello(let versions, let client):
                            guard let version = versions.filter(ControlCodec.supportedVersions.contains).max() else {
                                let error = ControlError(
                                    .unsupportedVersion,
                                    "clusterd speaks protocol versions \(ControlCodec.supportedVersions), the client \(versions)"
                                )
                                try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: id, error: error)))
                                tasks.cancelAll()
                                return
                            }
                            greeted.done = true
                            clientName = client
                            logger.debug(
                                "control client",
                                metadata: ["client": "\(client ?? "?")", "version": "\(version)"]
                            )
                            let history = await supervisor.upgradeHistory
                            let reply = HelloReply(
                                version: version,
                                pid: getpid(),
                                upgrades: history.handovers,
                                lastUpgrade: history.outcome
                            )
                            try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: id, reply)))
                        case _ where !greeted.done:
                            let error = ControlError(
                                .helloRequired,
                                "send hello first: {\"id\":1,\"op\":\"hello\",\"versions\":[1]}"
                            )
                            try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: id, error: error)))
                        case .activate(let tenant, let additional):
                            tasks.addTask {
                                let line = await activate(id: id, tenant: tenant, additional: additional)
                                try await outbound.write(ByteBuffer(bytes: line))
                            }
                        case .subscribe:
                            guard subscription == nil else {
                                let error = ControlError(
                                    .badRequest,
                                    "subscribe: this connection is already subscribed"
                                )
                                try await outbound.write(ByteBuffer(bytes: ControlCodec.reply(id: id, error: error)))
                                continue
                            }
                            let (snapshot, newSubscription) = await supervisor.subscribe()
                            subscription = newSubscription
                            await supervisor.subscriberConnected(client: clientName)
                            try await outbound.write(
                                ByteBuffer(bytes: ControlCodec.reply(id: id, SubscribeReply(snapshot: snapshot)))
                            )
                            tasks.addTask {
                                defer { newSubscription.finish() }
                                for await line in newSubscription.lines {
                                    try await outbound.write(ByteBuffer(bytes: line))
                                }
                                if newSubscription.overflowed {
                                    var event = ControlEvent(event: .overflow)
                                    event.reason =
                                        "more than \(newSubscription.bufferLimit) events unread; reconnect and subscribe again"
                                    try await outbound.write(ByteBuffer(bytes: ControlCodec.event(event)))
                                    channel.close(promise: nil)
                                }
                            }
                        default:
                            let line = await answer(id: id, request.operation)
                            try await outbound.write(ByteBuffer(bytes: line))
                        }
                    }
                    // The client is done sending (it may have only half-closed): answer what is pending (activations
                    // end by start_timeout), then close; a subscription ends with the input.
                    subscription?.finish()
                }
            }
        } catch {
            logger.debug("control connection ended", metadata: ["error": "\(error)"])
        }
        // A router that goes away takes its proxied requests with it.
        await supervisor.reporterDisconnected(reporter)
    }

    /// Requests answered at once.
    private func answer(id: RequestID, _ operation: ControlOperation) async -> [UInt8] {
        switch operation {
        case .status(let tenant):
            guard let snapshot = await supervisor.snapshot(tenant: tenant) else {
                return ControlCodec.reply(
                    id: id,
                    error: ControlError(.unknownTenant, "no tenant named \"\(tenant ?? "")\"")
                )
            }
            return ControlCodec.reply(id: id, snapshot)
        case .scale(let counts):
            do {
                let scales = try await supervisor.scale(counts)
                logger.notice(
                    "scale",
                    metadata: [
                        "tenants":
                            "\(counts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
                    ]
                )
                return ControlCodec.reply(id: id, ScaleReply(scales: scales))
            } catch {
                return ControlCodec.reply(id: id, error: Self.controlError(error))
            }
        case .start(let tenant), .stop(let tenant), .restart(let tenant), .drain(let tenant):
            do {
                switch operation {
                case .start: try await supervisor.start(tenant: tenant)
                case .stop: try await supervisor.stop(tenant: tenant)
                case .restart: try await supervisor.restart(tenant: tenant)
                default: try await supervisor.drain(tenant: tenant)
                }
                logger.notice("\(operation.name)", metadata: ["tenant": "\(tenant)"])
                return ControlCodec.reply(id: id, EmptyReply())
            } catch {
                return ControlCodec.reply(id: id, error: Self.controlError(error))
            }
        case .reload:
            switch await supervisor.reloadFromFile() {
            case .success(let count): return ControlCodec.reply(id: id, ReloadReply(tenants: count))
            case .failure(let failure):
                return ControlCodec.reply(
                    id: id,
                    error: ControlError(.invalidConfiguration, failure.message, details: failure.details)
                )
            }
        case .activity(let reports):
            await supervisor.reportActivity(reports.map { ($0.worker, $0.inFlight) }, from: reporter)
            return ControlCodec.reply(id: id, EmptyReply())
        case .upgrade:
            // On success this process is replaced and the connection closes without a reply.
            let failure = await supervisor.upgrade()
            return ControlCodec.reply(id: id, error: ControlError(.upgradeFailed, failure.description))
        case .hello, .activate, .subscribe:
            return ControlCodec.reply(
                id: id,
                error: ControlError(.internalError, "\(operation.name) is handled elsewhere")
            )
        }
    }

    private func activate(id: RequestID, tenant: String, additional: Bool) async -> [UInt8] {
        let answer: ActivationAnswer
        do {
            answer = try await supervisor.activate(tenant: tenant, additional: additional)
        } catch {
            return ControlCodec.reply(id: id, error: ControlError(.shuttingDown, "the activation was cancelled"))
        }
        switch answer {
        case .ready(let workers):
            return ControlCodec.reply(
                id: id,
                ActivateReply(workers: workers.map { WorkerEndpoint(id: $0.id, port: $0.port) })
            )
        case .failed(let failure):
            return ControlCodec.reply(id: id, error: ControlError(failure))
        }
    }

    static func controlError(_ error: any Error) -> ControlError {
        guard let rejection = error as? CommandRejection else { return ControlError(.internalError, "\(error)") }
        switch rejection.code {
        case .unknownTenant: return ControlError(.unknownTenant, rejection.message)
        case .shuttingDown: return ControlError(.shuttingDown, rejection.message)
        default: return ControlError(.invalidArgument, rejection.message)
        }
    }
}

/// Whether the connection said hello yet (read by the hello timeout).
private final class Greeting: Sendable {
    private let value = Atomic<Bool>(false)

    var done: Bool {
        get { value.load(ordering: .relaxed) }
        set { value.store(newValue, ordering: .relaxed) }
    }
}
