/// Where each key of a TOML text is defined: the 1-based line of every `key = …`, `[table]` and `[[array]]` header.
///
/// ``ConfigurationDecoder`` names problems by key path (`tenant.acme.max_workers`); this index turns a key path
/// back into a line of the file. It runs only on text TOMLKit has already parsed, so it can be lenient: it knows
/// strings (basic, literal, multi-line), arrays (which may span lines), inline tables and comments, just enough
/// that a `#` or `=` inside a value never looks like a key.
struct KeyLocations {
    private var lines: [String: Int] = [:]

    init(scanning text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        scanner.scanDocument { path, line in
            // Record the first definition of each path and of the tables it implies.
            for end in path.indices {
                let key = path[...end].joined(separator: ".")
                if lines[key] == nil { lines[key] = line }
            }
        }
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
    private mutating func scanValue(path: [String], _ record: (_ path: [String], _ line: Int) -> Void) {
        skipBlank(newlines: false)
        guard let byte = current else { return }
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
                let before = index
                scanValue(path: [], { _, _ in })  // array elements have no key path
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
                    scanValue(path: path + key, record)
                } else if index == before {
                    advance()
                }
            }
        default:
            // Numbers, booleans, dates and times (which may contain a space).
            while let next = current,
                next != .comma && next != .closeBracket && next != .closeBrace && next != .hash && next != .newline
            {
                advance()
            }
        }
    }

    /// `"…"` with its escapes decoded (for quoted keys).
    private mutating func scanBasicString() -> String {
        advance()
        var utf8: [UInt8] = []
        while let byte = current, byte != .newline {
            advance()
            if byte == .quote { break }
            if byte == .backslash {
                if let scalar = scanEscape() { utf8.append(contentsOf: String(scalar).utf8) }
            } else {
                utf8.append(byte)
            }
        }
        return String(decoding: utf8, as: UTF8.self)
    }

    /// The character after a `\` in a basic string.
    private mutating func scanEscape() -> Unicode.Scalar? {
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
        if current == .apostrophe { advance() }
        return text
    }

    /// `"""…"""` or `'''…'''`, which may span lines and end in up to two extra quotes.
    private mutating func skipMultilineString(delimiter: UInt8) {
        index += 3
        while let byte = current {
            if byte == .backslash && delimiter == .quote {
                advance()
                if current != nil { advance() }
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
