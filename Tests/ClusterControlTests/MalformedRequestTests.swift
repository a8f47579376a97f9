import ClusterControl
import Testing

/// Lines clusterd must answer with an error, never act on and never crash on: the code, and whether the id
/// could be read (so the error reply carries it rather than `null`).
@Suite("Malformed requests")
struct MalformedRequestTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var line: [UInt8]
        var code: ControlError.Code
        var id: RequestID?
        var testDescription: String { name }

        init(_ name: String, _ line: String, _ code: ControlError.Code, id: RequestID? = nil) {
            self.init(name, Array(line.utf8), code, id: id)
        }

        init(_ name: String, _ line: [UInt8], _ code: ControlError.Code, id: RequestID? = nil) {
            self.name = name
            self.line = line
            self.code = code
            self.id = id
        }
    }

    static let one = RequestID.number(1)
    static let megabyte = String(repeating: "x", count: ControlCodec.maximumLineLength)

    static func nested(_ depth: Int) -> String {
        #"{"id":1,"op":"status","x":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            + "}"
    }

    static func activity(entries: Int) -> String {
        let entry = #"{"worker":"acme#1","in_flight":0}"#
        return #"{"id":1,"op":"activity","workers":["# + Array(repeating: entry, count: entries).joined(separator: ",")
            + "]}"
    }

    static let cases: [Case] = [
        // Not JSON, or not an object: nothing can be read, the reply's id is null.
        Case("not JSON", "status acme", .malformed),
        Case("an empty line", "", .malformed),
        Case("only spaces", "   ", .malformed),
        Case("truncated object", #"{"id":1,"op":"status""#, .malformed),
        Case("truncated string", #"{"id":1,"op":"sta"#, .malformed),
        Case("trailing garbage", #"{"id":1,"op":"status"} x"#, .malformed),
        Case("two objects on one line", #"{"id":1,"op":"status"}{"id":2,"op":"status"}"#, .malformed),
        Case("single quotes", "{'id':1,'op':'status'}", .malformed),
        Case("a JSON array", #"[{"id":1,"op":"status"}]"#, .malformed),
        Case("a JSON number", "42", .malformed),
        Case("a JSON string", #""status""#, .malformed),
        Case("JSON null", "null", .malformed),
        Case("JSON true", "true", .malformed),
        Case("NaN is not JSON", #"{"id":NaN,"op":"status"}"#, .malformed),
        Case("a number too large for a double", #"{"id":1e400,"op":"status"}"#, .malformed),
        Case("a lone surrogate escape", #"{"id":1,"op":"status","tenant":"\ud800"}"#, .malformed),
        Case("a raw newline inside a string", "{\"id\":1,\"op\":\"status\",\"tenant\":\"a\nb\"}", .malformed),
        Case("nesting deeper than 512", nested(600), .malformed),
        Case("nesting 100 000 deep", nested(100_000), .malformed),
        Case(
            "invalid UTF-8 bytes",
            Array(#"{"id":1,"op":"status","tenant":""#.utf8) + [0xFF, 0xFE, 0xC3] + Array(#""}"#.utf8),
            .malformed
        ),
        Case(
            "an overlong UTF-8 encoding",
            Array(#"{"id":1,"op":""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8),
            .malformed
        ),
        Case("a raw NUL byte in a string", Array(#"{"id":1,"op":"sta"#.utf8) + [0] + Array(#"tus"}"#.utf8), .malformed),
        Case("a NUL byte after the object", Array(#"{"id":1,"op":"status"}"#.utf8) + [0], .malformed),
        Case("only NUL bytes", [UInt8](repeating: 0, count: 64), .malformed),

        // The id: without a usable id the reply's id is null.
        Case("missing id", #"{"op":"status"}"#, .badRequest),
        Case("id null", #"{"id":null,"op":"status"}"#, .badRequest),
        Case("id a float", #"{"id":1.5,"op":"status"}"#, .badRequest),
        Case("id a boolean", #"{"id":true,"op":"status"}"#, .badRequest),
        Case("id an object", #"{"id":{"n":1},"op":"status"}"#, .badRequest),
        Case("id an array", #"{"id":[1],"op":"status"}"#, .badRequest),
        Case("id beyond 2^53", #"{"id":12345678901234567890,"op":"status"}"#, .badRequest),

        // The op: the id is known from here on, and the reply carries it.
        Case("missing op", #"{"id":1}"#, .badRequest, id: one),
        Case("op a number", #"{"id":1,"op":7}"#, .badRequest, id: one),
        Case("op null", #"{"id":"q","op":null}"#, .badRequest, id: .string("q")),
        Case("unknown op", #"{"id":"a","op":"frobnicate"}"#, .unknownOperation, id: .string("a")),
        Case("ops are case-sensitive", #"{"id":1,"op":"STATUS"}"#, .unknownOperation, id: one),
        Case("an empty op", #"{"id":1,"op":""}"#, .unknownOperation, id: one),
        Case("a 1 MiB op", #"{"id":1,"op":""# + megabyte + #""}"#, .unknownOperation, id: one),

        // hello
        Case("hello without versions", #"{"id":1,"op":"hello"}"#, .badRequest, id: one),
        Case("hello with no versions", #"{"id":1,"op":"hello","versions":[]}"#, .badRequest, id: one),
        Case("hello with string versions", #"{"id":1,"op":"hello","versions":["1"]}"#, .badRequest, id: one),
        Case("hello with a fractional version", #"{"id":1,"op":"hello","versions":[1.5]}"#, .badRequest, id: one),
        Case("hello with versions an object", #"{"id":1,"op":"hello","versions":{"v":1}}"#, .badRequest, id: one),

        // status
        Case("status with a numeric tenant", #"{"id":1,"op":"status","tenant":5}"#, .badRequest, id: one),
        Case("status with an empty tenant", #"{"id":1,"op":"status","tenant":""}"#, .badRequest, id: one),

        // scale
        Case("scale without tenants", #"{"id":1,"op":"scale"}"#, .badRequest, id: one),
        Case("scale with no tenants", #"{"id":1,"op":"scale","tenants":{}}"#, .badRequest, id: one),
        Case("scale with a negative count", #"{"id":1,"op":"scale","tenants":{"acme":-1}}"#, .badRequest, id: one),
        Case("scale with a fractional count", #"{"id":1,"op":"scale","tenants":{"acme":1.5}}"#, .badRequest, id: one),
        Case("scale with a string count", #"{"id":1,"op":"scale","tenants":{"acme":"4"}}"#, .badRequest, id: one),
        Case("scale with a null count", #"{"id":1,"op":"scale","tenants":{"acme":null}}"#, .badRequest, id: one),
        Case("scale with a huge count", #"{"id":1,"op":"scale","tenants":{"acme":1e20}}"#, .badRequest, id: one),
        Case("scale with tenants an array", #"{"id":1,"op":"scale","tenants":[["acme",4]]}"#, .badRequest, id: one),
        Case(
            "scale: one bad count spoils all",
            #"{"id":1,"op":"scale","tenants":{"acme":2,"beta":-2}}"#,
            .badRequest,
            id: one
        ),

        // start, stop, restart, drain
        Case("start without a tenant", #"{"id":1,"op":"start"}"#, .badRequest, id: one),
        Case("stop with a null tenant", #"{"id":1,"op":"stop","tenant":null}"#, .badRequest, id: one),
        Case("restart with a tenant array", #"{"id":1,"op":"restart","tenant":["acme"]}"#, .badRequest, id: one),
        Case("drain with a tenant object", #"{"id":1,"op":"drain","tenant":{}}"#, .badRequest, id: one),
        Case("drain with an empty tenant", #"{"id":1,"op":"drain","tenant":""}"#, .badRequest, id: one),

        // activate
        Case("activate without a tenant", #"{"id":1,"op":"activate"}"#, .badRequest, id: one),
        Case(
            "activate with additional a string",
            #"{"id":1,"op":"activate","tenant":"acme","additional":"yes"}"#,
            .badRequest,
            id: one
        ),
        Case(
            "activate with additional a number",
            #"{"id":1,"op":"activate","tenant":"acme","additional":1}"#,
            .badRequest,
            id: one
        ),

        // activity
        Case("activity without workers", #"{"id":1,"op":"activity"}"#, .badRequest, id: one),
        Case("activity with workers an object", #"{"id":1,"op":"activity","workers":{}}"#, .badRequest, id: one),
        Case("activity entry not an object", #"{"id":1,"op":"activity","workers":[1]}"#, .badRequest, id: one),
        Case(
            "activity entry without in_flight",
            #"{"id":1,"op":"activity","workers":[{"worker":"acme#1"}]}"#,
            .badRequest,
            id: one
        ),
        Case(
            "activity entry without worker",
            #"{"id":1,"op":"activity","workers":[{"in_flight":1}]}"#,
            .badRequest,
            id: one
        ),
        Case(
            "activity entry with a negative in_flight",
            #"{"id":1,"op":"activity","workers":[{"worker":"acme#1","in_flight":-1}]}"#,
            .badRequest,
            id: one
        ),
        Case(
            "activity entry with a string in_flight",
            #"{"id":1,"op":"activity","workers":[{"worker":"acme#1","in_flight":"2"}]}"#,
            .badRequest,
            id: one
        ),
        Case(
            "activity entry with a numeric worker",
            #"{"id":1,"op":"activity","workers":[{"worker":1,"in_flight":0}]}"#,
            .badRequest,
            id: one
        ),
    ]

    @Test("answered with an error code", arguments: cases)
    func malformed(_ testCase: Case) {
        switch ControlCodec.parseRequest(testCase.line) {
        case .success(let request):
            Issue.record("parsed as \(request)")
        case .failure(let failure):
            #expect(failure.error.code == testCase.code, "\(failure.error.message.prefix(300))")
            #expect(failure.id == testCase.id)
            #expect(!failure.error.message.isEmpty)
        }
    }

    @Test("the table is at least 30 cases and has every request code")
    func tableSize() {
        #expect(Self.cases.count >= 30)
        #expect(Set(Self.cases.map(\.code)) == [.malformed, .badRequest, .unknownOperation])
    }

    @Test("the error reply to each is one line a client reads back with the same code and id", arguments: cases)
    func replyLine(_ testCase: Case) {
        guard case .failure(let failure) = ControlCodec.parseRequest(testCase.line) else { return }
        let line = ControlCodec.reply(id: failure.id, error: failure.error)
        #expect(line.last == UInt8(ascii: "\n"))
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        guard case .reply(let id, .failure(let error))? = IncomingLine(line.dropLast()) else {
            Issue.record("unreadable reply: \(line.prefix(200).text)")
            return
        }
        #expect(id == testCase.id)
        #expect(error.code == testCase.code)
    }

    @Test("at the limits but valid: nesting 511 deep in an unknown field, a 1 MiB tenant name or id")
    func validAtTheLimits() throws {
        #expect(throws: Never.self) { try ControlCodec.parseRequest(Array(Self.nested(510).utf8)).get() }
        let tenant = try ControlCodec.parseRequest(
            Array((#"{"id":1,"op":"status","tenant":""# + Self.megabyte + #""}"#).utf8)
        ).get()
        #expect(tenant.operation == .status(tenant: Self.megabyte))
        let id = try ControlCodec.parseRequest(Array((#"{"id":""# + Self.megabyte + #"","op":"reload"}"#).utf8)).get()
        #expect(id.id == .string(Self.megabyte))
        let escapedNUL = try ControlCodec.parseRequest(Array(#"{"id":1,"op":"status","tenant":"a\u0000b"}"#.utf8)).get()
        #expect(escapedNUL.operation == .status(tenant: "a\u{0}b"))
    }

    /// Slow in a debug build (seconds: every JSON value is decoded by trial), so not in the tables above.
    @Test("activity with more than the most reports per request", .timeLimit(.minutes(2)))
    func tooManyActivityReports() {
        let line = Self.activity(entries: ControlCodec.maximumActivityReports + 1)
        guard case .failure(let failure) = ControlCodec.parseRequest(Array(line.utf8)) else {
            Issue.record("accepted \(ControlCodec.maximumActivityReports + 1) reports")
            return
        }
        #expect(failure.error.code == .badRequest)
        #expect(failure.id == Self.one)
    }

    @Test("an error message does not echo a huge input back (the reply must fit the line limit)")
    func errorMessagesAreBounded() {
        let lines = [
            #"{"id":1,"op":""# + Self.megabyte + #""}"#,
            #"{"id":1,"op":"scale","tenants":{""# + Self.megabyte + #"":-1}}"#,
        ]
        for line in lines {
            guard case .failure(let failure) = ControlCodec.parseRequest(Array(line.utf8)) else { continue }
            let reply = ControlCodec.reply(id: failure.id, error: failure.error)
            #expect(reply.count <= 4096, "a \(reply.count)-byte reply")
        }
    }
}
