import ClusterControl
import Foundation
import Testing

/// `JSONValue.decode(as:)` reads a parsed value as a protocol type exactly as JSONDecoder read the same text.
@Suite("Typed values from parsed JSON")
struct TypedDecodingTests {
    /// Each text decoded as `T` by `decode(as:)` and by JSONDecoder: both fail, or both give the same value.
    func sameAsJSONDecoder<T: Decodable & Equatable>(_ type: T.Type, _ texts: [String]) throws {
        for text in texts {
            let value = try JSONValue(parsing: Array(text.utf8))
            let ours = Result { try value.decode(as: T.self) }
            let theirs = Result { try JSONDecoder().decode(T.self, from: Data(text.utf8)) }
            switch (ours, theirs) {
            case (.success(let ours), .success(let theirs)): #expect(ours == theirs, "\(text)")
            case (.failure(let error), .failure): #expect(error is DecodingError, "\(text): \(error)")
            case (.success(let ours), .failure(let error)):
                Issue.record("\(text): read as \(ours); JSONDecoder: \(error)")
            case (.failure(let error), .success(let theirs)): Issue.record("\(text): \(error); JSONDecoder: \(theirs)")
            }
        }
    }

    @Test("typed values: read as JSONDecoder reads them, and refused when it refuses them")
    func typedValues() throws {
        try sameAsJSONDecoder(
            HelloReply.self,
            [
                #"{"version":1,"server":"clusterd","pid":5}"#,
                #"{"version":1.0,"server":"clusterd","pid":5,"upgrades":null,"last_upgrade":"upgraded","x":[{}]}"#,
                #"{"version":1.5,"server":"clusterd","pid":5}"#,
                #"{"version":"1","server":"clusterd","pid":5}"#,
                #"{"version":1,"server":"clusterd","pid":3000000000}"#,
                #"{"version":1,"server":"clusterd","pid":null}"#,
                #"{"version":1,"pid":5}"#,
                #"{"version":1,"server":7,"pid":5}"#,
                #"{"version":1,"server":"clusterd","pid":5,"upgrades":"2"}"#,
                #"[1]"#, #""x""#, "null",
            ]
        )
        try sameAsJSONDecoder(
            ScaleReply.self,
            [#"{"scales":{"acme":2,"b":0}}"#, #"{"scales":{}}"#, #"{"scales":{"acme":"2"}}"#, #"{"scales":[]}"#]
        )
        try sameAsJSONDecoder(
            ActivateReply.self,
            [
                #"{"workers":[{"id":"acme#1","port":20000},{"id":"acme#2","port":20001}]}"#,
                #"{"workers":[{"id":"acme#1"}]}"#, #"{"workers":[null]}"#, #"{"workers":{}}"#,
            ]
        )
        try sameAsJSONDecoder(
            ControlError.self,
            [
                #"{"code":"x","message":"m","details":["a","b"],"retry_after_ms":5}"#,
                #"{"code":"x","message":"m","details":null}"#, #"{"code":"x"}"#, #"{"code":1,"message":"m"}"#,
                #"{"code":"x","message":"m","details":[1]}"#,
            ]
        )
        try sameAsJSONDecoder(
            ControlEvent.self,
            [
                #"{"event":"worker-ready","tenant":"acme","worker":"acme#1","port":20000,"since_ms":1}"#,
                #"{"event":"worker-gone","exit_code":-1,"signal":9,"retry_after_ms":null}"#,
                #"{"event":5}"#, #"{"tenant":"acme"}"#,
            ]
        )
        try sameAsJSONDecoder([RequestID].self, [#"[1,"a",-3,2.0]"#, #"[1.5]"#, #"[null]"#, #"[true]"#])
        try sameAsJSONDecoder(ClusterSnapshot.self, [Fixtures.snapshotJSON, #"{"domain":null}"#])
        try sameAsJSONDecoder(JSONValue.self, [Fixtures.snapshotJSON, "[1,null]"])
        try sameAsJSONDecoder([Int8].self, ["[127,-128]", "[128]", "[-129]", "[1e2]"])
        try sameAsJSONDecoder([UInt64].self, ["[0,9007199254740992]", "[-1]"])
        try sameAsJSONDecoder([Double?].self, ["[0.5,null,-1e300]"])
        try sameAsJSONDecoder([Bool].self, ["[true,false]", "[1]", #"["true"]"#])
    }

    @Test("a decoding error names where it is, as JSONDecoder's does")
    func decodingErrorPath() throws {
        var snapshot = try JSONValue(parsing: Array(Fixtures.snapshotJSON.utf8))
        guard case .object(var top) = snapshot, case .array(var tenants)? = top["tenants"],
            case .object(var tenant) = tenants[0], case .array(var workers)? = tenant["workers"],
            case .object(var worker) = workers[1]
        else {
            Issue.record("the fixture changed")
            return
        }
        worker["port"] = .string("20001")
        workers[1] = .object(worker)
        tenant["workers"] = .array(workers)
        tenants[0] = .object(tenant)
        top["tenants"] = .array(tenants)
        snapshot = .object(top)
        do {
            _ = try snapshot.decode(as: ClusterSnapshot.self)
            Issue.record("decoded a string port")
        } catch DecodingError.typeMismatch(let type, let context) {
            #expect(type is Int.Type)
            #expect(context.codingPath.map(\.stringValue) == ["tenants", "Index 0", "workers", "Index 1", "port"])
        }
    }
}
