import Glibc

/// The one writer of diagnostics to stderr for clusterd and clusterctl: whole lines, unbuffered, each in as few
/// `write(2)`s as the kernel allows (a line is not interleaved with another process's), data left to stdout.
public enum StandardError {
    /// `text` and a final newline (added when missing).
    public static func write(_ text: String) {
        var bytes = Array(text.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        var offset = 0
        while offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// `program: message`, then each detail line as it is.
    public static func report(_ message: String, details: [String] = [], program: String) {
        write((["\(program): \(message)"] + details).joined(separator: "\n"))
    }
}
