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

    @Test func keepsUnicodeAndEscapes() throws {
        let document = try TOMLDocument.parse(#"k = "caf\u00E9 \"q\" ☕""#).get()
        #expect(document["k"] == .string("café \"q\" ☕"))
    }
}
