extension JSONValue {
    /// The value as JSON text, exactly as Foundation's JSONEncoder writes it with `.sortedKeys` and
    /// `.withoutEscapingSlashes` (the protocol's lines), and `.prettyPrinted` when `pretty` (`status --json`):
    /// keys in the order of their UTF-8 bytes; `"`, `\` and control characters escaped, nothing else; whole numbers
    /// without a fraction (`3`, not `3.0`); pretty text indented by two spaces, `"key" : value`, and an empty array or
    /// object on two lines, as JSONEncoder has it. A number JSON cannot hold (NaN, infinity) is written as `null`.
    public func jsonText(pretty: Bool = false) -> [UInt8] {
        var writer = JSONTextWriter(pretty: pretty)
        writer.write(self)
        return writer.bytes
    }
}

/// A value that writes itself as JSON text: the bytes JSONEncoder writes for it (see `JSONValue.jsonText`). Every
/// line of the protocol and every file clusterd writes goes through it; JSONEncoder takes ten times as long.
public protocol JSONTextWritable {
    func write(to json: inout JSONTextWriter)
}

/// Writes JSON text into `bytes`, laid out as JSONEncoder lays it out.
public struct JSONTextWriter {
    public let pretty: Bool
    public var bytes: [UInt8] = []
    private var indent = 0

    public init(pretty: Bool) {
        self.pretty = pretty
    }

    public mutating func write(_ value: some JSONTextWritable) {
        value.write(to: &self)
    }

    /// An object whose members `body` writes with `member(_:_:)`, in the order of their keys' UTF-8 bytes.
    public mutating func object(_ body: (inout JSONTextWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    /// `"key":value`, or nothing when the value is nil (as JSONEncoder leaves out an optional that is nil).
    /// `key` must need no escaping.
    public mutating func member(_ key: StaticString, _ value: (some JSONTextWritable)?) {
        guard let value else { return }
        separateElement()
        bytes.append(UInt8(ascii: "\""))
        append(key)
        bytes.append(UInt8(ascii: "\""))
        append(pretty ? " : " : ":")
        value.write(to: &self)
    }

    public mutating func array<Elements: Collection>(_ elements: Elements) where Elements.Element: JSONTextWritable {
        open(UInt8(ascii: "["))
        for element in elements {
            separateElement()
            element.write(to: &self)
        }
        close(UInt8(ascii: "]"))
    }

    mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        indent += 1
    }

    /// Before an element: a comma unless it is the first; when pretty, a new line at the current indentation.
    mutating func separateElement() {
        let first = bytes.last == UInt8(ascii: "{") || bytes.last == UInt8(ascii: "[")
        if !first { bytes.append(UInt8(ascii: ",")) }
        newline()
    }

    /// When pretty the closing bracket is on a line of its own, also when there is no element: JSONEncoder puts an
    /// empty container's brackets two lines apart.
    mutating func close(_ bracket: UInt8) {
        indent -= 1
        let empty = bytes.last == UInt8(ascii: "{") || bytes.last == UInt8(ascii: "[")
        if pretty && empty { bytes.append(UInt8(ascii: "\n")) }
        newline()
        bytes.append(bracket)
    }

    /// When pretty: a new line, at the current indentation.
    mutating func newline() {
        guard pretty else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }

    mutating func append(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }
}

// MARK: - Values

extension JSONValue: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        switch self {
        case .null: json.append("null")
        case .bool(let bool): bool.write(to: &json)
        case .number(let number): number.write(to: &json)
        case .string(let string): string.write(to: &json)
        case .array(let elements): json.array(elements)
        case .object(let members): members.write(to: &json)
        }
    }
}

extension Bool: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.append(self ? "true" : "false")
    }
}

extension Int: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.bytes.append(contentsOf: String(self).utf8)
    }
}

extension Int32: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        Int(self).write(to: &json)
    }
}

extension Double: JSONTextWritable {
    /// Whole numbers as integers; others as Swift prints them, without a trailing `.0` (as JSONEncoder does).
    public func write(to json: inout JSONTextWriter) {
        guard isFinite else { return json.append("null") }
        if rounded() == self, abs(self) < 1e15, self != 0 || sign == .plus {
            return Int(self).write(to: &json)
        }
        var text = description
        if text.hasSuffix(".0") { text.removeLast(2) }
        json.bytes.append(contentsOf: text.utf8)
    }
}

extension String: JSONTextWritable {
    /// Quoted; `"`, `\` and control characters escaped (`\n`, `\u001f`), nothing else.
    public func write(to json: inout JSONTextWriter) {
        json.bytes.append(UInt8(ascii: "\""))
        var text = self
        text.withUTF8 { utf8 in
            var plain = 0  // start of the bytes not yet written, which need no escape
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                json.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plain..<index]))
                plain = index + 1
                switch byte {
                case UInt8(ascii: "\""): json.append(#"\""#)
                case UInt8(ascii: "\\"): json.append(#"\\"#)
                case 0x08: json.append(#"\b"#)
                case 0x0C: json.append(#"\f"#)
                case 0x0A: json.append(#"\n"#)
                case 0x0D: json.append(#"\r"#)
                case 0x09: json.append(#"\t"#)
                default:
                    json.append(#"\u00"#)
                    json.bytes.append(Self.hexDigits[Int(byte >> 4)])
                    json.bytes.append(Self.hexDigits[Int(byte & 0xF)])
                }
            }
            json.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[plain...]))
        }
        json.bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}

extension Array: JSONTextWritable where Element: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.array(self)
    }
}

extension Dictionary: JSONTextWritable where Key == String, Value: JSONTextWritable {
    /// Members in the order of their keys' UTF-8 bytes, as every object.
    public func write(to json: inout JSONTextWriter) {
        json.open(UInt8(ascii: "{"))
        for (key, value) in sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            json.separateElement()
            key.write(to: &json)
            json.append(json.pretty ? " : " : ":")
            value.write(to: &json)
        }
        json.close(UInt8(ascii: "}"))
    }
}

extension UInt64: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.bytes.append(contentsOf: String(self).utf8)
    }
}

extension Int64: JSONTextWritable {
    public func write(to json: inout JSONTextWriter) {
        json.bytes.append(contentsOf: String(self).utf8)
    }
}
