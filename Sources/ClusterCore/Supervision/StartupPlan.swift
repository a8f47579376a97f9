/// Where clusterd's listening sockets come from at start, which passed fds it closes, and which running router
/// it adopts: from an in-place upgrade's hand-over, or else from systemd's socket activation, what a crashed
/// clusterd left running, and the configuration.
///
/// Pure: the shell gathers what it was given, asks `crashRecoverySearch` whether to look for a crashed
/// clusterd, then executes the plan in order: close `closing`, take the router listeners, take the control socket.
public struct StartupPlan: Sendable, Equatable {
    /// What the previous image of an in-place upgrade handed over.
    public struct HandedOver: Sendable, Equatable {
        public var controlSocket: Int32
        /// The previous image made the control socket's file (rather than systemd).
        public var ownsControlFile: Bool
        public var routerListeners: [Int32]
        public var routerPID: Int32?

        public init(controlSocket: Int32, ownsControlFile: Bool, routerListeners: [Int32], routerPID: Int32?) {
            self.controlSocket = controlSocket
            self.ownsControlFile = ownsControlFile
            self.routerListeners = routerListeners
            self.routerPID = routerPID
        }
    }

    /// The fds systemd passed: `http` and `control` by name, and the rest (its fd store).
    public struct Activated: Sendable, Equatable {
        public var http: [Int32]
        public var control: Int32?
        public var others: [Int32]

        public init(http: [Int32] = [], control: Int32? = nil, others: [Int32] = []) {
            self.http = http
            self.control = control
            self.others = others
        }
    }

    /// What a crashed clusterd left running that is adopted.
    public struct Recovered: Sendable, Equatable {
        /// Its router's listening sockets, copied from that router (only when they were needed).
        public var routerListeners: [Int32]
        public var routerPID: Int32?

        public init(routerListeners: [Int32] = [], routerPID: Int32? = nil) {
            self.routerListeners = routerListeners
            self.routerPID = routerPID
        }
    }

    /// Whether to look for what a crashed clusterd left running, and what to take from it.
    public struct CrashRecoverySearch: Sendable, Equatable {
        /// Copy the old router's listening sockets: clusterd has none of its own for the router.
        public var needsRouterListeners: Bool

        public init(needsRouterListeners: Bool) {
            self.needsRouterListeners = needsRouterListeners
        }
    }

    public enum ControlSocket: Sendable, Equatable {
        /// The previous image's socket, its file owned by clusterd or not as before.
        case handedOver(fd: Int32, ownsFile: Bool)
        /// systemd's `control` socket; systemd owns its file.
        case activated(fd: Int32)
        /// Make the socket file at the configured path (clusterd owns it).
        case openFile
    }

    public enum RouterListeners: Sendable, Equatable {
        case handedOver([Int32])
        /// systemd's `http` sockets.
        case activated([Int32])
        /// The crashed clusterd's router's sockets.
        case recovered([Int32])
        /// Bind the configured `listen` addresses.
        case bind
        /// `--no-router`: no listeners.
        case none
    }

    public var control: ControlSocket
    public var routerListeners: RouterListeners
    /// Passed fds nobody uses, to close first.
    public var closing: [Int32]
    /// The router process still running to adopt rather than start (the hand-over's, else the recovered one's).
    public var adoptedRouterPID: Int32?

    public init(
        control: ControlSocket,
        routerListeners: RouterListeners,
        closing: [Int32],
        adoptedRouterPID: Int32?
    ) {
        self.control = control
        self.routerListeners = routerListeners
        self.closing = closing
        self.adoptedRouterPID = adoptedRouterPID
    }

    /// Only without a hand-over (an upgraded image adopts its workers from the hand-over). The old router's
    /// listeners are wanted when there is a router and systemd passed no `http` sockets.
    public static func crashRecoverySearch(
        handedOver: Bool,
        activatedHTTP: [Int32],
        noRouter: Bool
    ) -> CrashRecoverySearch? {
        handedOver ? nil : CrashRecoverySearch(needsRouterListeners: !noRouter && activatedHTTP.isEmpty)
    }

    /// After an in-place upgrade: everything as the previous image had it (`--no-router` included, since the
    /// arguments are the same).
    public init(handedOver: HandedOver) {
        self.init(
            control: .handedOver(fd: handedOver.controlSocket, ownsFile: handedOver.ownsControlFile),
            routerListeners: .handedOver(handedOver.routerListeners),
            closing: [],
            adoptedRouterPID: handedOver.routerPID
        )
    }

    /// A fresh start, or one after a crash (`recovered` non-nil: something was adopted). Router listeners: systemd's,
    /// else the old router's, else bound here; none with `noRouter` (systemd's are closed). The fd store's other
    /// fds are the crash recovery's (it closes what it does not use); without one they are closed here.
    public init(activated: Activated, recovered: Recovered?, noRouter: Bool) {
        var closing = recovered == nil ? activated.others : []
        let recoveredListeners = recovered?.routerListeners ?? []
        let router: RouterListeners
        if noRouter {
            closing += activated.http
            router = .none
        } else if !activated.http.isEmpty {
            router = .activated(activated.http)
        } else if !recoveredListeners.isEmpty {
            router = .recovered(recoveredListeners)
        } else {
            router = .bind
        }
        // Copies of the old router's sockets are taken only when they are needed; any not used are not kept open.
        if router != .recovered(recoveredListeners) { closing += recoveredListeners }
        self.init(
            control: activated.control.map { .activated(fd: $0) } ?? .openFile,
            routerListeners: router,
            closing: closing,
            adoptedRouterPID: noRouter ? nil : recovered?.routerPID
        )
    }
}
