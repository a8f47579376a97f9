import Foundation
import Testing

/// The built clusterctl binary, run as a process: its exit status, stdout and stderr are the contract.
enum ClusterctlProcess {
    struct Outcome: CustomStringConvertible {
        var status: Int32
        var output: String
        var errors: String
        var description: String { "exit \(status)\nstdout: \(output)\nstderr: \(errors)" }
    }

    static var binary: String? {
        var directory = Substring(#filePath)
        while let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            directory = directory[..<slash]
            let candidate = "\(directory)/.build/debug/clusterctl"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Runs clusterctl with `arguments`; `CLUSTERD_SOCKET` is set only when `socketVariable` is given.
    static func run(_ arguments: [String], socketVariable: String? = nil) throws -> Outcome {
        let binary = try #require(binary, "build the package first: swift build")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["CLUSTERD_SOCKET"] = socketVariable
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        // Read both pipes at once: either may fill up while the other is waited on.
        let group = DispatchGroup()
        nonisolated(unsafe) var errorData = Data()
        group.enter()
        DispatchQueue.global().async {
            errorData = errors.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Outcome(
            status: process.terminationStatus,
            output: String(decoding: outputData, as: UTF8.self),
            errors: String(decoding: errorData, as: UTF8.self)
        )
    }
}
