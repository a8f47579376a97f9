import ClusterCore
import Synchronization

/// Hands each test its own block of worker ports, so tests running side by side never collide.
enum PortBlocks {
    private static let next = Atomic<Int>(0)

    static func take(size: Int = 100) -> PortRange {
        let index = next.wrappingAdd(1, ordering: .relaxed).oldValue
        let low = 31000 + (index * size) % 20000
        return PortRange(low...(low + size - 1))
    }
}
