/// A thought signature Flashgate returned with a tool call, and the route that issued it.
package struct StoredSignature: Sendable, Equatable {
    /// Who issued it: `SignatureOrigins.origin(route:model:)`, or a route name alone when it was
    /// kept before models were (`SignatureOrigins.matches` reads both).
    package var route: String
    package var signature: String

    package init(route: String, signature: String) {
        self.route = route
        self.signature = signature
    }
}

/// Keeps Gemini 3 thought signatures by team and tool-call id, so they can be put back when a
/// client sends the history without them. Reads and writes are quick and synchronous.
package protocol SignatureStore: Sendable {
    func save(team: String, route: String, signatures: [(toolCallID: String, signature: String)])
    func lookup(team: String, toolCallID: String) -> StoredSignature?
}
