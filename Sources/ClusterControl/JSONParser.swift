/// Why a text is not JSON, and where.
public struct JSONSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Byte offset of the problem in the text.
    public var offset: Int
    public var reason: String

    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }

    public var description: String { "\(reason) at byte \(offset)" }
}

extension JSONValue {
    /// Most levels of nested arrays and objects in a text (as Foundation's JSONDecoder).
    public static let maximumDepth = 512

    /// Parses one JSON text (RFC 8259, UTF-8) into a value.
    ///
    /// It accepts what Foundation's JSONDecoder accepted for the protocol's lines, so that neither clusterd nor its
    /// clients changed what they take when this parser replaced it: besides strict JSON, a byte order mark before
    /// the text, a comma before a closing bracket or brace, and duplicate keys (the first one counts). Unlike
    /// JSONDecoder it does not guess UTF-16 or UTF-32 from NUL bytes: the protocol is UTF-8, and a NUL byte outside
    /// a string is an error. Numbers are doubles; one too large for a double, or a non-zero one too small, is an
    /// error, as are invalid UTF-8, a control character in a string, an unpaired surrogate escape, and nesting
    /// deeper than ``maximumDepth``.
    public init(parsing text: some Collection<UInt8>) throws(JSONSyntaxError) {
        let result =
            text.withContiguousStorageIfAvailable(JSONParser.parse)
            ?? Array(text).withUnsafeBufferPointer(JSONParser.parse)
        self = try result.get()
    }
}

/// A recursive-descent parser over the bytes of one text. The recursion is bounded by `JSONValue.maximumDepth`.
private struct JSONParser {
    let bytes: UnsafeBufferPointer<UInt8>
    var position = 0
    var depth = 0

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> {
        var parser = JSONParser(bytes: bytes)
        return Result { () throws(JSONSyntaxError) in try parser.document() }
    }

    // MARK: - Values

