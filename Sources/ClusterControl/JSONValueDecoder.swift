extension JSONValue {
    /// Decodes this value as `T` (a reply's `result`), by the rules JSONDecoder applies to the same JSON text:
    /// a number is an integer type only if it is a whole number in range, a missing key or `null` is `nil` for an
    /// optional, unknown keys are ignored.
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONValueDecoder.decode(T.self, from: self, at: [])
    }
}

/// A `Decoder` reading an already parsed `JSONValue`, so that a line is parsed once and never re-encoded.
private struct JSONValueDecoder: Decoder {
    let value: JSONValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue, at codingPath: [any CodingKey]) throws -> T
    {
        if T.self == JSONValue.self { return value as! T }  // wanted as it is
        return try T(from: JSONValueDecoder(value: value, codingPath: codingPath))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else {
            throw Primitive.mismatch([String: JSONValue].self, value, codingPath)
        }
        return KeyedDecodingContainer(KeyedContainer(members: members, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw Primitive.mismatch([JSONValue].self, value, codingPath) }
        return UnkeyedContainer(elements: elements, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(value: value, codingPath: codingPath)
    }
}

/// Conversions of a value to the standard library's primitive types, with JSONDecoder's errors.
private enum Primitive {
    static func bool(_ value: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        guard case .bool(let bool) = value else { throw mismatch(Bool.self, value, path()) }
        return bool
    }

    static func string(_ value: JSONValue, _ path: @autoclosure () -> [any CodingKey]) throws -> String {
        guard case .string(let string) = value else { throw mismatch(String.self, value, path()) }
        return string
    }

    static func integer<T: FixedWidthInteger>(
        _ type: T.Type,
        _ value: JSONValue,
        _ path: @autoclosure () -> [any CodingKey]
    ) throws -> T {
        guard case .number(let number) = value else { throw mismatch(T.self, value, path()) }
        guard let integer = T(exactly: number) else {
            throw DecodingError.dataCorrupted(
                DecodingError.Context(
                    codingPath: path(),
                    debugDescription: "Number \(number) is not representable in Swift as \(T.self)."
                )
            )
        }
        return integer
    }

    static func floatingPoint<T: BinaryFloatingPoint>(
        _ type: T.Type,
        _ value: JSONValue,
        _ path: @autoclosure () -> [any CodingKey]
    ) throws -> T {
        guard case .number(let number) = value else { throw mismatch(T.self, value, path()) }
        return T(number)
    }

    static func mismatch(_ type: Any.Type, _ value: JSONValue, _ path: [any CodingKey]) -> DecodingError {
        let context = DecodingError.Context(
            codingPath: path,
            debugDescription: "Expected to decode \(type) but found \(value.typeName) instead."
        )
        return value == .null ? .valueNotFound(type, context) : .typeMismatch(type, context)
    }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSONValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool {
        members[key.stringValue] != nil
    }

    func member(_ key: Key) throws -> JSONValue {
        guard let value = members[key.stringValue] else {
            throw DecodingError.keyNotFound(
                key,
                DecodingError.Context(
                    codingPath: codingPath,
                    debugDescription: "No value associated with key \(key) (\"\(key.stringValue)\")."
                )
            )
        }
        return value
    }

    /// The member, nil when it is absent or `null`.
    func optionalMember(_ key: Key) -> JSONValue? {
        guard let value = members[key.stringValue], value != .null else { return nil }
        return value
    }

    func path(_ key: Key) -> [any CodingKey] {
        codingPath + [key]
    }

    func decodeNil(forKey key: Key) throws -> Bool {
        try member(key) == .null
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
        try Primitive.bool(member(key), path(key))
    }

    func decode(_ type: String.Type, forKey key: Key) throws -> String {
        try Primitive.string(member(key), path(key))
    }

    func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
        try Primitive.floatingPoint(type, member(key), path(key))
    }

    func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
        try Primitive.floatingPoint(type, member(key), path(key))
    }

    func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 {
        try Primitive.integer(type, member(key), path(key))
    }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        try JSONValueDecoder.decode(type, from: member(key), at: path(key))
    }

    // The optional members the protocol's types have, each looked up once (the default looks up three times).

    func decodeIfPresent(_ type: Bool.Type, forKey key: Key) throws -> Bool? {
        try optionalMember(key).map { try Primitive.bool($0, path(key)) }
    }

    func decodeIfPresent(_ type: String.Type, forKey key: Key) throws -> String? {
        try optionalMember(key).map { try Primitive.string($0, path(key)) }
    }

    func decodeIfPresent(_ type: Int.Type, forKey key: Key) throws -> Int? {
        try optionalMember(key).map { try Primitive.integer(type, $0, path(key)) }
    }

    func decodeIfPresent(_ type: Int32.Type, forKey key: Key) throws -> Int32? {
        try optionalMember(key).map { try Primitive.integer(type, $0, path(key)) }
    }

    func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        try optionalMember(key).map { try JSONValueDecoder.decode(type, from: $0, at: path(key)) }
    }

    func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type,
        forKey key: Key
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try JSONValueDecoder(value: member(key), codingPath: path(key)).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try JSONValueDecoder(value: member(key), codingPath: path(key)).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        let key = IndexKey(stringValue: "super")
        return JSONValueDecoder(value: members["super"] ?? .null, codingPath: codingPath + [key])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONValueDecoder(value: members[key.stringValue] ?? .null, codingPath: path(key))
    }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
    let elements: [JSONValue]
    let codingPath: [any CodingKey]
    private(set) var currentIndex = 0

    init(elements: [JSONValue], codingPath: [any CodingKey]) {
        self.elements = elements
        self.codingPath = codingPath
    }

    var count: Int? { elements.count }
    var isAtEnd: Bool { currentIndex >= elements.count }

    /// The next element, consumed only if `convert` succeeds (as JSONDecoder does); `convert` is given the
    /// element's coding path, made only when needed (for an error or a nested value).
    mutating func next<T>(
        _ type: T.Type,
        _ convert: (JSONValue, () -> [any CodingKey]) throws -> T
    ) throws -> T {
        let codingPath = self.codingPath
        let index = currentIndex
        let path = { codingPath + [IndexKey(intValue: index)] }
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(
                type,
                DecodingError.Context(codingPath: path(), debugDescription: "Unkeyed container is at end.")
            )
        }
        let value = try convert(elements[currentIndex], path)
        currentIndex += 1
        return value
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, elements[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode(_ type: Bool.Type) throws -> Bool {
        try next(type) { try Primitive.bool($0, $1()) }
    }

    mutating func decode(_ type: String.Type) throws -> String {
        try next(type) { try Primitive.string($0, $1()) }
    }

    mutating func decode(_ type: Double.Type) throws -> Double {
        try next(type) { try Primitive.floatingPoint(type, $0, $1()) }
    }

    mutating func decode(_ type: Float.Type) throws -> Float {
        try next(type) { try Primitive.floatingPoint(type, $0, $1()) }
    }

    mutating func decode(_ type: Int.Type) throws -> Int {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: Int8.Type) throws -> Int8 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: Int16.Type) throws -> Int16 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: Int32.Type) throws -> Int32 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: Int64.Type) throws -> Int64 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: UInt.Type) throws -> UInt {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: UInt8.Type) throws -> UInt8 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: UInt16.Type) throws -> UInt16 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: UInt32.Type) throws -> UInt32 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode(_ type: UInt64.Type) throws -> UInt64 {
        try next(type) { try Primitive.integer(type, $0, $1()) }
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try next(type) { try JSONValueDecoder.decode(type, from: $0, at: $1()) }
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy type: NestedKey.Type
    ) throws -> KeyedDecodingContainer<NestedKey> {
        try next(KeyedDecodingContainer<NestedKey>.self) {
            try JSONValueDecoder(value: $0, codingPath: $1()).container(keyedBy: type)
        }
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next((any UnkeyedDecodingContainer).self) {
            try JSONValueDecoder(value: $0, codingPath: $1()).unkeyedContainer()
        }
    }

    mutating func superDecoder() throws -> any Decoder {
        try next((any Decoder).self) { JSONValueDecoder(value: $0, codingPath: $1()) }
    }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let value: JSONValue
    let codingPath: [any CodingKey]

    func decodeNil() -> Bool { value == .null }
    func decode(_ type: Bool.Type) throws -> Bool { try Primitive.bool(value, codingPath) }
    func decode(_ type: String.Type) throws -> String { try Primitive.string(value, codingPath) }
    func decode(_ type: Double.Type) throws -> Double { try Primitive.floatingPoint(type, value, codingPath) }
    func decode(_ type: Float.Type) throws -> Float { try Primitive.floatingPoint(type, value, codingPath) }
    func decode(_ type: Int.Type) throws -> Int { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: Int8.Type) throws -> Int8 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: Int16.Type) throws -> Int16 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: Int32.Type) throws -> Int32 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: Int64.Type) throws -> Int64 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: UInt.Type) throws -> UInt { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try Primitive.integer(type, value, codingPath) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try Primitive.integer(type, value, codingPath) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONValueDecoder.decode(type, from: value, at: codingPath)
    }
}

/// A coding key for an array element (`Index 3`), or `super`.
private struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(intValue: Int) {
        self.stringValue = "Index \(intValue)"
        self.intValue = intValue
    }

    init(stringValue: String) {
        self.stringValue = stringValue
        self.intValue = nil
    }
}
