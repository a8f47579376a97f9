/// One `TENANT=N` argument of `clusterctl scale`: N workers for the tenant, 0 for back to on-demand.
public struct ScaleArgument: Sendable, Hashable {
    public var tenant: String
    public var count: Int

    public init(tenant: String, count: Int) {
        self.tenant = tenant
        self.count = count
    }

    /// Why an argument is not `TENANT=N`, in words for the command line.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String

        public init(description: String) {
            self.description = description
        }
    }

    /// Parses `acme=4`: a tenant name, `=`, and a count of decimal digits (≥ 0).
    public init(parsing text: String) throws(ParseError) {
        guard let equals = text.firstIndex(of: "=") else {
            throw ParseError(description: "\"\(text)\" is not TENANT=N (e.g. acme=4, or acme=0 for on-demand)")
        }
        let tenant = String(text[..<equals])
        let digits = text[text.index(after: equals)...]
        guard !tenant.isEmpty else {
            throw ParseError(description: "\"\(text)\": the tenant name before \"=\" is missing")
        }
        guard !tenant.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw ParseError(description: "\"\(text)\": a tenant name has no spaces")
        }
        guard !digits.isEmpty else {
            throw ParseError(description: "\"\(text)\": the worker count after \"=\" is missing (e.g. \(tenant)=4)")
        }
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw ParseError(
                description: "\"\(text)\": the worker count must be a whole number ≥ 0, found \"\(digits)\""
            )
        }
        guard let count = Int(digits), count <= Self.maximumCount else {
            throw ParseError(description: "\"\(text)\": the worker count is too large (at most \(Self.maximumCount))")
        }
        self.init(tenant: tenant, count: count)
    }

    /// Larger counts are refused before asking clusterd (which caps them at the host's `max_workers` anyway).
    public static let maximumCount = 1_000_000

    /// Parses every argument of one `scale` command; a tenant named twice is an error.
    public static func parse(_ arguments: [String]) throws(ParseError) -> [ScaleArgument] {
        guard !arguments.isEmpty else {
            throw ParseError(description: "give at least one TENANT=N (e.g. acme=4)")
        }
        var parsed: [ScaleArgument] = []
        var seen: Set<String> = []
        for text in arguments {
            let argument = try ScaleArgument(parsing: text)
            guard seen.insert(argument.tenant).inserted else {
                throw ParseError(description: "tenant \"\(argument.tenant)\" is given more than once")
            }
            parsed.append(argument)
        }
        return parsed
    }
}
