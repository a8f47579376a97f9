import ArgumentParser
import ClusterControl

extension Clusterctl {
    /// Connects, says hello and sends one request; returns its result. On an error reply prints it (and its
    /// details) and exits 1; when clusterd cannot be reached prints why and exits 3.
    @discardableResult
    func perform(_ operation: ControlOperation) throws -> JSONValue {
        let outcome: Result<JSONValue, ControlError>
        do {
            let connection = try ControlClient(socketPath: socketPath, timeout: timeoutDuration)
            try connection.hello()
            outcome = try connection.request(operation)
        } catch {
            StandardError.report(error.description)
            throw ExitCode.unreachable
        }
        switch outcome {
        case .success(let result):
            return result
        case .failure(let error):
            StandardError.report(error.message, details: error.details ?? [])
            throw ExitCode.operationFailed
        }
    }

    /// A reply's result as `T`; a reply of another shape is an operation failure (exit 1).
    func decode<T: Decodable>(_ result: JSONValue, as type: T.Type, op: ControlOperation) throws -> T {
        do {
            return try result.decode(as: T.self)
        } catch {
            StandardError.report("clusterd's reply to \(op.name) is not what this clusterctl understands: \(error)")
            throw ExitCode.operationFailed
        }
    }

    var timeoutDuration: Duration {
        .milliseconds(Int((timeout * 1000).rounded(.up)))
    }
}
