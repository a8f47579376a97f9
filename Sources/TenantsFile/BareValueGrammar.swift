/// The TOML 1.0 grammar of a bare value: a boolean, an integer (decimal, `0x`, `0o`, `0b`), a float (`inf`, `nan`
/// included) or a date, time or date-time — everything that is not a string, an array or an inline table.
///
/// Why it exists: toml++ guesses a bare value's type from its characters and then asserts what the guess implies
/// (`1979-05-27Tx`, `1979-05-27 3,`), aborting the process instead of reporting an error. ``KeyLocations`` checks
/// every bare value here first, so toml++ only ever parses bare values that are well formed. Ranges (month 13,
/// an integer past 64 bits) are left to toml++, which reports them.
enum BareValueGrammar {
    /// Whether `text` (without surrounding whitespace) is exactly one bare value.
    static func isValid(_ text: some Collection<UInt8>) -> Bool {
        let bytes = Array(text)
        guard let first = bytes.first else { return false }
        switch bytes {
        case Array("true".utf8), Array("false".utf8): return true
        default: break
        }
        var rest = bytes[...]
        if first == .plus || first == .minus { rest = rest.dropFirst() }
        if rest.elementsEqual("inf".utf8) || rest.elementsEqual("nan".utf8) { return true }
        if rest.count == bytes.count, isDateOrTime(rest) { return true }
        return isNumber(bytes[...])
    }

    // MARK: - Numbers

    private static func isNumber(_ bytes: ArraySlice<UInt8>) -> Bool {
        var rest = bytes
        let signed = rest.first == .plus || rest.first == .minus
        if signed { rest = rest.dropFirst() }
        if !signed, rest.count > 2, rest.first == .zero {
            let digits = rest.dropFirst(2)
            switch rest[rest.startIndex + 1] {
            case UInt8(ascii: "x"): return isDigits(digits, underscores: true, where: \.isHexDigit)
            case UInt8(ascii: "o"):
                return isDigits(digits, underscores: true) { $0 >= .zero && $0 <= UInt8(ascii: "7") }
            case UInt8(ascii: "b"): return isDigits(digits, underscores: true) { $0 == .zero || $0 == .one }
            default: break
            }
        }
        // Decimal: an integer part without leading zeros, then an optional fraction and exponent.
        let integerEnd = rest.firstIndex { $0 == .dot || $0 == .lowerE || $0 == .upperE } ?? rest.endIndex
        let integer = rest[..<integerEnd]
        guard isDigits(integer, underscores: true, where: \.isDigit), integer.first != .zero || integer.count == 1
        else { return false }
        var tail = rest[integerEnd...]
        if tail.first == .dot {
            tail = tail.dropFirst()
            let end = tail.firstIndex { $0 == .lowerE || $0 == .upperE } ?? tail.endIndex
            guard isDigits(tail[..<end], underscores: true, where: \.isDigit) else { return false }
            tail = tail[end...]
        }
        if tail.first == .lowerE || tail.first == .upperE {
            tail = tail.dropFirst()
            if tail.first == .plus || tail.first == .minus { tail = tail.dropFirst() }
            return isDigits(tail, underscores: true, where: \.isDigit)
        }
        return tail.isEmpty
    }

    /// One or more digits; with `underscores`, single `_` between digits.
    private static func isDigits(
        _ bytes: ArraySlice<UInt8>,
        underscores: Bool,
        where isDigit: (UInt8) -> Bool
    ) -> Bool {
        guard let first = bytes.first, let last = bytes.last, isDigit(first), isDigit(last) else { return false }
        var previousWasUnderscore = false
        for byte in bytes {
            if byte == .underscore {
                guard underscores, !previousWasUnderscore else { return false }
                previousWasUnderscore = true
            } else {
                guard isDigit(byte) else { return false }
                previousWasUnderscore = false
            }
        }
        return true
    }

    // MARK: - Dates and times

    /// `1979-05-27`, `07:32:00[.999]`, or a date, `T`/`t`/one space, a time and an optional offset (`Z`, `+07:00`).
    private static func isDateOrTime(_ bytes: ArraySlice<UInt8>) -> Bool {
        if isTime(bytes) { return true }
        guard bytes.count >= 10, isDate(bytes.prefix(10)) else { return false }
        let rest = bytes.dropFirst(10)
        guard let separator = rest.first else { return true }
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == .space else {
            return false
        }
        var time = rest.dropFirst()
        if let last = time.last, last == UInt8(ascii: "Z") || last == UInt8(ascii: "z") {
            time = time.dropLast()
        } else if time.count > 6, [.plus, .minus].contains(time[time.endIndex - 6]) {
            guard isFixed(time.suffix(5), "dd:dd") else { return false }
            time = time.dropLast(6)
        }
        return isTime(time)
    }

    private static func isDate(_ bytes: ArraySlice<UInt8>) -> Bool {
        isFixed(bytes, "dddd-dd-dd")
    }

    /// `HH:MM:SS` and an optional fraction of one or more digits.
    private static func isTime(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.count >= 8, isFixed(bytes.prefix(8), "dd:dd:dd") else { return false }
        let fraction = bytes.dropFirst(8)
        if fraction.isEmpty { return true }
        return fraction.first == .dot && isDigits(fraction.dropFirst(), underscores: false, where: \.isDigit)
    }

    /// `bytes` matches `pattern`, where `d` is a digit and anything else itself.
    private static func isFixed(_ bytes: ArraySlice<UInt8>, _ pattern: StaticString) -> Bool {
        let expected = UnsafeBufferPointer(start: pattern.utf8Start, count: pattern.utf8CodeUnitCount)
        guard bytes.count == expected.count else { return false }
        return zip(bytes, expected).allSatisfy { byte, want in want == UInt8(ascii: "d") ? byte.isDigit : byte == want }
    }
}

extension UInt8 {
    fileprivate static let plus = UInt8(ascii: "+")
    fileprivate static let minus = UInt8(ascii: "-")
    fileprivate static let dot = UInt8(ascii: ".")
    fileprivate static let underscore = UInt8(ascii: "_")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let zero = UInt8(ascii: "0")
    fileprivate static let one = UInt8(ascii: "1")
    fileprivate static let lowerE = UInt8(ascii: "e")
    fileprivate static let upperE = UInt8(ascii: "E")

    fileprivate var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    fileprivate var isHexDigit: Bool {
        isDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66)
    }
}
