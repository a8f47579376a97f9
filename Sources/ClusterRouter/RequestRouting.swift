import ClusterCore
import NIOCore
import NIOHTTP1

/// What the proxy asks for each request, once its head is read.
public struct RouteQuery: Sendable {
    /// The `Host` header, lower-cased, without the port.
    public var host: String
    /// The value of the `clusterd_route` cookie, if the request carries one.
    public var routeCookie: String?

    public init(host: String, routeCookie: String?) {
        self.host = host
        self.routeCookie = routeCookie
    }
}

/// Where a request goes: a worker, or an answer the router gives itself.
public enum RouteResult: Sendable {
    case forward(ForwardTarget)
    /// 404 unknown host, 502 start failed, 503 queue full / tenant failed / stopped, 504 start timed out.
    case respond(RouterRefusal)
}

/// A worker chosen for one request. Holding it counts one request in flight on that worker until the proxy
/// calls ``RequestRouting/finished(_:)`` (for an upgraded connection: when the tunnel closes).
public struct ForwardTarget: Sendable {
    public var tenant: String
    public var worker: WorkerID
    /// The worker listens on 127.0.0.1:port.
    public var port: Int
    /// When set, the response carries `Set-Cookie: clusterd_route=<value>; Path=/; HttpOnly; SameSite=Lax`.
    public var setRouteCookie: String?
    /// When the request waited for a worker to start: the response carries `X-Clusterd-Cold-Start: <ms>`.
    public var coldStart: Duration?

    public init(tenant: String, worker: WorkerID, port: Int, setRouteCookie: String? = nil, coldStart: Duration? = nil)
    {
        self.tenant = tenant
        self.worker = worker
        self.port = port
        self.setRouteCookie = setRouteCookie
        self.coldStart = coldStart
    }
}

/// An answer the router gives without a worker: a status and a one-line plain-text reason.
public struct RouterRefusal: Sendable, Equatable {
    public var status: HTTPResponseStatus
    public var reason: String
    /// Seconds for a `Retry-After` header (503s).
    public var retryAfterSeconds: Int?

    public init(status: HTTPResponseStatus, reason: String, retryAfterSeconds: Int? = nil) {
        self.status = status
        self.reason = reason
        self.retryAfterSeconds = retryAfterSeconds
    }
}

/// Identifies a routing request that may still be waiting, so the proxy can withdraw it.
public struct RouteTicket: Hashable, Sendable {
    public var value: UInt64

    public init(_ value: UInt64) {
        self.value = value
    }
}

/// Where a request goes, as ``RequestRouting/route(_:on:)`` answers it.
public enum RouteDecision: Sendable {
    /// Decided at once (the common case: a worker is free, or the answer is a refusal).
    case now(RouteResult)
    /// The request waits (for a worker to start, or to be free): the future completes when it is decided; the
    /// ticket withdraws it.
    case later(RouteTicket, EventLoopFuture<RouteResult>)
}

/// The routing side of the router, seen from the proxy. Thread-safe: called from every event loop.
public protocol RequestRouting: Sendable {
    /// Completes `promise` with where the request goes: at once when a worker is free, later when one has
    /// started (the request waits in its tenant's bounded queue meanwhile).
    func route(_ query: RouteQuery, promise: EventLoopPromise<RouteResult>) -> RouteTicket

    /// Where the request goes: decided now when no waiting is needed (then without a promise, a future or a
    /// ticket: the proxy's per-request path), else later on `eventLoop`. The default calls
    /// ``route(_:promise:)``.
    func route(_ query: RouteQuery, on eventLoop: any EventLoop) -> RouteDecision

    /// The client went away before `route` completed: forget the request.
    func cancel(_ ticket: RouteTicket)

    /// The request sent to `target` is over (response finished, failed, or its upgraded tunnel closed).
    func finished(_ target: ForwardTarget)

    /// Connecting to `target` was refused or failed before anything was sent: the worker is gone, or going
    /// (clusterd may still list it). The request was not sent; the proxy routes it again (after `finished` for
    /// this target).
    func unreachable(_ target: ForwardTarget)
}

extension RequestRouting {
    public func route(_ query: RouteQuery, on eventLoop: any EventLoop) -> RouteDecision {
        let promise = eventLoop.makePromise(of: RouteResult.self)
        let ticket = self.route(query, promise: promise)
        return .later(ticket, promise.futureResult)
    }
}
