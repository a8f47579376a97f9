import Testing

@testable import TenantsFile

/// Every kind of TOML 1.0 bare value is accepted; near misses (the inputs that made toml++ abort among them) are not.
@Suite("Bare value grammar")
struct BareValueGrammarTests {
    static let valid = [
        "true", "false", "0", "+0", "-0", "42", "+99", "-17", "1_000", "5_349_221", "0xDEADBEEF", "0xdead_beef",
        "0o755", "0o01234567", "0b1101", "0b1_0", "9223372036854775807", "1.0", "+1.0", "3.1415", "-0.01", "5e+22",
        "1e06", "-2E-2", "6.626e-34", "224_617.445_991_228", "0e0", "0.0", "inf", "+inf", "-inf", "nan", "+nan",
        "-nan", "1979-05-27T07:32:00Z", "1979-05-27T00:32:00-07:00", "1979-05-27T00:32:00.999999+07:00",
        "1979-05-27 07:32:00Z", "1979-05-27t07:32:00z", "1979-05-27T07:32:00", "1979-05-27T00:32:00.999999",
        "1979-05-27", "07:32:00", "00:32:00.999999",
    ]

    static let invalid = [
        "", "True", "yes", "30s", "5m", "1__0", "_1", "1_", "01", "+01", "00", "0_0", "0x", "0X1F", "+0x1", "0xG",
        "0o8", "0b2", "1.", ".5", "1.e5", "1e", "1e+", "1.0.0", "1,000", "infinity", "- 1", "1 2", "nan1",
        "2024-01-01 5", "1979-05-27 3", "1979-05-27Tstring00-08:00", "1979-05-27T", "1979-05-27 ", "1979-05-27T7:32:00",
        "1979-05-27T07:32", "1979-05-27T07:32:00+7:00", "1979-05-27T07:32:00.", "19\u{FFFD}9-05-27", "1979-5-27",
        "07:32", "07:32:00Z", "1979-05-27  07:32:00", "2_024-01-01", "1979-05-27_07:32:00", "\u{FF11}",
    ]

    @Test("valid bare values", arguments: valid)
    func accepts(_ text: String) {
        #expect(BareValueGrammar.isValid(text.utf8))
    }

    @Test("not bare values", arguments: invalid)
    func rejects(_ text: String) {
        #expect(!BareValueGrammar.isValid(text.utf8))
    }
}
