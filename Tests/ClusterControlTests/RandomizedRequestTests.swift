import ClusterControl
import Testing

/// Random bytes and random damage to valid requests: `parseRequest` always returns, with a request or with an
/// error code a client can act on, and the error reply is always one readable line.
@Suite("Randomized requests")
struct RandomizedRequestTests {
    static let seed: UInt64 = 0xC105_7E4D
    static let count = 10_000

    static let validLines = [
        #"{"id":1,"op":"hello","versions":[1],"client":"clusterctl"}"#,
        #"{"id":2,"op":"status","tenant":"acme"}"#,
        #"{"id":"s","op":"scale","tenants":{"acme":4,"beta":0}}"#,
        #"{"id":4,"op":"start","tenant":"acme"}"#,
        #"{"id":5,"op":"drain","tenant":"acme"}"#,
        #"{"id":6,"op":"reload"}"#,
        #"{"id":7,"op":"activate","tenant":"acme","additional":false}"#,
        #"{"id":8,"op":"activity","workers":[{"worker":"acme#1","in_flight":2},{"worker":"acme#2","in_flight":0}]}"#,
        #"{"id":9,"op":"subscribe"}"#,
    ].map { Array($0.utf8) }

    /// Bytes a JSON parser has decisions to make about, besides anything at all.
    static let interesting = Array(#"{}[]":,\-+.0123456789eEtrufalsn "#.utf8) + [0, 0x0A, 0x7F, 0x80, 0xC3, 0xE2, 0xFF]
    static let tokens = [
        "null", "true", "false", "-0", "1e999", "0.5", "-1", "9007199254740993", #""""#, #""\u0000""#, "[]", "{}",
        #"{"worker":"x","in_flight":1}"#, #""op""#, #""id""#, "[[[[", "}}}}", #"\"#, "\u{FEFF}", "é",
    ].map { Array($0.utf8) }

    static let requestCodes: Set<ControlError.Code> = [.malformed, .badRequest, .unknownOperation]

    @Test("random byte strings", .timeLimit(.minutes(2)))
    func randomBytes() {
        var random = SplitMix64(seed: Self.seed)
        var outcomes = Outcomes()
        for iteration in 0..<Self.count {
            let length = Int.random(in: 0...120, using: &random)
            let line = (0..<length).map { _ in
                Bool.random(using: &random)
                    ? Self.interesting.randomElement(using: &random)!
                    : UInt8.random(in: 0...255, using: &random)
            }
            outcomes.check(line, iteration: iteration)
        }
        #expect(outcomes.total == Self.count)
        #expect(outcomes.failures[.malformed, default: 0] > Self.count / 2)
    }

    @Test("random mutations of valid requests", .timeLimit(.minutes(2)))
    func mutations() {
        var random = SplitMix64(seed: Self.seed &+ 1)
        var outcomes = Outcomes()
        for iteration in 0..<Self.count {
            var line = Self.validLines.randomElement(using: &random)!
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                Self.mutate(&line, using: &random)
            }
            outcomes.check(line, iteration: iteration)
        }
        #expect(outcomes.total == Self.count)
        // Mutations reach past the JSON syntax into each kind of answer.
        #expect(outcomes.successes > 0)
        for code in Self.requestCodes {
            #expect(outcomes.failures[code, default: 0] > 0, "no \(code) among \(outcomes)")
        }
    }

    static func mutate(_ line: inout [UInt8], using random: inout SplitMix64) {
        let position = Int.random(in: 0...line.count, using: &random)
        switch Int.random(in: 0..<6, using: &random) {
        case 0 where !line.isEmpty:  // replace a byte
            line[min(position, line.count - 1)] = interesting.randomElement(using: &random)!
        case 1 where !line.isEmpty:  // delete a range
            let end = min(line.count, position + Int.random(in: 1...8, using: &random))
            line.removeSubrange(min(position, line.count)..<end)
        case 2:  // insert a token
            line.insert(contentsOf: tokens.randomElement(using: &random)!, at: position)
        case 3:  // truncate
            line.removeSubrange(position...)
        case 4 where !line.isEmpty:  // duplicate a range
            let start = min(position, line.count - 1)
            let end = min(line.count, start + Int.random(in: 1...16, using: &random))
            line.insert(contentsOf: line[start..<end], at: start)
        default:  // flip a bit
            if !line.isEmpty { line[min(position, line.count - 1)] ^= 1 << UInt8.random(in: 0...7, using: &random) }
        }
    }

    struct Outcomes: CustomStringConvertible {
        var successes = 0
        var failures: [ControlError.Code: Int] = [:]
        var total: Int { successes + failures.values.reduce(0, +) }
        var description: String { "\(successes) parsed, failures \(failures)" }

        mutating func check(_ line: [UInt8], iteration: Int) {
            switch ControlCodec.parseRequest(line) {
            case .success(let request):
                successes += 1
                #expect(ControlCodec.operations.contains(request.operation.name))
            case .failure(let failure):
                failures[failure.error.code, default: 0] += 1
                #expect(
                    RandomizedRequestTests.requestCodes.contains(failure.error.code),
                    "iteration \(iteration): \(line.text)"
                )
                #expect(!failure.error.message.isEmpty)
                if failure.error.code == .malformed { #expect(failure.id == nil) }
                // The reply clusterd would send is one line that reads back with the same code and id.
                let reply = ControlCodec.reply(id: failure.id, error: failure.error)
                guard case .reply(let id, .failure(let error))? = IncomingLine(reply.dropLast()),
                    !reply.dropLast().contains(UInt8(ascii: "\n"))
                else {
                    Issue.record("iteration \(iteration): unreadable reply \(reply.text) to \(line.text)")
                    return
                }
                #expect(id == failure.id && error.code == failure.error.code, "iteration \(iteration)")
            }
        }
    }
}