    mutating func document() throws(JSONSyntaxError) -> JSONValue {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }  // a UTF-8 byte order mark
        skipWhitespace()
        let value = try self.value()
        skipWhitespace()
        guard position == bytes.count else { throw failure("unexpected text after the value") }
        return value
    }

    mutating func value() throws(JSONSyntaxError) -> JSONValue {
        guard let byte = peek() else { throw failure("the text ends where a value was expected") }
        switch byte {
        case UInt8(ascii: "{"): return try object()
        case UInt8(ascii: "["): return try array()
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
        default: throw failure("unexpected character where a value was expected")
        }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) throws(JSONSyntaxError) -> JSONValue {
        let word = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes[position...].starts(with: word) else {
            throw failure("unexpected character where a value was expected")
        }
        position += word.count
        return value
    }

    mutating func array() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        var elements: [JSONValue] = []
        skipWhitespace()
        if peek() != UInt8(ascii: "]") {
            repeat {
                elements.append(try value())
                skipWhitespace()
            } while try separator(closing: UInt8(ascii: "]"))
        }
        position += 1
        depth -= 1
        return .array(elements)
    }

    mutating func object() throws(JSONSyntaxError) -> JSONValue {
        try enterContainer()
        // Collected first, so that the dictionary is made at its size rather than grown.
        var pairs: [(String, JSONValue)] = []
        skipWhitespace()
        if peek() != UInt8(ascii: "}") {
            repeat {
                guard peek() == UInt8(ascii: "\"") else { throw failure("an object key must be a string") }
                let key = try string()
                skipWhitespace()
                guard peek() == UInt8(ascii: ":") else { throw failure("expected ':' after an object key") }
                position += 1
                skipWhitespace()
                pairs.append((key, try value()))
                skipWhitespace()
            } while try separator(closing: UInt8(ascii: "}"))
        }
        position += 1
        depth -= 1
        return .object(Dictionary(pairs, uniquingKeysWith: { first, _ in first }))  // of duplicate keys, the first
    }

    /// Opens an array or object: one level deeper.
    mutating func enterContainer() throws(JSONSyntaxError) {
        depth += 1
        guard depth <= JSONValue.maximumDepth else {
            throw failure("arrays and objects nested more than \(JSONValue.maximumDepth) deep")
        }
        position += 1
    }

    /// After an element: true at a `,` followed by another element; false at the closing bracket, which is left
    /// for the caller (also after a trailing `,`).
    mutating func separator(closing: UInt8) throws(JSONSyntaxError) -> Bool {
        switch peek() {
        case closing:
            return false
        case UInt8(ascii: ","):
            position += 1
            skipWhitespace()
            return peek() != closing
        case nil:
            throw failure("the text ends inside an array or object")
        default:
            throw failure("expected ',' or '\(Character(Unicode.Scalar(closing)))'")
        }
    }

    // MARK: - Strings

    /// A string from its opening quote: the bytes as they are when there is no escape, else decoded.
    mutating func string() throws(JSONSyntaxError) -> String {
        position += 1
        let start = position
        var ascii = true
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                let content = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                if ascii { return String(decoding: content, as: UTF8.self) }
                guard let text = String(validating: content, as: UTF8.self) else {
                    throw JSONSyntaxError(offset: start, reason: "a string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                return try escapedString(from: start)
            case ..<0x20:
                throw failure("a control character in a string (it must be escaped)")
            case 0x80...:
                ascii = false
            default:
                break
            }
            position += 1
        }
        throw failure("the text ends inside a string")
    }

    /// The rest of a string that has escapes, from its first byte (`start`); `position` is at the first `\`.
    mutating func escapedString(from start: Int) throws(JSONSyntaxError) -> String {
        var utf8 = Array(bytes[start..<position])
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                guard let text = String(validating: utf8, as: UTF8.self) else {
                    throw JSONSyntaxError(offset: start, reason: "a string is not valid UTF-8")
                }
                return text
            case UInt8(ascii: "\\"):
                position += 1
                guard let escape = peek() else { throw failure("the text ends inside a string") }
                position += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"): UTF8.encode(try unicodeEscape()) { utf8.append($0) }
                default:
                    position -= 1
                    throw failure("an unknown escape in a string")
                }
            case ..<0x20:
                throw failure("a control character in a string (it must be escaped)")
            default:
                utf8.append(byte)
                position += 1
            }
        }
        throw failure("the text ends inside a string")
    }

    /// The character of a `\uXXXX` escape (after the `u`), with the low half that must follow a high surrogate.
    mutating func unicodeEscape() throws(JSONSyntaxError) -> Unicode.Scalar {
        let unit = try hexQuad()
        switch unit {
        case 0xD800...0xDBFF:
            guard bytes[position...].starts(with: [UInt8(ascii: "\\"), UInt8(ascii: "u")]) else {
                throw failure("a high surrogate escape without its low half")
            }
            position += 2
            let low = try hexQuad()
            guard (0xDC00...0xDFFF).contains(low) else { throw failure("a high surrogate escape without its low half") }
            return Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))!
        case 0xDC00...0xDFFF:
            throw failure("a low surrogate escape without its high half")
        default:
            return Unicode.Scalar(unit)!
        }
    }

    /// Four hex digits.
    mutating func hexQuad() throws(JSONSyntaxError) -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            let digit: UInt32
            switch peek() {
            case let byte? where (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                digit = UInt32(byte - UInt8(ascii: "0"))
            case let byte? where (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte):
                digit = UInt32(byte - UInt8(ascii: "a") + 10)
            case let byte? where (UInt8(ascii: "A")...UInt8(ascii: "F")).contains(byte):
                digit = UInt32(byte - UInt8(ascii: "A") + 10)
            default:
                throw failure("\\u must be followed by four hex digits")
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    // MARK: - Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` as a double.
    mutating func number() throws(JSONSyntaxError) -> Double {
        let start = position
        let negative = peek() == UInt8(ascii: "-")
        if negative { position += 1 }
        guard let first = peek(), isDigit(first) else { throw failure("a number without digits") }
        var significant = first != UInt8(ascii: "0")  // a digit other than 0 before the exponent
        var integer = 0
        var integerDigits = 0
        if significant {
            while let byte = peek(), isDigit(byte) {
                if integerDigits < 18 { integer = integer * 10 + Int(byte - UInt8(ascii: "0")) }
                integerDigits += 1
                position += 1
            }
        } else {
            position += 1
        }
        var whole = true
        if peek() == UInt8(ascii: ".") {
            whole = false
            position += 1
            guard let byte = peek(), isDigit(byte) else { throw failure("a number without digits after '.'") }
            while let byte = peek(), isDigit(byte) {
                significant = significant || byte != UInt8(ascii: "0")
                position += 1
            }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            whole = false
            position += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { position += 1 }
            guard let byte = peek(), isDigit(byte) else { throw failure("a number without digits in its exponent") }
            while let byte = peek(), isDigit(byte) { position += 1 }
        }
        // Integers of up to 15 digits are exact in a double; anything else is rounded as the C library does.
        if whole && integerDigits <= 15 {
            return negative ? -Double(integer) : Double(integer)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
        guard let value = Double(text), value.isFinite, value != 0 || !significant else {
            throw JSONSyntaxError(offset: start, reason: "a number a double cannot hold")
        }
        return value
    }

    // MARK: - Bytes

    func peek() -> UInt8? {
        position < bytes.count ? bytes[position] : nil
    }

    func isDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
    }

    mutating func skipWhitespace() {
        while let byte = peek(),
            byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || byte == UInt8(ascii: "\t")
        {
            position += 1
        }
    }

    func failure(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: position, reason: reason)
    }
}
