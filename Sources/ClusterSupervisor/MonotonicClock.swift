import ClusterCore
import Glibc

/// `now` for the core: CLOCK_MONOTONIC, the clock timerfd deadlines are armed against.
enum MonotonicClock {
    static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Instant(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}
