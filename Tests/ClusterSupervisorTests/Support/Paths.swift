import Glibc

/// Where the package's built products and test fixtures are.
enum Paths {
    /// The package root, found from this file's path.
    static let packageRoot: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(4)  // Support/Paths.swift, ClusterSupervisorTests, Tests
        return components.joined(separator: "/")
    }()

    static var products: String { packageRoot + "/.build/debug" }
    static var demoWorker: String { products + "/demo-worker" }
    static var clusterd: String { products + "/clusterd" }
    static var contractWorker: String { fixture("contract-worker.py") }
    static var upgradeWorker: String { fixture("upgrade-worker.py") }
    static var httpLoad: String { fixture("http-load.py") }

    static func fixture(_ name: String) -> String { packageRoot + "/Tests/ClusterSupervisorTests/Fixtures/" + name }

    /// A fresh directory under /tmp for one test.
    static func temporaryDirectory(_ name: String) -> String {
        var template = Array("/tmp/clusterd-test-\(name)-XXXXXX".utf8CString)
        let result = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(result != nil, "mkdtemp failed")
        return String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
