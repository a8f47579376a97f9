import Glibc

/// clusterctl's diagnostics go to stderr, each starting with `clusterctl: `; data goes to stdout.
enum StandardError {
    /// `clusterctl: message`, then each detail line as it is.
    static func report(_ message: String, details: [String] = []) {
        emit((["clusterctl: \(message)"] + details).joined(separator: "\n"))
    }

    /// Writes `text` and a final newline, unbuffered.
    static func emit(_ text: String) {
        var bytes = Array(text.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}
