import Glibc

/// Line output to stdout and stderr, one `write(2)` per line.
///
/// Unbuffered on purpose: a supervisor reading a pipe sees every line as soon as it is
/// written, with no `setvbuf`/`fflush` and no shared `FILE*` state between threads.
enum Console {
    /// Writes `line` and a newline to stdout.
    static func out(_ line: String) {
        self.write(line, to: STDOUT_FILENO)
    }

    /// Writes `line` and a newline to stderr.
    static func error(_ line: String) {
        self.write(line, to: STDERR_FILENO)
    }

    private static func write(_ line: String, to descriptor: CInt) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
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
}
