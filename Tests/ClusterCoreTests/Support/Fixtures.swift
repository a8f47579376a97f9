@testable import ClusterCore

/// The instant tests start at; far from zero so that `t0 - something` stays meaningful.
let t0 = Instant(nanoseconds: 1_000_000_000_000)

extension TenantConfiguration {
    /// A tenant with short, round timeouts and a command that uses both placeholders.
    static func fixture(
        _ name: String,
        command: [String]? = nil,
        environment: [String: String] = [:],
        workingDirectory: String? = nil,
        readiness: Readiness = .listenFDs,
        idleTimeout: Duration = .seconds(300),
        startTimeout: Duration = .seconds(30),
        stopTimeout: Duration = .seconds(10),
        drainTimeout: Duration = .seconds(30),
        watchdog: Duration = .zero,
        minWorkers: Int = 0,
        maxWorkers: Int = 1
    ) -> TenantConfiguration {
        TenantConfiguration(
            name: name,
            hosts: ["\(name).example.test"],
            command: command ?? ["/usr/bin/app", "--port", "{port}", "--tenant", "{tenant}"],
            environment: environment,
            workingDirectory: workingDirectory,
            idleTimeout: idleTimeout,
            startTimeout: startTimeout,
            stopTimeout: stopTimeout,
            drainTimeout: drainTimeout,
            watchdog: watchdog,
            minWorkers: minWorkers,
            maxWorkers: maxWorkers,
            readiness: readiness
        )
    }
}

extension ClusterConfiguration {
    /// A host with the given tenants, 100 ports from 20000, and a cap of 512 unless told.
    static func fixture(
        _ tenants: TenantConfiguration...,
        maxWorkers: Int = 512,
        ports: ClosedRange<Int> = 20000...20099
    ) -> ClusterConfiguration {
        fixture(tenants, maxWorkers: maxWorkers, ports: ports)
    }

    static func fixture(
        _ tenants: [TenantConfiguration],
        maxWorkers: Int = 512,
        ports: ClosedRange<Int> = 20000...20099
    ) -> ClusterConfiguration {
        ClusterConfiguration(
            ports: PortRange(ports),
            maxWorkers: maxWorkers,
            domain: "example.test",
            tenants: Dictionary(uniqueKeysWithValues: tenants.map { ($0.name, $0) })
        )
    }
}

/// A deterministic generator (SplitMix64) for the randomized tests: same seed, same run.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Swift Testing has an `ExitStatus` of its own (for exit tests); in these tests the name means the worker's.
typealias ExitStatus = ClusterCore.ExitStatus

/// Activation refusals as a router hears them, by kind.
extension ActivationRefusal {
    static func startFailed(_ message: String) -> Self { Self(kind: .startFailed, message: message) }
    static func startTimedOut(_ message: String) -> Self { Self(kind: .startTimedOut, message: message) }
    static func tenantStopped(_ message: String) -> Self { Self(kind: .tenantStopped, message: message) }
    static func unknownTenant(_ message: String) -> Self { Self(kind: .unknownTenant, message: message) }
    /// An error reply that is not an activation failure.
    static func unavailable(_ message: String) -> Self { Self(kind: nil, message: message) }
    static func tenantFailed(_ message: String, retryAfter: Duration) -> Self {
        Self(kind: .tenantFailed, message: message, retryAfter: retryAfter)
    }
}

extension TenantDispatch.Refusal {
    static func tenantFailed(_ message: String, retryAfter: Duration) -> Self {
        .activationFailed(.tenantFailed(message, retryAfter: retryAfter))
    }
}
