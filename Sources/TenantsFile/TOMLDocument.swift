import ClusterCore
import TOMLKit

/// Parses TOML text with TOMLKit into the syntax-neutral document ``ConfigurationDecoder`` validates.
enum TOMLDocument {
    /// A TOML syntax error, located as the parser reports it.
    struct SyntaxError: Error {
        var message: String
        var line: Int?
        var column: Int?
    }

    /// The document's root table, or the first syntax error.
    static func parse(_ text: String) -> Result<[String: ConfigValue], SyntaxError> {
        // TOMLKit hands the text to C++ as a C string, which would silently end at a NUL byte.
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1
            return .failure(SyntaxError(message: "NUL byte in the file (TOML text cannot contain one)", line: line))
        }
        let hazards = KeyLocations(scanning: text)
        if let trap = hazards.parserTrap { return .failure(trap) }
        do {
            let table = try TOMLTable(string: text)
            if let line = hazards.escapedNULLine {
                return .failure(
                    SyntaxError(
                        message: "a \\u0000 (NUL) escape in a key or string: remove it (programs, environment "
                            + "variables and names cannot contain NUL)",
                        line: line
                    )
                )
            }
            return .success(convert(table))
        } catch let error as TOMLParseError {
            let position = error.source.begin
            return .failure(
                SyntaxError(
                    message: message(error.description, line: position.line, column: position.column, in: text),
                    line: position.line > 0 ? position.line : nil,
                    column: position.column > 0 ? position.column : nil
                )
            )
        } catch {
            return .failure(SyntaxError(message: "\(error)"))
        }
    }

    static func convert(_ table: TOMLTable) -> [String: ConfigValue] {
        var result: [String: ConfigValue] = [:]
        for (key, value) in table {
            result[key] = convert(value)
        }
        return result
    }

    static func convert(_ value: any TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: .string(value.string ?? "")
        case .int: value.int.map(ConfigValue.integer) ?? .other("integer")
        case .double: value.double.map(ConfigValue.float) ?? .other("float")
        case .bool: value.bool.map(ConfigValue.boolean) ?? .other("boolean")
        case .array: .array(value.array.map { $0.map(convert) } ?? [])
        case .table: .table(value.table.map(convert) ?? [:])
        case .date: .other("date")
        case .time: .other("time")
        case .dateTime: .other("date-time")
        }
    }

    /// toml++ says "Error while parsing CONTEXT: DETAIL"; this says DETAIL first, in the user's terms.
    private static func message(_ description: String, line: Int, column: Int, in text: String) -> String {
        let prefix = "Error while parsing "
        guard description.hasPrefix(prefix), let colon = description.firstRange(of: ": ") else {
            return column > 0 ? "\(description) (column \(column))" : description
        }
        let context = String(
            description[description.index(description.startIndex, offsetBy: prefix.count)..<colon.lowerBound]
        )
        var detail = String(description[colon.upperBound...])
        if detail == "encountered end-of-file" {
            detail = "unterminated \(context): reached the end of the file"
        } else if context.hasSuffix("string"), detail.hasPrefix("unescaped control characters") {
            // A one-line string left open runs into the line end, which toml++ reports as a control character.
            let lineText = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(line - 1).first ?? ""
            if column > lineText.unicodeScalars.count {
                detail = "unterminated \(context): close it on the same line (\"\"\" and ''' strings may span lines)"
            }
        } else if detail.hasPrefix("cannot redefine") {
            detail = "duplicate definition: \(detail)"
        }
        let place = column > 0 ? "column \(column)" : nil
        let parsing = context == "root table" || detail.hasPrefix("unterminated") ? nil : "in \(context)"
        let notes = [parsing, place].compactMap { $0 }
        return notes.isEmpty ? detail : "\(detail) (\(notes.joined(separator: ", ")))"
    }
}
