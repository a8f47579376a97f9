/// Limits and timeouts of the proxy engine; every default is what `clusterd` uses when no flag says otherwise.
public struct ProxyConfiguration: Sendable, Hashable {
    /// Request line plus headers, in bytes; a larger request head is answered 431 and the connection closed.
    public var maxHeaderBytes: Int = 16 * 1024
    /// Request body, in bytes: a larger `Content-Length` is answered 413 at once; a chunked body that grows past
    /// it is answered 413 if no response has started, else the connection is closed.
    public var maxBodyBytes: Int = 100 * 1024 * 1024
    /// From the first byte of a request head to its end: a client slower than this gets 408 and is closed.
    public var requestHeadTimeout: Duration = .seconds(10)
    /// Longest pause while a request body is being read (not counting pauses the proxy itself imposes for
    /// backpressure): 408 if no response has started, else the connection is closed.
    public var bodyReadTimeout: Duration = .seconds(60)
    /// How long a client connection may sit idle between requests before it is closed.
    public var keepAliveTimeout: Duration = .seconds(60)
    /// Client connections open at once; beyond it a new connection gets 503 and is closed.
    public var maxClientConnections: Int = 10_000
    /// Connecting to a worker; slower counts as unreachable.
    public var upstreamConnectTimeout: Duration = .seconds(5)
    /// How long a worker may take to begin its response once it has the whole request: a worker that accepts and
    /// never answers gets the client a 504, not a wait without end. The response body, once begun, has no such
    /// limit (it may stream), nor has a request body still being sent (the body read timeout covers the client).
    public var upstreamResponseTimeout: Duration = .seconds(60)
    /// Idle keep-alive connections kept per worker on each event loop.
    public var maxIdleUpstreamConnectionsPerWorker: Int = 64
    /// An idle pooled connection to a worker is closed after this long unused.
    public var upstreamIdleTimeout: Duration = .seconds(30)
    /// How many times a request is routed again to a worker it already found unreachable (one clusterd still
    /// reports ready) before the client gets 502; 0 gives 502 at the first unreachable worker. Routing again to a
    /// different worker does not count: an unreachable worker is dropped from routing (the routing holds it
    /// out until clusterd reports it gone, or for `TenantDispatch.unreachableHold`), so a request that meets the
    /// stale workers of a scale-down, a restart or a crash clusterd has not handled yet goes on to the next one,
    /// or waits for a new one, instead of failing.
    public var maxRouteRetries: Int = 2
    /// Most connection attempts for one request, to whichever workers. Each costs at most `upstreamConnectTimeout`
    /// (a refused connect costs nothing), so this also bounds the time spent on unreachable workers.
    public var maxRouteAttempts: Int = 16
    /// A graceful stop waits this long for in-flight requests, then closes what is left.
    public var drainTimeout: Duration = .seconds(30)
    /// The accept queue of every listening socket, also re-applied to adopted ones.
    public var listenBacklog: Int32 = 4096
    /// A refused or failed request whose unread body is at most this long is read and dropped so the connection
    /// stays usable; a longer one closes the connection after the response.
    public var maxDrainBytes: Int = 64 * 1024
    /// After answering early and closing, the proxy keeps reading (and dropping) what the client still sends for
    /// this long, so the client sees the response rather than a reset.
    public var lingerTimeout: Duration = .seconds(2)

    /// The defaults.
    public init() {}
}
