import ClusterControl
import NIOCore
import NIOEmbedded

/// libFuzzer's entry point: the control protocol's decoders on one input.
///
/// - the whole input as a request line (`ControlCodec.parseRequest`, what clusterd does with each line): it must
///   return, and a failure's error reply must read back on the client side (`IncomingLine`) with the same id and code;
/// - the whole input as a line from clusterd (`IncomingLine`, what clusterctl and routers do);
/// - the input as a byte stream through `ControlLineDecoder` in an `EmbeddedChannel`, delivered in chunks whose size
///   the first byte chooses: the lines must be exactly the ones a plain split finds, each parsed as a request.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControlCodec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    checkRequest(bytes)
    _ = IncomingLine(bytes)
    if let first = bytes.first {
        checkFraming(Array(bytes.dropFirst()), chunkSize: Int(first % 32) + 1)
    }
    return 0
}

private func checkRequest(_ line: some Collection<UInt8>) {
    switch ControlCodec.parseRequest(line) {
    case .success(let request):
        precondition(ControlCodec.operations.contains(request.operation.name), "an operation with no op name")
        guard
            case .reply(let id, .success)? = IncomingLine(ControlCodec.reply(id: request.id, EmptyReply()).dropLast())
        else { preconditionFailure("the reply to \(request.id) does not read back") }
        precondition(id == request.id, "reply id \(String(describing: id)) is not the request's \(request.id)")
    case .failure(let failure):
        precondition(!failure.error.message.isEmpty, "an error with no message")
        let reply = ControlCodec.reply(id: failure.id, error: failure.error)
        precondition(reply.last == UInt8(ascii: "\n") && reply.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil)
        guard case .reply(let id, .failure(let error))? = IncomingLine(reply.dropLast()) else {
            preconditionFailure("the error reply does not read back: \(String(decoding: reply, as: UTF8.self))")
        }
        precondition(id == failure.id, "reply id \(String(describing: id)) is not \(String(describing: failure.id))")
        precondition(error.code == failure.error.code, "reply code \(error.code) is not \(failure.error.code)")
    }
}



/// Short enough that the fuzzer reaches the too-long path with small inputs.
private let maximumLength = 48

private func checkFraming(_ stream: [UInt8], chunkSize: Int) {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(ControlLineDecoder(maximumLength: maximumLength)))
    var decoded: [Framed] = []
    func drain() {
        while let line = try! channel.readInbound(as: ControlLine.self) {
            switch line {
            case .line(let buffer):
                let bytes = Array(buffer.readableBytesView)
                decoded.append(.line(bytes))
                checkRequest(bytes)
            case .tooLong:
                decoded.append(.tooLong)
            }
        }
    }
    var offset = 0
    while offset < stream.count {
        let end = min(offset + chunkSize, stream.count)
        try! channel.writeInbound(channel.allocator.buffer(bytes: stream[offset..<end]))
        drain()
        offset = end
    }
    _ = try! channel.finish()
    drain()
    let expected = expectedFraming(stream)
    precondition(decoded == expected, "framing \(decoded) differs from \(expected) (chunks of \(chunkSize))")
}

private enum Framed: Equatable, CustomStringConvertible {
    case line([UInt8])
    case tooLong

    var description: String {
        switch self {
        case .line(let bytes): "line(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
        case .tooLong: "tooLong"
        }
    }
}

/// The decoder's contract, written plainly: lines split at `\n` with one trailing `\r` dropped; the first line
/// longer than the limit (counting that `\r`) ends the stream with `tooLong`; a last line without `\n` is a line
/// as it stands.
private func expectedFraming(_ stream: [UInt8]) -> [Framed] {
    var result: [Framed] = []
    var rest = stream[...]
    while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
        let line = rest[..<newline]
        guard line.count <= maximumLength else { return result + [.tooLong] }
        result.append(.line(Array(line.last == UInt8(ascii: "\r") ? line.dropLast() : line)))
        rest = rest[(newline + 1)...]
    }
    if rest.count > maximumLength { return result + [.tooLong] }
    if !rest.isEmpty { result.append(.line(Array(rest))) }
    return result
}
