import ClusterControl
import Foundation
import Testing

/// The protocol's JSON parser, which replaced Foundation's JSONDecoder for every line clusterd and its clients read:
/// what it accepts and how it reads it, what it refuses, and that it takes exactly what JSONDecoder took.
@Suite("JSON parser")
struct JSONParserTests {
    static func nested(_ depth: Int) -> String {
        String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
    }

    static let valid: [(String, JSONValue)] = [
        ("null", .null),
        ("true", .bool(true)),
        (" false\n", .bool(false)),
        ("0", .number(0)),
        ("-0", .number(-0.0)),
        ("42", .number(42)),
        ("-12.5e1", .number(-125)),
        ("1E+2", .number(100)),
        ("0.1e-2", .number(0.001)),
        ("123456789012345678", .number(123_456_789_012_345_680)),
        ("9007199254740993", .number(9_007_199_254_740_992)),
        ("1.7976931348623157e308", .number(.greatestFiniteMagnitude)),
        ("4.9e-324", .number(.leastNonzeroMagnitude)),
        ("0e-400", .number(0)),
        (#""""#, .string("")),
        (#""a\"b\\c\/d\b\f\n\r\t""#, .string("a\"b\\c/d\u{8}\u{C}\n\r\t")),
        (#""\u0041\u00e9\u20AC""#, .string("Aé€")),
        (#""\ud83d\ude00 \uDBFF\uDFFF""#, .string("😀 \u{10FFFF}")),
        (#""a\u0000b""#, .string("a\u{0}b")),
        ("\"é😀\u{7F}\u{FFFE}\"", .string("é😀\u{7F}\u{FFFE}")),
        ("[]", .array([])),
        ("{}", .object([:])),
        (
            #"[1,[2,[]],{"a":null}]"#,
            .array([.number(1), .array([.number(2), .array([])]), .object(["a": .null])])
        ),
        (
            " \t\r\n{ \"a\" : 1 , \"b\" : [ true , \"x\" ] } \n",
            .object(["a": .number(1), "b": .array([.bool(true), .string("x")])])
        ),
        // Tolerated, as JSONDecoder did: a byte order mark, a trailing comma, a duplicate key (the first counts).
        ("\u{FEFF}[1]", .array([.number(1)])),
        ("[1,]", .array([.number(1)])),
        (#"{"a":1 , }"#, .object(["a": .number(1)])),
        (#"{"a":1,"a":2,"a":{}}"#, .object(["a": .number(1)])),
    ]

    @Test("valid texts and what they hold", arguments: 0..<valid.count)
    func validText(_ index: Int) throws {
        let (text, expected) = Self.valid[index]
        let value = try JSONValue(parsing: Array(text.utf8))
        #expect(value == expected, "\(text)")
        if case .number(let number) = expected, number == 0 {
            #expect(value == expected && value.numberSign == number.sign, "the sign of zero in \(text)")
        }
        #expect(try Self.foundation(Array(text.utf8)) == value, "JSONDecoder reads \(text) the same")
    }

    @Test("nesting: 512 levels, not 513")
    func depth() throws {
        #expect(throws: Never.self) { try JSONValue(parsing: Array(Self.nested(512).utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(Self.nested(513).utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(Self.nested(100_000).utf8)) }
        let objects = String(repeating: #"{"a":"#, count: 512) + "1" + String(repeating: "}", count: 512)
        #expect(throws: Never.self) { try JSONValue(parsing: Array(objects.utf8)) }
        #expect(throws: JSONSyntaxError.self) { try JSONValue(parsing: Array(("[" + objects + "]").utf8)) }
    }

    static let malformed: [(String, [UInt8])] = [
        ("empty", []),
        ("only spaces", Array(" \n ".utf8)),
        ("a word", Array("nul".utf8)),
        ("a longer word", Array("nulll".utf8)),
        ("single quotes", Array("'a'".utf8)),
        ("no comma", Array("[1 2]".utf8)),
        ("only a comma", Array("[,]".utf8)),
        ("two commas", Array("[1,,2]".utf8)),
        ("a comma in an empty object", Array("{,}".utf8)),
        ("a key without a value", Array(#"{"a"}"#.utf8)),
        ("a key that is not a string", Array("{1:2}".utf8)),
        ("members without a comma", Array(#"{"a":1 "b":2}"#.utf8)),
        ("unclosed array", Array("[1,".utf8)),
        ("unclosed object", Array(#"{"a":1"#.utf8)),
        ("a leading zero", Array("[01]".utf8)),
        ("a point without digits after it", Array("[1.]".utf8)),
        ("a point without digits before it", Array("[.5]".utf8)),
        ("a minus alone", Array("[-]".utf8)),
        ("a plus sign", Array("[+1]".utf8)),
        ("an exponent without digits", Array("[1e]".utf8)),
        ("hex", Array("[0x10]".utf8)),
        ("Infinity", Array("[Infinity]".utf8)),
        ("NaN", Array("[NaN]".utf8)),
        ("too large", Array("[1e400]".utf8)),
        ("too large, negative", Array("[-1e400]".utf8)),
        ("too small", Array("[1e-400]".utf8)),
        ("too small by a little", Array("[2e-324]".utf8)),
        ("an unknown escape", Array(#""\x""#.utf8)),
        ("a short \\u", Array(#""\u00""#.utf8)),
        ("a \\u without hex", Array(#""\uGGGG""#.utf8)),
        ("a capital \\U", Array(#""\U0041""#.utf8)),
        ("a lone high surrogate", Array(#""\ud800""#.utf8)),
        ("a lone low surrogate", Array(#""\udc00""#.utf8)),
        ("a high surrogate and no low one", Array(#""\ud800\u0041""#.utf8)),
        ("a raw newline in a string", Array("\"a\nb\"".utf8)),
        ("a raw tab in a string", Array("\"a\tb\"".utf8)),
        ("an unterminated string", Array("\"abc".utf8)),
        ("an escape at the end", Array("\"abc\\".utf8)),
        ("text after the value", Array("[1]x".utf8)),
        ("two values", Array("[] []".utf8)),
        ("two byte order marks", Array("\u{FEFF}\u{FEFF}[]".utf8)),
        ("a byte order mark after a space", Array(" \u{FEFF}[]".utf8)),
        ("a byte order mark alone", Array("\u{FEFF}".utf8)),
        ("a form feed as space", Array("\u{0C}[]".utf8)),
        ("invalid UTF-8", [0x22, 0xFF, 0xFE, 0x22]),
        ("an overlong encoding", [0x22, 0xC0, 0xAF, 0x22]),
        ("an encoded surrogate", [0x22, 0xED, 0xA0, 0x80, 0x22]),
        ("beyond U+10FFFF", [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22]),
        ("a truncated sequence", [0x22, 0x61, 0xE2, 0x82, 0x22]),
        ("invalid UTF-8 after an escape", [0x22, 0x5C, 0x6E, 0xC3, 0x22]),
        ("a raw NUL in a string", [0x22, 0x61, 0x00, 0x22]),
        ("a NUL after the value", [0x5B, 0x5D, 0x00]),
        ("NULs", [0, 0, 0, 0]),
    ]

    @Test("malformed texts are refused, and were by JSONDecoder", arguments: 0..<malformed.count)
    func malformedText(_ index: Int) {
        let (name, bytes) = Self.malformed[index]
        #expect(throws: JSONSyntaxError.self, "\(name)") { try JSONValue(parsing: bytes) }
        #expect((try? Self.foundation(bytes)) == nil, "JSONDecoder refused \(name) too")
    }

    @Test("an error says what and where")
    func errorDescription() {
        #expect(throws: JSONSyntaxError(offset: 9, reason: "expected ',' or ']'")) {
            try JSONValue(parsing: Array(#"[1, 2, 3 4]"#.utf8))
        }
        #expect(
            JSONSyntaxError(offset: 3, reason: "a number without digits").description
                == "a number without digits at byte 3"
        )
    }

    @Test("any collection of bytes: an array, a slice, a ByteBuffer's view, a non-contiguous one")
    func collections() throws {
        let text = Array(#"xx{"a":[1,"b"]}yy"#.utf8)
        let expected = JSONValue.object(["a": .array([.number(1), .string("b")])])
        #expect(try JSONValue(parsing: text[2..<(text.count - 2)]) == expected)
        #expect(try JSONValue(parsing: text.dropFirst(2).dropLast(2).lazy.map { $0 }) == expected)
    }

    /// Mutated protocol lines, a snapshot line and random bytes: the same value, or an error, from both parsers.
    /// JSONDecoder alone reads UTF-16 and UTF-32, which it guesses from NUL bytes or their byte order marks: the
    /// protocol is UTF-8 (where a NUL byte can only be an error), so those texts are left out.
    @Test("random texts: read exactly as JSONDecoder read them", .timeLimit(.minutes(2)))
    func sameAsJSONDecoder() throws {
        var random = SplitMix64(seed: 0x0750_A15E)
        let snapshotLine = Array(ControlCodec.reply(id: .number(2), Fixtures.snapshot).dropLast())
        let seeds = RandomizedRequestTests.validLines + [snapshotLine]
        var accepted = 0
        var compared = 0
        for iteration in 0..<6_000 {
            var text: [UInt8]
            if iteration % 3 == 0 {
                text = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                    RandomizedRequestTests.interesting.randomElement(using: &random)!
                }
            } else {
                text = seeds.randomElement(using: &random)!
                for _ in 0..<Int.random(in: 0...2, using: &random) {
                    RandomizedRequestTests.mutate(&text, using: &random)
                }
            }
            guard !text.contains(0), !text.starts(with: [0xFE, 0xFF]), !text.starts(with: [0xFF, 0xFE]) else {
                continue
            }
            compared += 1
            let ours = try? JSONValue(parsing: text)
            let theirs = try? Self.foundation(text)
            if ours != nil { accepted += 1 }
            #expect(ours == theirs, "iteration \(iteration): \(text.text)")
            if let ours, let theirs, ours != theirs { break }
        }
        #expect(compared > 4_000)
        #expect(accepted > 1_000 && accepted < compared - 1_000, "\(accepted) of \(compared) accepted")
    }

    static func foundation(_ bytes: [UInt8]) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(bytes))
    }
}

extension JSONValue {
    /// The sign of a number (`-0` is a negative zero), for the comparisons `==` does not make.
    fileprivate var numberSign: FloatingPointSign? {
        if case .number(let number) = self { return number.sign }
        return nil
    }
}
