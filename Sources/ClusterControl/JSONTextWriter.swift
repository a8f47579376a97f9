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

private struct JSONTextWriter {
    let pretty: Bool
    var bytes: [UInt8] = []
    var indent = 0

    init(pretty: Bool) {
        self.pretty = pretty
    }

    mutating func write(_ value: JSONValue) {
        switch value {
        case .null: append("null")
        case .bool(let bool): append(bool ? "true" : "false")
        case .number(let number): write(number)
        case .string(let string): write(string)
        case .array(let elements): write(elements)
        case .object(let members): write(members)
        }
    }

    mutating func write(_ elements: [JSONValue]) {
        container("[", elements, "]") { writer, element in writer.write(element) }
    }

    mutating func write(_ members: [String: JSONValue]) {
        let sorted = members.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        container("{", sorted, "}") { writer, member in
            writer.write(member.key)
            writer.append(writer.pretty ? " : " : ":")
            writer.write(member.value)
        }
    }

    /// Brackets around elements separated by commas; pretty, each element on a line of its own, and the closing
    /// bracket too (also when there is no element, so that an empty container's brackets are two lines apart).
    mutating func container<Elements: Collection>(
        _ opening: Unicode.Scalar,
        _ elements: Elements,
        _ closing: Unicode.Scalar,
        _ writeElement: (inout JSONTextWriter, Elements.Element) -> Void
    ) {
        bytes.append(UInt8(ascii: opening))
        indent += 1
        for (index, element) in elements.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            newline()
            writeElement(&self, element)
        }
        indent -= 1
        if pretty && elements.isEmpty { bytes.append(UInt8(ascii: "\n")) }
        newline()
        bytes.append(UInt8(ascii: closing))
    }

    /// When pretty: a new line, at the current indentation.
    mutating func newline() {
        guard pretty else { return }
        bytes.append(UInt8(ascii: "\n"))
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }

    mutating func write(_ number: Double) {
        guard number.isFinite else { return append("null") }
        // Whole numbers below 10^15 print exactly as integers; JSONEncoder writes the others as Swift does,
        // without a trailing `.0`.
        if number.rounded() == number, abs(number) < 1e15, number != 0 || number.sign == .plus {
            return append(String(Int(number)))
        }
        var text = number.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        append(text)
    }

    mutating func write(_ string: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append(#"\""#)
            case UInt8(ascii: "\\"): append(#"\\"#)
            case 0x08: append(#"\b"#)
            case 0x0C: append(#"\f"#)
            case 0x0A: append(#"\n"#)
            case 0x0D: append(#"\r"#)
            case 0x09: append(#"\t"#)
            case ..<0x20:
                append(#"\u00"#)
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    static let hexDigits = Array("0123456789abcdef".utf8)

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }
}
