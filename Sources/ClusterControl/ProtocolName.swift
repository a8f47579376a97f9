/// A string-valued name of the protocol (an error code, an event kind): open to new values in later
/// versions, so a struct rather than an enum; encoded as its plain string (the standard library's
/// RawRepresentable coding).
public protocol ProtocolName: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible
where RawValue == String {}

extension ProtocolName {
    public var description: String { rawValue }
}
