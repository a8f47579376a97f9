import Foundation
import Testing

/// `clusterd check` itself, run as a process: the exit status and what it prints are the contract.
@Suite("clusterd check, the real binary")
struct CheckCommandTests {
    static var clusterd: String? { RepositoryFile.path(".build/debug/clusterd") }

    @Test("the example file is valid: exit 0")
    func validExample() throws {
        let example = try #require(RepositoryFile.path("examples/tenants.conf"))
        let result = try Self.check(example)
        #expect(result.status == 0)
        #expect(result.output.contains("ok, 3 tenants: acme, beta, gamma"))
    }

    @Test("every broken file: exit 1, the file, the line and the key named", arguments: BrokenConfigTests.cases)
    func brokenFile(_ broken: BrokenConfig) throws {
        var directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write("tenants.conf", text: broken.toml)
        let result = try Self.check(path)
        #expect(result.status == 1)
        var expected = path
        if let line = broken.line { expected += ":\(line)" }
        expected += ": "
        if let keyPath = broken.keyPath { expected += "\(keyPath): " }
        #expect(result.errors.contains(expected), "stderr: \(result.errors)")
        #expect(result.errors.contains(broken.fragment), "stderr: \(result.errors)")
    }

    @Test("a missing file: exit 1 with the reason")
    func missingFile() throws {
        let result = try Self.check("/nonexistent/tenants.conf")
        #expect(result.status == 1)
        #expect(result.errors.contains("/nonexistent/tenants.conf: cannot read: No such file or directory"))
    }

    static func check(_ path: String) throws -> (status: Int32, output: String, errors: String) {
        let binary = try #require(clusterd, "build the package first: swift build")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["check", "--tenants", path]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (
            process.terminationStatus, String(decoding: outputData, as: UTF8.self),
            String(decoding: errorData, as: UTF8.self)
        )
    }
}
