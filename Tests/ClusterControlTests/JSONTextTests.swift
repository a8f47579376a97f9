import ClusterControl
import Foundation
import Testing

/// `JSONValue.jsonText` writes what JSONEncoder wrote (the protocol's lines, `status --json`), byte for byte.
@Suite("JSON text")
struct JSONTextTests {
    static func encoder(pretty: Bool) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting =
            pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    @Test("the layout, compact and pretty")
    func layout() {
        let value = JSONValue.object([
            "b": .array([.number(1), .number(-2.5), .array([]), .object([:])]),
            "a": .string("x/y"),
            "B": .null,
            "c": .object(["t": .bool(true)]),
        ])
        #expect(value.jsonText().text == #"{"B":null,"a":"x/y","b":[1,-2.5,[],{}],"c":{"t":true}}"#)
        #expect(
            value.jsonText(pretty: true).text == """
                {
                  "B" : null,
                  "a" : "x/y",
                  "b" : [
                    1,
                    -2.5,
                    [

                    ],
                    {

                    }
                  ],
                  "c" : {
                    "t" : true
                  }
                }
                """
        )
        #expect(JSONValue.array([]).jsonText(pretty: true).text == "[\n\n]")
    }

    @Test("strings: quote, backslash and control characters escaped, nothing else")
    func strings() {
        let text = "q\"\\/\u{0}\u{1}\u{8}\u{C}\n\r\t\u{1F}\u{7F}é\u{2028}😀"
        #expect(
            JSONValue.string(text).jsonText().text
                == #""q\"\\/\u0000\u0001\b\f\n\r\t\u001f"# + "\u{7F}é\u{2028}😀\""
        )
    }

    @Test(
        "numbers as JSONEncoder writes doubles",
        arguments: [
            (0.0, "0"), (-0.0, "-0"), (3, "3"), (-17, "-17"), (1.5, "1.5"), (0.1, "0.1"), (1e15, "1000000000000000"),
            (9_007_199_254_740_992, "9007199254740992"), (1e20, "1e+20"), (1e-7, "1e-07"), (123.456, "123.456"),
            (.greatestFiniteMagnitude, "1.7976931348623157e+308"), (.leastNonzeroMagnitude, "5e-324"),
        ]
    )
    func numbers(_ number: Double, _ text: String) throws {
        #expect(JSONValue.number(number).jsonText().text == text)
        #expect(try Self.encoder(pretty: false).encode(JSONValue.number(number)) == Data(text.utf8))
    }

    @Test("a number JSON cannot hold is null")
    func nonFinite() {
        #expect(JSONValue.array([.number(.nan), .number(.infinity)]).jsonText().text == "[null,null]")
    }

    /// Random values of every kind, with the strings and keys a sort or an escape could get wrong.
    @Test("random values: the same bytes as JSONEncoder, compact and pretty")
    func sameAsJSONEncoder() throws {
        var random = SplitMix64(seed: 0x7E47)
        for iteration in 0..<500 {
            let value = Self.randomValue(depth: 0, using: &random)
            for pretty in [false, true] {
                let expected = try Self.encoder(pretty: pretty).encode(value)
                #expect(value.jsonText(pretty: pretty) == Array(expected), "iteration \(iteration), pretty \(pretty)")
            }
            #expect(try JSONValue(parsing: value.jsonText()) == value)
        }
    }

    static let pieces = [
        "a", "B", "z", "_", "0", "9", "10", " ", "/", "\"", "\\", "\u{0}", "\u{8}", "\n", "\u{1F}", "\u{7F}", "é",
        "e\u{301}", "€", "😀", "\u{2028}", "\u{FEFF}", "key",
    ]

    static func randomString(using random: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    static func randomValue(depth: Int, using random: inout SplitMix64) -> JSONValue {
        switch Int.random(in: depth < 4 ? 0...7 : 0...4, using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2:
            let numbers: [Double] = [
                0, -0.0, 1, -1, 1e15, 1e16, 1e20, 0.5, -2.25, 1e-7, 1e300, .leastNonzeroMagnitude,
                Double(Int.random(in: -1_000_000...1_000_000, using: &random)),
                Double(Int.random(in: -(1 << 53)...(1 << 53), using: &random)),
                Double(Int.random(in: -1_000_000...1_000_000, using: &random)) / 1024,
                Double.random(in: -1e6...1e6, using: &random),
            ]
            return .number(numbers.randomElement(using: &random)!)
        case 3, 4: return .string(randomString(using: &random))
        case 5:
            return .array(
                (0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(depth: depth + 1, using: &random) }
            )
        default:
            var members: [String: JSONValue] = [:]
            for _ in 0..<Int.random(in: 0...5, using: &random) {
                members[randomString(using: &random)] = randomValue(depth: depth + 1, using: &random)
            }
            return .object(members)
        }
    }
}
