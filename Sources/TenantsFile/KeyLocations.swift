/// Where each key of a TOML text is defined: the 1-based line of every `key = …`, `[table]` and `[[array]]` header.
///
/// ``ConfigurationDecoder`` names problems by key path (`tenant.acme.max_workers`); this index turns a key path
/// back into a line of the file. It can be lenient: it knows strings (basic, literal, multi-line), arrays (which
/// may span lines), inline tables and comments, just enough that a `#` or `=` inside a value never looks like a key.
///
/// The same walk finds what TOMLKit cannot take safely (``parserTrap``, ``escapedNULLine``). On text that is not
/// TOML it may misread what follows the first error, but toml++ stops at that error too.
struct KeyLocations {
    private let lines: [String: Int]
    /// The first mistake toml++ would abort the process on (a failed assert, in release builds too) instead of
    /// reporting it, as the error to report instead: a table header that does not start with a key (`[.]`, `[é]`, a
    /// `[` ending its line), or a date, a space and one digit (`1979-05-27 3`).
    let parserTrap: TOMLDocument.SyntaxError?
    /// The line of the first key or basic string with a `\u0000` (`\U00000000`, `\x00`) escape: TOMLKit reads
    /// keys and strings back as C strings, which end there (a missing key crashes its table iterator).
    let escapedNULLine: Int?

    init(scanning text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        var lines: [String: Int] = [:]
        scanner.scanDocument { path, line in
            // Record the first definition of each path and of the tables it implies.
            for end in path.indices {
                let key = path[...end].joined(separator: ".")
                if lines[key] == nil { lines[key] = line }
            }
        }
        self.lines = lines
        parserTrap = scanner.parserTrap
        escapedNULLine = scanner.escapedNULLine
    }

    /// The line of `keyPath`'s own `key = …` or header (or of the first key or header inside it), if any.
    func exactLine(for keyPath: String) -> Int? { lines[keyPath] }

    /// The line of `keyPath`'s own `key = …` or header; else the nearest enclosing table's; nil if none is in the file.
    func line(for keyPath: String) -> Int? {
        var path = keyPath.split(separator: ".", omittingEmptySubsequences: false)
        while !path.isEmpty {
            if let line = lines[path.joined(separator: ".")] { return line }
            path.removeLast()
        }
        return nil
    }
}

/// A byte-level walk over TOML text that reports each defined key path with its line.
private struct Scanner {
    let bytes: [UInt8]
    var index = 0
    var line = 1
    private(set) var parserTrap: TOMLDocument.SyntaxError?
    private(set) var escapedNULLine: Int?

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    private func peek(_ offset: Int) -> UInt8? { index + offset < bytes.count ? bytes[index + offset] : nil }

    private mutating func advance() {
        if bytes[index] == .newline { line += 1 }
        index += 1
    }

