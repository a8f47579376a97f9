import ClusterControl
import Testing

/// Every operation as a client writes it, parsed into what clusterd acts on.
@Suite("Parsing requests")
struct RequestParsingTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var line: String
        var id: RequestID
        var operation: ControlOperation
        var testDescription: String { line }
    }

    static let cases: [Case] = [
        Case(
            line: #"{"id":1,"op":"hello","versions":[1],"client":"clusterctl"}"#,
            id: .number(1),
            operation: .hello(versions: [1], client: "clusterctl")
        ),
        Case(
            line: #"{"id":2,"op":"hello","versions":[3,2,1]}"#,
            id: .number(2),
            operation: .hello(versions: [3, 2, 1], client: nil)
        ),
        Case(
            line: #"{"id":3,"op":"hello","version":1}"#,
            id: .number(3),
            operation: .hello(versions: [1], client: nil)
        ),
        Case(line: #"{"id":"s-1","op":"status"}"#, id: .string("s-1"), operation: .status(tenant: nil)),
        Case(line: #"{"id":4,"op":"status","tenant":null}"#, id: .number(4), operation: .status(tenant: nil)),
        Case(line: #"{"id":5,"op":"status","tenant":"acme"}"#, id: .number(5), operation: .status(tenant: "acme")),
        Case(
            line: #"{"id":6,"op":"scale","tenants":{"acme":4,"beta":0}}"#,
            id: .number(6),
            operation: .scale(["acme": 4, "beta": 0])
        ),
        Case(line: #"{"id":7,"op":"start","tenant":"acme"}"#, id: .number(7), operation: .start(tenant: "acme")),
        Case(line: #"{"id":8,"op":"stop","tenant":"acme"}"#, id: .number(8), operation: .stop(tenant: "acme")),
        Case(line: #"{"id":9,"op":"restart","tenant":"acme"}"#, id: .number(9), operation: .restart(tenant: "acme")),
        Case(line: #"{"id":10,"op":"drain","tenant":"acme"}"#, id: .number(10), operation: .drain(tenant: "acme")),
        Case(line: #"{"id":11,"op":"reload"}"#, id: .number(11), operation: .reload),
        Case(
            line: #"{"id":12,"op":"activate","tenant":"acme"}"#,
            id: .number(12),
            operation: .activate(tenant: "acme", additional: false)
        ),
        Case(
            line: #"{"id":13,"op":"activate","tenant":"acme","additional":true}"#,
            id: .number(13),
            operation: .activate(tenant: "acme", additional: true)
        ),
        Case(
            line:
                #"{"id":14,"op":"activity","workers":[{"worker":"acme#1","in_flight":2},{"worker":"beta#3","in_flight":0}]}"#,
            id: .number(14),
            operation: .activity([
                WorkerActivity(worker: "acme#1", inFlight: 2), WorkerActivity(worker: "beta#3", inFlight: 0),
            ])
        ),
        Case(line: #"{"id":15,"op":"activity","workers":[]}"#, id: .number(15), operation: .activity([])),
        Case(line: #"{"id":16,"op":"subscribe"}"#, id: .number(16), operation: .subscribe),
        Case(line: #"{"id":17,"op":"upgrade"}"#, id: .number(17), operation: .upgrade),
        // Tolerated: unknown fields (a newer client), key order, whitespace, negative and `.0` ids, escapes.
        Case(
            line: #"{"op":"status","future_field":{"x":[1,2]},"id":17}"#,
            id: .number(17),
            operation: .status(tenant: nil)
        ),
        Case(line: #"  { "id" : -3 , "op" : "reload" }  "#, id: .number(-3), operation: .reload),
        Case(line: #"{"id":18.0,"op":"reload"}"#, id: .number(18), operation: .reload),
        Case(line: #"{"id":"","op":"reload"}"#, id: .string(""), operation: .reload),
        // Tolerated by the JSON parser, not promised by the protocol: a trailing comma, a byte order mark.
        Case(line: #"{"id":20,"op":"reload",}"#, id: .number(20), operation: .reload),
        Case(line: "\u{FEFF}" + #"{"id":21,"op":"reload"}"#, id: .number(21), operation: .reload),
        Case(
            line: #"{"id":19,"op":"status","tenant":"\u0061cme"}"#,
            id: .number(19),
            operation: .status(tenant: "acme")
        ),
    ]

    @Test("a valid request", arguments: cases)
    func valid(_ testCase: Case) throws {
        let request = try ControlCodec.parseRequest(Array(testCase.line.utf8)).get()
        #expect(request.id == testCase.id)
        #expect(request.operation == testCase.operation)
    }

    @Test("every operation has a valid case above, and the op string is the operation's name")
    func everyOperationCovered() {
        let names = Set(Self.cases.map(\.operation.name))
        #expect(names == Set(ControlCodec.operations))
        for testCase in Self.cases {
            #expect(
                testCase.line.contains(#""op":"\#(testCase.operation.name)""#)
                    || testCase.line.contains(#""op" : "\#(testCase.operation.name)""#)
            )
        }
    }

    @Test("a request as clients encode it parses back to the same request")
    func clientEncodingRoundTrip() throws {
        let operations: [ControlOperation] = [
            .hello(versions: [1], client: "router"), .hello(versions: [1, 2], client: nil), .status(tenant: "acme"),
            .status(tenant: nil), .scale(["acme": 3, "beta": 0]), .start(tenant: "acme"), .stop(tenant: "acme"),
            .restart(tenant: "acme"), .drain(tenant: "acme"), .reload, .upgrade,
            .activate(tenant: "acme", additional: true), .activate(tenant: "acme", additional: false),
            .activity([WorkerActivity(worker: "acme#1", inFlight: 5), WorkerActivity(worker: "b#2", inFlight: 0)]),
            .subscribe,
        ]
        for (index, operation) in operations.enumerated() {
            let id: RequestID = index.isMultiple(of: 2) ? .number(index) : .string("r\(index)")
            let line = ControlCodec.request(ControlRequest(id: id, operation: operation))
            #expect(line.last == UInt8(ascii: "\n"))
            #expect(line.dropLast().contains(UInt8(ascii: "\n")) == false)
            let request = try ControlCodec.parseRequest(line.dropLast()).get()
            #expect(request == ControlRequest(id: id, operation: operation))
        }
    }

    @Test("requests on the wire: the documented keys, sorted, as version 1 has always sent them")
    func clientEncodingBytes() {
        func text(_ operation: ControlOperation) -> String {
            String(decoding: ControlCodec.request(ControlRequest(id: .number(7), operation: operation)), as: UTF8.self)
        }
        #expect(
            text(.hello(versions: [1], client: "clusterctl"))
                == #"{"client":"clusterctl","id":7,"op":"hello","versions":[1]}"# + "\n"
        )
        #expect(text(.status(tenant: "acme")) == #"{"id":7,"op":"status","tenant":"acme"}"# + "\n")
        #expect(text(.scale(["b": 1, "a": 4])) == #"{"id":7,"op":"scale","tenants":{"a":4,"b":1}}"# + "\n")
        #expect(
            text(.activate(tenant: "acme", additional: true))
                == #"{"additional":true,"id":7,"op":"activate","tenant":"acme"}"# + "\n"
        )
        #expect(
            text(.activity([WorkerActivity(worker: "acme#1", inFlight: 2)]))
                == #"{"id":7,"op":"activity","workers":[{"in_flight":2,"worker":"acme#1"}]}"# + "\n"
        )
    }
}
