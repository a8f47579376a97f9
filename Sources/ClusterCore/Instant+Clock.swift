import Glibc

extension Instant {
    /// CLOCK_MONOTONIC now, for the shells that feed the machines (the machines themselves never read a clock).
    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}
