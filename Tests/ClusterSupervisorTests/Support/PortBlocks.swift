import ClusterCore
import Glibc
import Synchronization

/// Hands each test its own block of worker ports, so tests running side by side never collide.
///
/// From 10000-19999: below the kernel's ephemeral range (32768 up). Inside it, a worker's port freed by a kill
/// could be given at once to a listener another test binds to port 0, and a router still connecting to the
/// dead worker's port reached that listener instead of being refused.
enum PortBlocks {
    /// Starting at an offset of this process's own, so that two test runs at once rarely take the same blocks.
    private static let next = Atomic<Int>(Int(getpid()))

    static func take(size: Int = 100) -> PortRange {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        let low = 10000 + (index * size) % 10000
        return PortRange(low...(low + size - 1))
    }
}
