/// The `{port}` and `{tenant}` placeholders of a tenant's `command`.
public enum CommandTemplate {
    public static let known: Set<String> = ["port", "tenant"]

    /// The names inside `{...}` that look like placeholders (lower-case letters and `_`).
    public static func placeholders(in argument: String) -> [String] {
        var names: [String] = []
        var current: String?
        for character in argument {
            if character == "{" {
                current = ""
            } else if character == "}", let name = current {
                if !name.isEmpty { names.append(name) }
                current = nil
            } else if current != nil {
                if character.isASCII, character.isLowercase || character == "_" {
                    current?.append(character)
                } else {
                    current = nil
                }
            }
        }
        return names
    }

    /// argv with the placeholders substituted.
    public static func substitute(_ command: [String], port: Int, tenant: String) -> [String] {
        command.map { $0.replacing("{port}", with: String(port)).replacing("{tenant}", with: tenant) }
    }
}
