import ClusterCore
import NIOCore
import NIOHTTP1

/// One request and its response as they cross the proxy: where it stands on both sides.
struct ProxyExchange {
    /// Body bytes kept after being sent to a worker, so the request can be sent again on a fresh connection when a
    /// pooled one turns out dead; past this, retrying is given up for this request.
    static let replayLimit = 64 * 1024

    /// Distinguishes this exchange from later ones on the same connection (stale callbacks are recognised by it).
    let id: UInt64
    let request: HTTPRequestHead
    let inspected: InspectedRequest

    /// The pending routing request, until it completes.
    var ticket: RouteTicket?
    /// The worker, while held (``RequestRouting/finished(_:)`` releases it exactly once).
    var target: ForwardTarget?
    /// Workers this request could not connect to, in order (a worker may appear again if clusterd still reports
    /// it ready).
    var unreachableWorkers: [WorkerID] = []
    var upstream: UpstreamConnection?
    /// The head as sent to the worker, computed once.
    var upstreamHead: HTTPRequestHead?
    /// A dead pooled connection was already replaced once.
    var staleRetryUsed = false
    /// Body parts already sent to the worker, while the request can still be sent again; nil once it cannot.
    var replay: [ByteBuffer]? = []
    var replayBytes = 0

    /// Request body bytes read from the client.
    var bodyBytes = 0
    /// The client's request end has been read.
    var requestEnded = false
    /// The request end has been sent to the worker.
    var endForwarded = false
    /// `100 Continue` was sent to the client.
    var continueSent = false

    /// The worker's response head arrived.
    var responseHeadReceived = false
    /// A final response head went to the client (from the worker or the proxy).
    var responseHeadSent = false
    var responseFraming = ResponseBodyFraming.none
    /// The worker's connection cannot carry another exchange after this response.
    var upstreamCloses = false
    /// The response end went to the client.
    var responseEnded = false
    /// The client connection closes once the response is out.
    var closeAfter: Bool

    init(id: UInt64, request: HTTPRequestHead, inspected: InspectedRequest, closeAfter: Bool) {
        self.id = id
        self.request = request
        self.inspected = inspected
        self.closeAfter = closeAfter
    }

    /// Whether the unread rest of the body is small enough to read and drop after an early response, keeping the
    /// connection; a client told to wait for `100 Continue` that never got it may not send its body at all.
    func canDrainRest(limit: Int) -> Bool {
        if self.requestEnded { return true }
        if self.inspected.expectsContinue && !self.continueSent { return false }
        switch self.inspected.framing {
        case .none: return true
        case .contentLength(let length): return length - self.bodyBytes <= limit
        case .chunked: return false
        }
    }

    /// Keeps `part`, just sent to the worker, for a possible resend.
    mutating func remember(_ part: ByteBuffer) {
        guard self.replay != nil else { return }
        self.replayBytes += part.readableBytes
        if self.replayBytes > Self.replayLimit {
            self.replay = nil
        } else {
            self.replay?.append(part)
        }
    }
}

extension HTTPMethod {
    /// RFC 9110 §9.2.2: sending the request twice has the effect of sending it once.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }
}
