import ClusterControl

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension JSONValue {
    /// Decodes JSON text (any layout) as `T`.
    static func decodeLine<T: Decodable>(_ text: String, as type: T.Type) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }

    /// Parses JSON text into a value.
    static func parse(_ text: String) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
    }
}

extension Collection where Element == UInt8 {
    /// The bytes as text, for messages.
    var text: String { String(decoding: self, as: UTF8.self) }
}
