/// Durations as an operator reads them in `clusterctl status`: `350ms`, `3s`, `4m12s`, `1h2m`, `3d4h`.
///
/// Two units at most, the larger first; a zero second unit is left out (`5m`, `2h`). Negative counts as zero.
public enum HumanDuration {
    public static func text(milliseconds: Int) -> String {
        let milliseconds = max(0, milliseconds)
        if milliseconds < 1000 { return "\(milliseconds)ms" }
        let seconds = milliseconds / 1000
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return pair(seconds / 60, "m", seconds % 60, "s") }
        if seconds < 86_400 { return pair(seconds / 3600, "h", seconds % 3600 / 60, "m") }
        return pair(seconds / 86_400, "d", seconds % 86_400 / 3600, "h")
    }

    private static func pair(_ major: Int, _ majorUnit: String, _ minor: Int, _ minorUnit: String) -> String {
        minor == 0 ? "\(major)\(majorUnit)" : "\(major)\(majorUnit)\(minor)\(minorUnit)"
    }
}
