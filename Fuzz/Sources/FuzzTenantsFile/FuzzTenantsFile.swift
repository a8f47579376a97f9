import ClusterCore
import TenantsFile

/// libFuzzer's entry point: one tenants.conf per call.
///
/// Whatever the bytes, `TenantsFile.parse` must return (no trap, no hang) either a configuration that keeps the
/// decoder's promises or a failure with at least one issue, each with a message and a line inside the file.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTenantsFile(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    // TenantsFile.load rejects bytes that are not UTF-8 before parsing; repairing them instead reaches the parser
    // with the rest of the input intact.
    let text = String(decoding: bytes, as: UTF8.self)
    switch TenantsFile.parse(text, fileName: "fuzz.conf", baseDirectory: "/etc/clusterd") {
    case .success(let configuration):
        check(configuration)
    case .failure(let error):
        check(error, lineCount: text.utf8.count(where: { $0 == UInt8(ascii: "\n") }) + 1)
    }
    return 0
}

private func check(_ configuration: ClusterConfiguration) {
    precondition(configuration.maxWorkers >= 1, "cluster.max_workers < 1 accepted")
    precondition(configuration.ports.count >= configuration.maxWorkers, "fewer ports than cluster.max_workers accepted")
    for (name, tenant) in configuration.tenants {
        precondition(name == tenant.name, "tenant stored under another name")
        precondition(!tenant.command.isEmpty && !tenant.command[0].isEmpty, "tenant \(name) has no program")
        precondition(tenant.minWorkers >= 0 && tenant.minWorkers <= tenant.maxWorkers, "min_workers > max_workers")
        precondition(tenant.maxWorkers <= configuration.maxWorkers, "tenant max_workers above the host-wide cap")
    }
}

private func check(_ error: TenantsFileError, lineCount: Int) {
    precondition(!error.issues.isEmpty, "a failure with no issue")
    for issue in error.issues {
        precondition(!issue.message.isEmpty, "an issue with no message")
        if let line = issue.line {
            precondition((1...lineCount).contains(line), "issue on line \(line) of a \(lineCount)-line file: \(issue)")
        }
    }
    _ = error.description
}
