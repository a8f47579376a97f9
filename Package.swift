// swift-tools-version:6.2
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "clusterd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "clusterd", targets: ["clusterd"]),
        .executable(name: "clusterctl", targets: ["clusterctl"]),
        .executable(name: "demo-worker", targets: ["demo-worker"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        // Pure: configuration model and validation, pool state machines, placement. No I/O, no clock.
        .target(name: "ClusterCore", swiftSettings: strict),
        // Reads tenants.conf (TOML) into ClusterCore's configuration, with file:line errors.
        .target(
            name: "TenantsFile",
            dependencies: ["ClusterCore", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: strict
        ),
        // The control protocol: messages (JSON lines, versioned by hello) shared by clusterd, clusterctl and routers.
        .target(
            name: "ClusterControl",
            dependencies: ["ClusterCore", .product(name: "NIOCore", package: "swift-nio")],
            swiftSettings: strict
        ),
        // The calls Swift cannot make well: fork/exec with exact fd layout, pidfds, reaping.
        .target(name: "CSpawn"),
        // The sd_notify protocol: clusterd as a systemd service, and as the notify server for its workers.
        .target(name: "CSystemd", linkerSettings: [.linkedLibrary("systemd")]),
        // The I/O shell: spawns and reaps workers, serves NOTIFY_SOCKET, drives the core's state machine.
        .target(
            name: "ClusterSupervisor",
            dependencies: [
                "ClusterCore", "TenantsFile", "CSpawn", "CSystemd", "ClusterControl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The HTTP router: a reverse proxy on SwiftNIO, a client of the control channel like any other router.
        .target(
            name: "ClusterRouter",
            dependencies: [
                "ClusterCore", "ClusterControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // The HAProxy adapter (`clusterd haproxy`). Its core is pure (haproxy.cfg and host map text, runtime API
        // commands kept in step with the control channel, in-flight counts from `show stat`); HAProxyAdapter,
        // HAProxyFiles and HAProxyRuntimeSocket are its shell: one blocking loop over two Unix sockets and a directory.
        .target(
            name: "ClusterHAProxy",
            dependencies: ["ClusterCore", "ClusterControl", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "clusterd",
            dependencies: [
                "ClusterCore", "TenantsFile", "ClusterSupervisor", "ClusterRouter", "ClusterHAProxy",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "clusterctl",
            dependencies: ["ClusterControl", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "demo-worker",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "ClusterCoreTests", dependencies: ["ClusterCore"], swiftSettings: strict),
        .testTarget(
            name: "ClusterControlTests",
            dependencies: ["ClusterControl", "ClusterCore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ClusterRouterTests",
            dependencies: [
                "ClusterRouter", "ClusterCore", "ClusterControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ClusterHAProxyTests",
            dependencies: ["ClusterHAProxy", "ClusterCore", "ClusterControl"],
            swiftSettings: strict
        ),
        .testTarget(name: "TenantsFileTests", dependencies: ["TenantsFile", "ClusterCore"], swiftSettings: strict),
        .testTarget(
            name: "ClusterSupervisorTests",
            dependencies: ["ClusterSupervisor", "ClusterCore", "ClusterControl", "TenantsFile", "CSpawn"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
    ]
)
