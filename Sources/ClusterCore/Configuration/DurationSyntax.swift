/// Parses the duration notation of tenants.conf: one or more `<integer><unit>` parts,
/// units `ms`, `s`, `m`, `h` (`"250ms"`, `"30s"`, `"5m"`, `"1h30m"`).
public enum DurationSyntax {
    /// The duration, or nil when `text` is not in the notation.
    public static func parse(_ text: String) -> Duration? {
        var total: Duration = .zero
        var digits = ""
        var unit = ""
        var parts = 0

        func flush() -> Bool {
            guard !digits.isEmpty, let value = Int64(digits), value < 1_000_000_000 else { return false }
            let part: Duration
            switch unit {
            case "ms": part = .milliseconds(value)
            case "s": part = .seconds(value)
            case "m": part = .seconds(value * 60)
            case "h": part = .seconds(value * 3600)
            default: return false
            }
            total += part
            parts += 1
            digits = ""
            unit = ""
            return true
        }

        for character in text {
            if character.isASCII, character.isNumber {
                if !unit.isEmpty {
                    guard flush() else { return nil }
                }
                digits.append(character)
            } else if character == "m" || character == "s" || character == "h" {
                guard !digits.isEmpty, unit.count < 2 else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush(), parts > 0 else { return nil }
        return total
    }
}
