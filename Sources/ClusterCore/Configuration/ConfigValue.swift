/// A parsed configuration document, independent of the file syntax that produced it.
///
/// `TenantsFile` turns TOML into this; ``ConfigurationDecoder`` validates it into a ``ClusterConfiguration``.
public indirect enum ConfigValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    case table([String: ConfigValue])
    /// A value of a type clusterd never uses (dates, times), by its type name.
    case other(String)

    /// What the value is, in words an error message can use.
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        case .other(let name): "a \(name)"
        }
    }
}
