#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files of this repository, found by walking up from this source file.
enum RepositoryFile {
    /// The absolute path of `relativePath` in the repository, if it exists.
    static func path(_ relativePath: String, from file: String = #filePath) -> String? {
        var directory = Substring(file)
        while let slash = directory.lastIndex(of: "/"), slash != directory.startIndex {
            directory = directory[..<slash]
            let candidate = "\(directory)/\(relativePath)"
            if access(candidate, R_OK) == 0 { return candidate }
        }
        return nil
    }

    /// The whole file as UTF-8 text.
    static func text(_ path: String) -> String? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = fread(&buffer, 1, buffer.count, file)
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A fresh directory under /tmp, removed with its files by ``remove()``.
struct TemporaryDirectory {
    let path: String
    private var files: [String] = []

    init() throws {
        var template = Array("/tmp/tenantsfile-test-XXXXXX".utf8CString)
        guard let created = mkdtemp(&template) else { throw TestFileError(path: "/tmp", errno: errno) }
        path = String(cString: created)
    }

    /// Writes `bytes` to `name` in the directory and returns its path.
    @discardableResult
    mutating func write(_ name: String, bytes: [UInt8]) throws -> String {
        let filePath = "\(path)/\(name)"
        guard let file = fopen(filePath, "wb") else { throw TestFileError(path: filePath, errno: errno) }
        defer { fclose(file) }
        guard fwrite(bytes, 1, bytes.count, file) == bytes.count else {
            throw TestFileError(path: filePath, errno: errno)
        }
        files.append(filePath)
        return filePath
    }

    @discardableResult
    mutating func write(_ name: String, text: String) throws -> String {
        try write(name, bytes: Array(text.utf8))
    }

    /// Makes an empty subdirectory and returns its path.
    mutating func makeDirectory(_ name: String) throws -> String {
        let directoryPath = "\(path)/\(name)"
        guard mkdir(directoryPath, 0o755) == 0 else { throw TestFileError(path: directoryPath, errno: errno) }
        files.append(directoryPath)
        return directoryPath
    }

    func remove() {
        for file in files.reversed() where unlink(file) != 0 { rmdir(file) }
        rmdir(path)
    }
}

struct TestFileError: Error {
    var path: String
    var errno: Int32
}
