import Glibc

/// Reads and unsets process environment variables (no Foundation).
enum Environment {
    /// The value of `name`, or `nil` when unset.
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    /// The value of `name` when set and not empty.
    static func nonEmptyValue(_ name: String) -> String? {
        guard let value = self.value(name), !value.isEmpty else { return nil }
        return value
    }

    /// Removes `name` from this process's environment, so children do not inherit it.
    static func unset(_ name: String) {
        unsetenv(name)
    }
}