    mutating func scanDocument(_ record: (_ path: [String], _ line: Int) -> Void) {
        var table: [String] = []
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }  // a UTF-8 byte order mark
        while true {
            skipBlank(newlines: true)
            guard let byte = current else { return }
            if byte == .openBracket {
                advance()
                if current == .openBracket { advance() }
                checkHeaderStart()
                skipBlank(newlines: false)
                let start = line
                table = scanKey()
                record(table, start)
            } else {
                let start = line
                let key = scanKey()
                skipBlank(newlines: false)
                if current == .equals, !key.isEmpty {
                    advance()
                    record(table + key, start)
                    scanValue(path: table + key, record)
                }
            }
            skipRestOfLine()
        }
    }

    /// Notes a header whose first byte after `[` or `[[` and spaces cannot start a key, nor close the header.
    private mutating func checkHeaderStart() {
        var offset = 0
        while let byte = peek(offset), byte == .space || byte == .tab { offset += 1 }
        guard let byte = peek(offset) else { return }
        if !byte.isBareKeyByte && byte != .quote && byte != .apostrophe && byte != .closeBracket {
            trap(#"expected a table name after '[', like [cluster], [tenant.acme] or [tenant."acme"]"#)
        }
    }

    /// Notes a bare value (not a string, array or inline table) that is not one, by ``BareValueGrammar``: toml++
    /// asserts on some malformed ones (`1979-05-27 3,`, `1979-05-27Tx`) instead of reporting them.
    private mutating func checkBareValue(_ value: ArraySlice<UInt8>) {
        var end = value.endIndex
        while end > value.startIndex, [.space, .tab, .carriageReturn].contains(value[end - 1]) { end -= 1 }
        let text = value[..<end]
        guard !text.isEmpty, !BareValueGrammar.isValid(text) else { return }
        var shown = String(decoding: text, as: UTF8.self)
        if shown.count > 40 { shown = String(shown.prefix(40)) + "…" }
        trap(
            "\"\(shown)\" is not a value: a value is a \"string\", a number, true or false, a date-time like "
                + "1979-05-27T07:32:00, an [array] or an { inline = \"table\" }; a duration is a string like \"30s\""
        )
    }

    /// Notes a `}` or a Unicode line break (U+0085, U+2028, U+2029) where an array element starts: toml++ asserts
    /// that a value starts there.
    private mutating func checkArrayElementStart() {
        let found =
            switch (current, peek(1), peek(2)) {
            case (.closeBrace, _, _): "'}'"
            case (0xC2, 0x85, _), (0xE2, 0x80, 0xA8), (0xE2, 0x80, 0xA9): "a Unicode line break"
            default: String?.none
            }
        if let found { trap("expected a value or ']' in the array, found \(found)") }
    }

    /// An unterminated string: toml++ reports it there, and what follows would be misread; so the scan ends (a
    /// trap noted later would hide the error toml++ reports).
    private mutating func stopAtError() {
        index = bytes.count
    }

    private mutating func trap(_ message: String) {
        if parserTrap == nil { parserTrap = TOMLDocument.SyntaxError(message: message, line: line) }
    }

    /// Spaces and tabs, comments, and (when `newlines`) line ends.
    private mutating func skipBlank(newlines: Bool) {
        while let byte = current {
            if byte == .space || byte == .tab || byte == .carriageReturn || (newlines && byte == .newline) {
                advance()
            } else if byte == .hash {
                while let next = current, next != .newline { advance() }
            } else {
                return
            }
        }
    }

    /// Skips to the start of the next line (after a header's `]`, a value, or something this scanner misread).
    private mutating func skipRestOfLine() {
        while let byte = current {
            advance()
            if byte == .newline { return }
        }
    }

    /// A dotted key of bare and quoted parts: `a`, `a.b`, `"a.b".c`, `'x' . y`.
    private mutating func scanKey() -> [String] {
        var parts: [String] = []
        while let byte = current {
            if byte == .quote {
                parts.append(scanBasicString())
            } else if byte == .apostrophe {
                parts.append(scanLiteralString())
            } else if byte.isBareKeyByte {
                let start = index
                while let next = current, next.isBareKeyByte { advance() }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            } else {
                break
            }
            skipBlank(newlines: false)
            guard current == .dot else { break }
            advance()
            skipBlank(newlines: false)
        }
        return parts
    }

    /// One value after `=`; the keys of inline tables are recorded under `path`.
    ///
    /// Past toml++'s nesting limit (which it reports as an error) the rest of the text is skipped: this recursion
    /// must not overflow the stack on `a = [[[[…`.
    private mutating func scanValue(
        path: [String],
        depth: Int = 1,
        _ record: (_ path: [String], _ line: Int) -> Void
    ) {
        skipBlank(newlines: false)
        guard let byte = current else { return }
        if depth > 256, byte == .openBracket || byte == .openBrace {
            index = bytes.count
            return
        }
        switch byte {
        case .quote where peek(1) == .quote && peek(2) == .quote:
            skipMultilineString(delimiter: .quote)
        case .apostrophe where peek(1) == .apostrophe && peek(2) == .apostrophe:
            skipMultilineString(delimiter: .apostrophe)
        case .quote:
            _ = scanBasicString()
        case .apostrophe:
            _ = scanLiteralString()
        case .openBracket:
            advance()
            while true {
                skipBlank(newlines: true)
                guard let next = current else { return }
                if next == .closeBracket {
                    advance()
                    return
                }
                if next == .comma {
                    advance()
                    continue
                }
                checkArrayElementStart()
                let before = index
                scanValue(path: [], depth: depth + 1, { _, _ in })  // array elements have no key path
                if index == before { advance() }
            }
        case .openBrace:
            advance()
            while true {
                skipBlank(newlines: true)
                guard let next = current else { return }
                if next == .closeBrace {
                    advance()
                    return
                }
                if next == .comma {
                    advance()
                    continue
                }
                let start = line
                let before = index
                let key = scanKey()
                skipBlank(newlines: false)
                if current == .equals, !key.isEmpty {
                    advance()
                    record(path + key, start)
                    scanValue(path: path + key, depth: depth + 1, record)
                } else if index == before {
                    advance()
                }
            }
        default:
            // Numbers, booleans, dates and times (which may contain a space).
            let start = index
            while let next = current,
                next != .comma && next != .closeBracket && next != .closeBrace && next != .hash && next != .newline
            {
                advance()
            }
            checkBareValue(bytes[start..<index])
        }
    }

    /// `"…"` with its escapes decoded (for quoted keys).
    private mutating func scanBasicString() -> String {
        advance()
        var utf8: [UInt8] = []
        var closed = false
        while let byte = current, byte != .newline {
            advance()
            if byte == .quote {
                closed = true
                break
            }
            if byte == .backslash {
                if let scalar = scanEscape() { utf8.append(contentsOf: String(scalar).utf8) }
            } else {
                utf8.append(byte)
            }
        }
        if !closed { stopAtError() }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The character after a `\` in a basic string; notes the first that is NUL.
    private mutating func scanEscape() -> Unicode.Scalar? {
        let start = line
        let scalar = scanEscapedCharacter()
        if scalar == "\0", escapedNULLine == nil { escapedNULLine = start }
        return scalar
    }

    private mutating func scanEscapedCharacter() -> Unicode.Scalar? {
        guard let byte = current else { return nil }
        advance()
        switch byte {
        case UInt8(ascii: "b"): return "\u{08}"
        case UInt8(ascii: "t"): return "\t"
        case UInt8(ascii: "n"): return "\n"
        case UInt8(ascii: "f"): return "\u{0C}"
        case UInt8(ascii: "r"): return "\r"
        case UInt8(ascii: "e"): return "\u{1B}"
        case UInt8(ascii: "u"), UInt8(ascii: "U"), UInt8(ascii: "x"):
            let width = byte == UInt8(ascii: "u") ? 4 : byte == UInt8(ascii: "U") ? 8 : 2
            let end = min(index + width, bytes.count)
            let hex = String(decoding: bytes[index..<end], as: UTF8.self)
            index = end
            return UInt32(hex, radix: 16).flatMap(Unicode.Scalar.init)
        default: return Unicode.Scalar(byte)
        }
    }

    /// `'…'`, taken as written.
    private mutating func scanLiteralString() -> String {
        advance()
        let start = index
        while let byte = current, byte != .apostrophe, byte != .newline { advance() }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if current == .apostrophe { advance() } else { stopAtError() }
        return text
    }

    /// `"""…"""` or `'''…'''`, which may span lines and end in up to two extra quotes.
    private mutating func skipMultilineString(delimiter: UInt8) {
        index += 3
        while let byte = current {
            if byte == .backslash && delimiter == .quote {
                advance()
                _ = scanEscape()
            } else if byte == delimiter && peek(1) == delimiter && peek(2) == delimiter {
                index += 3
                var extra = 0
                while extra < 2, current == delimiter {
                    index += 1
                    extra += 1
                }
                return
            } else {
                advance()
            }
        }
    }
}

extension UInt8 {
    fileprivate static let newline = UInt8(ascii: "\n")
    fileprivate static let carriageReturn = UInt8(ascii: "\r")
    fileprivate static let space = UInt8(ascii: " ")
    fileprivate static let tab = UInt8(ascii: "\t")
    fileprivate static let hash = UInt8(ascii: "#")
    fileprivate static let equals = UInt8(ascii: "=")
    fileprivate static let dot = UInt8(ascii: ".")
    fileprivate static let colon = UInt8(ascii: ":")
    fileprivate static let plus = UInt8(ascii: "+")
    fileprivate static let minus = UInt8(ascii: "-")
    fileprivate static let underscore = UInt8(ascii: "_")
    fileprivate static let comma = UInt8(ascii: ",")
    fileprivate static let quote = UInt8(ascii: "\"")
    fileprivate static let apostrophe = UInt8(ascii: "'")
    fileprivate static let backslash = UInt8(ascii: "\\")
    fileprivate static let openBracket = UInt8(ascii: "[")
    fileprivate static let closeBracket = UInt8(ascii: "]")
    fileprivate static let openBrace = UInt8(ascii: "{")
    fileprivate static let closeBrace = UInt8(ascii: "}")

    /// `A-Z a-z 0-9 _ -`, the characters of a bare key.
    fileprivate var isBareKeyByte: Bool {
        (self >= 0x41 && self <= 0x5A) || (self >= 0x61 && self <= 0x7A) || (self >= 0x30 && self <= 0x39)
            || self == 0x5F || self == 0x2D
    }
}
