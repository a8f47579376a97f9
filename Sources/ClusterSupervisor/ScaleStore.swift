import ClusterControl
import Foundation

/// The operators' scales, kept in `state_dir/scales.json` so that they survive a reload and a restart.
struct ScaleStore {
    let directory: String

    var path: String { directory + "/scales.json" }

    private struct File: Decodable {
        var version = 1
        var scales: [String: Int]
    }

    /// The stored scales; empty when there is no file yet. A file that cannot be read is an error.
    func load() throws -> [String: Int] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return try JSONDecoder().decode(File.self, from: data).scales
    }

    /// Writes atomically (a temporary file renamed over the old one), creating `state_dir` if needed.
    func save(_ scales: [String: Int]) throws {
        try FileManager.default.createDirectory(
            atPath: directory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o750]
        )
        var json = JSONTextWriter(pretty: true)
        json.object {
            $0.member("scales", scales)
            $0.member("version", 1)
        }
        try Data(json.bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
