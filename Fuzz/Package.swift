// swift-tools-version:6.2
// Coverage-guided fuzz targets (libFuzzer) for the parsers that read untrusted input: tenants.conf and the
// control protocol. A package of its own so the main package and `swift test` never build with sanitizers.
// Build and run with scripts/fuzz; the targets compile the main package's sources through the symlinks in
// Sources/ (the main package exports no libraries to depend on).
import PackageDescription

let package = Package(
    name: "clusterd-fuzz",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "fuzz-tenants-file", targets: ["FuzzTenantsFile"]),
        .executable(name: "fuzz-control-codec", targets: ["FuzzControlCodec"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
    ],
    targets: [
        .target(name: "ClusterCore"),
        .target(name: "TenantsFile", dependencies: ["ClusterCore", .product(name: "TOMLKit", package: "TOMLKit")]),
        .target(
            name: "ClusterControl",
            dependencies: ["ClusterCore", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(name: "FuzzTenantsFile", dependencies: ["TenantsFile", "ClusterCore"]),
        .executableTarget(
            name: "FuzzControlCodec",
            dependencies: [
                "ClusterControl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
    ]
)
