/// The names clusterd's tenants and hosts take in HAProxy: backends, servers and host map keys.
public enum HAProxyNames {
    /// The backend of clusterd's own router: the `default_backend` (404 for unknown hosts) and the activator.
    public static let routerBackend = "clusterd_router"
    /// The backup server of every tenant backend: clusterd's router, which activates a cold tenant.
    public static let activatorServer = "activator"
    /// The prefix of the `server-template` slots: `w1`, `w2`…
    public static let slotPrefix = "w"

    /// The backend for `tenant`: `t_<name>`. The prefix keeps a tenant from naming any other backend.
    ///
    /// HAProxy allows `[A-Za-z0-9_.:-]` in proxy names. clusterd's tenants.conf already allows only
    /// `[a-z0-9-]` (`TenantName.problem` in ClusterCore's `ConfigurationDecoder.swift`), so with a snapshot
    /// from this clusterd the refusal cannot happen; it guards against a snapshot from elsewhere (a later
    /// protocol version, a test, a hand-made file).
    public static func backend(forTenant tenant: String) throws(HAProxyError) -> String {
        if tenant.isEmpty {
            throw HAProxyError(.unsafeTenantName, "a tenant with an empty name cannot be an HAProxy backend")
        }
        if let bad = tenant.unicodeScalars.first(where: { !isIdentifierScalar($0) }) {
            throw HAProxyError(
                .unsafeTenantName,
                "tenant \"\(tenant)\" cannot be an HAProxy backend: \(describe(bad)) is not allowed "
                    + "(HAProxy names take A-Z, a-z, 0-9, '_', '.', ':' and '-'); rename the tenant"
            )
        }
        return "t_" + tenant
    }

    /// The server name of slot `slot` (1…N) in a tenant backend: `w3`.
    public static func server(slot: Int) -> String { slotPrefix + String(slot) }

    /// The slot a server name stands for (`w3` → 3), or nil for any other server.
    public static func slot(ofServer name: String) -> Int? {
        guard name.hasPrefix(slotPrefix), let slot = Int(name.dropFirst(slotPrefix.count)), slot >= 1,
            server(slot: slot) == name
        else { return nil }
        return slot
    }

    /// `host` as a key of the host map file (`host backend` per line): lowercased, as the frontend lowercases
    /// the `Host` header before the lookup.
    ///
    /// The map file splits on whitespace and treats `#` as a comment, so a host with whitespace, `#` or a
    /// control character is refused. clusterd's own host rule (`HostName.problem`) admits only
    /// `[a-z0-9.-]`, so with its snapshots this cannot happen either.
    public static func mapKey(forHost host: String) throws(HAProxyError) -> String {
        if host.isEmpty {
            throw HAProxyError(.unsafeHost, "an empty host cannot be a key of the HAProxy host map")
        }
        for scalar in host.unicodeScalars {
            let reason: String? =
                if scalar == "#" {
                    "'#' starts a comment in a map file"
                } else if scalar.properties.isWhitespace {
                    "\(describe(scalar)) would split the map file's line"
                } else if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                    "\(describe(scalar)) is a control character"
                } else {
                    nil
                }
            if let reason {
                throw HAProxyError(
                    .unsafeHost,
                    "host \"\(printable(host))\" cannot go into the HAProxy host map: \(reason); fix it in tenants.conf"
                )
            }
        }
        return String(host.lowercased())
    }

    private static func isIdentifierScalar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "A"..."Z", "a"..."z", "0"..."9", "_", ".", ":", "-": true
        default: false
        }
    }

    /// A character as a person can read it in a message: `'#'`, `U+0009`.
    private static func describe(_ scalar: Unicode.Scalar) -> String {
        if scalar.value > 0x20 && scalar.value < 0x7F { return "'\(Character(scalar))'" }
        var hex = String(scalar.value, radix: 16, uppercase: true)
        while hex.count < 4 { hex = "0" + hex }
        return "U+\(hex)"
    }

    /// `text` with its control characters written as `U+…`, safe to put in a message.
    private static func printable(_ text: String) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) {
                result += describe(scalar)
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }
}
