import Glibc

/// An errno with the call that produced it, for messages like `bind 127.0.0.1:20001: Address already in use`.
struct SystemError: Error, CustomStringConvertible {
    var call: String
    var errno: Int32

    init(_ call: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.errno = errno
    }

    var description: String { errno == 0 ? call : "\(call): \(String(cString: strerror(errno)))" }
}
