import Testing

@testable import ClusterCore

// fds as a start might pass them: systemd's http and control sockets, its fd store, the old router's copies.
private let http: [Int32] = [5, 6]
private let control: Int32 = 4
private let stored: [Int32] = [8, 9]
private let copied: [Int32] = [10, 11]

@Suite("Start-up plan")
struct StartupPlanTests {
    typealias Plan = StartupPlan

    @Test(
        "crash recovery is looked for only without a hand-over; the old router's sockets only when needed",
        arguments: [
            (true, [], false, nil),
            (true, http, false, nil),
            (true, [], true, nil),
            (true, http, true, nil),
            (false, [], false, Plan.CrashRecoverySearch(needsRouterListeners: true)),
            (false, http, false, Plan.CrashRecoverySearch(needsRouterListeners: false)),
            (false, [], true, Plan.CrashRecoverySearch(needsRouterListeners: false)),
            (false, http, true, Plan.CrashRecoverySearch(needsRouterListeners: false)),
        ] as [(Bool, [Int32], Bool, Plan.CrashRecoverySearch?)]
    )
    func crashRecoverySearch(
        handedOver: Bool,
        activatedHTTP: [Int32],
        noRouter: Bool,
        expected: Plan.CrashRecoverySearch?
    ) {
        #expect(
            Plan.crashRecoverySearch(handedOver: handedOver, activatedHTTP: activatedHTTP, noRouter: noRouter)
                == expected
        )
    }

    @Test(
        "after an upgrade everything is as the previous image had it",
        arguments: [
            (true, 42 as Int32?),
            (false, 42),
            (true, nil),
            (false, nil),
        ] as [(Bool, Int32?)]
    )
    func handedOver(ownsControlFile: Bool, routerPID: Int32?) {
        let plan = Plan(
            handedOver: .init(
                controlSocket: 3,
                ownsControlFile: ownsControlFile,
                routerListeners: [7, 8],
                routerPID: routerPID
            )
        )
        #expect(
            plan
                == Plan(
                    control: .handedOver(fd: 3, ownsFile: ownsControlFile),
                    routerListeners: .handedOver([7, 8]),
                    closing: [],
                    adoptedRouterPID: routerPID
                )
        )
    }

    @Test(
        "router listeners: systemd's, else the old router's, else bound; none (and systemd's closed) without a router",
        arguments: [
            ([], nil, false, Plan.RouterListeners.bind, []),
            ([], [], false, .bind, []),
            ([], copied, false, .recovered(copied), []),
            (http, nil, false, .activated(http), []),
            (http, [], false, .activated(http), []),
            (http, copied, false, .activated(http), copied),
            ([], nil, true, .none, []),
            ([], [], true, .none, []),
            (http, nil, true, .none, http),
            (http, [], true, .none, http),
            (http, copied, true, .none, http + copied),
        ] as [([Int32], [Int32]?, Bool, Plan.RouterListeners, [Int32])]
    )
    func routerListeners(
        http: [Int32],
        recoveredListeners: [Int32]?,
        noRouter: Bool,
        expected: Plan.RouterListeners,
        closing: [Int32]
    ) {
        let plan = Plan(
            activated: .init(http: http),
            recovered: recoveredListeners.map { .init(routerListeners: $0, routerPID: 77) },
            noRouter: noRouter
        )
        #expect(plan.routerListeners == expected)
        #expect(plan.closing == closing)
    }

    @Test(
        "the control socket is systemd's when it passed one, else clusterd makes the file",
        arguments: [(control as Int32?, Plan.ControlSocket.activated(fd: control)), (nil, .openFile)]
    )
    func controlSocket(activated: Int32?, expected: Plan.ControlSocket) {
        for noRouter in [false, true] {
            #expect(Plan(activated: .init(control: activated), recovered: nil, noRouter: noRouter).control == expected)
        }
    }

    /// A fresh start (no hand-over), as systemd and a crashed clusterd may have left it.
    struct FreshStart: Sendable, CustomTestStringConvertible {
        var activated: Plan.Activated
        var recovered: Plan.Recovered?
        var noRouter: Bool

        var testDescription: String {
            "http \(activated.http) control \(activated.control.map(String.init) ?? "-") stored \(activated.others)"
                + " recovered \(recovered.map { "\($0.routerListeners) pid \($0.routerPID.map(String.init) ?? "-")" } ?? "-")"
                + (noRouter ? " --no-router" : "")
        }

        static let all: [FreshStart] = {
            var all: [FreshStart] = []
            for httpFDs in [[], http] {
                for controlFD in [nil, control] {
                    for others in [[], stored] {
                        for recovered: Plan.Recovered? in [
                            nil, .init(routerPID: 77), .init(routerListeners: copied, routerPID: 77),
                            .init(routerListeners: copied),
                        ] {
                            for noRouter in [false, true] {
                                all.append(
                                    FreshStart(
                                        activated: .init(http: httpFDs, control: controlFD, others: others),
                                        recovered: recovered,
                                        noRouter: noRouter
                                    )
                                )
                            }
                        }
                    }
                }
            }
            return all
        }()
    }

    @Test(
        "every fresh start: each fd is used or closed exactly once, the right router adopted",
        arguments: FreshStart.all
    )
    func freshStart(_ start: FreshStart) {
        let plan = Plan(activated: start.activated, recovered: start.recovered, noRouter: start.noRouter)

        var used: [Int32] = []
        switch plan.control {
        case .activated(let fd):
            #expect(fd == start.activated.control)
            used.append(fd)
        case .openFile: #expect(start.activated.control == nil)
        case .handedOver: Issue.record("a fresh start has no hand-over")
        }
        switch plan.routerListeners {
        case .activated(let fds):
            #expect(!start.noRouter)
            #expect(fds == start.activated.http)
            used += fds
        case .recovered(let fds):
            #expect(!start.noRouter && start.activated.http.isEmpty)
            #expect(fds == start.recovered?.routerListeners)
            used += fds
        case .bind:
            #expect(!start.noRouter && start.activated.http.isEmpty)
            #expect(start.recovered?.routerListeners.isEmpty ?? true)
        case .none: #expect(start.noRouter)
        case .handedOver: Issue.record("a fresh start has no hand-over")
        }
        // The fd store's fds belong to the crash recovery when there is one; else they are closed.
        if start.recovered == nil {
            #expect(start.activated.others.allSatisfy(plan.closing.contains))
        } else {
            #expect(!start.activated.others.contains(where: plan.closing.contains))
            used += start.activated.others
        }
        let passed =
            start.activated.http + [start.activated.control].compactMap { $0 } + start.activated.others
            + (start.recovered?.routerListeners ?? [])
        #expect((used + plan.closing).sorted() == passed.sorted())

        #expect(plan.adoptedRouterPID == (start.noRouter ? nil : start.recovered?.routerPID))
    }
}
