/// Durations as text for people: the one formatter, in two styles.
extension Duration {
    /// `"250ms"`, `"30s"`, `"5m"`, `"1h30m"`: exact to the millisecond, in the notation of tenants.conf
    /// (``DurationSyntax`` reads it back). For logs and messages, where the figure matters.
    public var formattedForHumans: String {
        var ms = milliseconds
        if ms == 0 { return nanoseconds == 0 ? "0s" : "<1ms" }
        var text = ms < 0 ? "-" : ""
        ms = ms.magnitude > Int64.max.magnitude ? .max : abs(ms)
        for (unit, size) in Self.units.dropFirst() where ms >= size {
            text += "\(ms / size)\(unit)"
            ms %= size
        }
        return text
    }

    /// `"350ms"`, `"3s"`, `"4m12s"`, `"1h2m"`, `"3d4h"`: at most two units, the larger first, the second left out
    /// when zero, and below a second only milliseconds; negative counts as zero. For a table read at a glance.
    public var formattedBriefly: String {
        let ms = max(0, milliseconds)
        if ms < 1000 { return "\(ms)ms" }
        let seconds = Self.units.dropLast()  // whole seconds and up
        guard let major = seconds.firstIndex(where: { ms >= $0.size }) else { return "\(ms)ms" }
        let (unit, size) = seconds[major]
        var text = "\(ms / size)\(unit)"
        if major + 1 < seconds.endIndex {
            let (minorUnit, minorSize) = seconds[major + 1]
            let minor = ms % size / minorSize
            if minor > 0 { text += "\(minor)\(minorUnit)" }
        }
        return text
    }

    private static let units: [(unit: String, size: Int64)] = [
        ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1),
    ]
}
