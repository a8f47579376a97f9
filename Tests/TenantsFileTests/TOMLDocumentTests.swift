import ClusterCore
import Testing

@testable import TenantsFile

@Suite("TOML to ConfigValue")
struct TOMLDocumentTests {
    @Test func convertsEveryTOMLType() throws {
        let text = """
            s = "text"
            i = -42
            f = 2.5
            b = true
            a = [1, "two", [3]]
            t = { x = 1, y = { z = "deep" } }
            d = 1979-05-27
            tm = 07:32:00
            dt = 1979-05-27T07:32:00Z
            [table.sub]
            k = 'literal'
            """
        let document = try TOMLDocument.parse(text).get()
        #expect(
            document == [
                "s": .string("text"),
                "i": .integer(-42),
                "f": .float(2.5),
                "b": .boolean(true),
                "a": .array([.integer(1), .string("two"), .array([.integer(3)])]),
                "t": .table(["x": .integer(1), "y": .table(["z": .string("deep")])]),
                "d": .other("date"),
                "tm": .other("time"),
                "dt": .other("date-time"),
                "table": .table(["sub": .table(["k": .string("literal")])]),
            ]
        )
    }

    /// What the checks for toml++'s aborts and for NUL escapes must let through: each looks like one, and is fine.
    @Test func acceptsWhatOnlyLooksLikeAParserTrap() throws {
        let text = #"""
            nested = [
              [ { x = 1 } ],
              [ "}", '[.]' ],
            ]
            text = """
            [.]
            [
            1979-05-27 3,"""
            dates = [1979-05-27 07:32:00, 1979-05-27]
            backslash = "\\u0000"
            literal = 'C:\u0000'
            [ "quoted" ] # \u0000 in a comment
            """#
        let document = try TOMLDocument.parse(text).get()
        #expect(document["text"] == .string("[.]\n[\n1979-05-27 3,"))
        #expect(document["backslash"] == .string(#"\u0000"#))
        #expect(document["literal"] == .string(#"C:\u0000"#))
        #expect(document["dates"] == .array([.other("date-time"), .other("date")]))
        #expect(document["quoted"] == .table([:]))
    }

    @Test func keepsUnicodeAndEscapes() throws {
        let document = try TOMLDocument.parse(#"k = "caf\u00E9 \"q\" ☕""#).get()
        #expect(document["k"] == .string("café \"q\" ☕"))
    }
}
