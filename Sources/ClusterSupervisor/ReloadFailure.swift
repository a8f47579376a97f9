/// A reload that was refused, with every error of the file.
public struct ReloadFailure: Error, Sendable {
    public var message: String
    public var details: [String]
}
