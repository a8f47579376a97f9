/// A line a client receives: the reply to one of its requests, or (after `subscribe`) an event.
public enum IncomingLine: Sendable {
    case reply(id: RequestID?, Result<JSONValue, ControlError>)
    case event(ControlEvent)

    /// Parses a line from clusterd; nil when it is not a line of this protocol. The line is parsed once; a
    /// reply's result is left as a value for the caller to decode as the type it expects.
    public init?(_ line: some Collection<UInt8>) {
        guard let value = try? JSONValue(parsing: line), case .object(let object) = value else { return nil }
        if object["event"] != nil {
            guard let event = try? value.decode(as: ControlEvent.self) else { return nil }
            self = .event(event)
            return
        }
        let id = object["id"].flatMap { value -> RequestID? in
            if let number = value.integer { return .number(number) }
            return value.string.map { .string($0) }
        }
        if let errorValue = object["error"] {
            guard let error = try? errorValue.decode(as: ControlError.self) else { return nil }
            self = .reply(id: id, .failure(error))
        } else if let result = object["result"] {
            self = .reply(id: id, .success(result))
        } else {
            return nil
        }
    }
}
