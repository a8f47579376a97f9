import ClusterCore

/// Small configurations built in code for the integration tests.
enum Configurations {
    static func tenant(
        _ name: String,
        command: [String],
        readiness: Readiness = .listenFDs,
        idleTimeout: Duration = .seconds(300),
        startTimeout: Duration = .seconds(10),
        stopTimeout: Duration = .seconds(5),
        minWorkers: Int = 0,
        maxWorkers: Int = 1,
        environment: [String: String] = [:],
        workingDirectory: String? = nil
    ) -> TenantConfiguration {
        TenantConfiguration(
            name: name,
            command: command,
            environment: environment,
            workingDirectory: workingDirectory,
            idleTimeout: idleTimeout,
            startTimeout: startTimeout,
            stopTimeout: stopTimeout,
            minWorkers: minWorkers,
            maxWorkers: maxWorkers,
            readiness: readiness
        )
    }

    static func cluster(_ tenants: [TenantConfiguration], maxWorkers: Int = 64) -> ClusterConfiguration {
        ClusterConfiguration(
            controlSocket: "/tmp/unused.sock",
            stateDirectory: "/tmp/unused-state",
            ports: PortBlocks.take(),
            maxWorkers: maxWorkers,
            tenants: Dictionary(uniqueKeysWithValues: tenants.map { ($0.name, $0) })
        )
    }
}
