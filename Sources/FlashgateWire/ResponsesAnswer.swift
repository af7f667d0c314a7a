import FlashgateCore

/// How one Responses client wants its answer: the response id and time, the model as named,
/// streamed or not, the request fields the response echoes, and how to seal thought signatures
/// into reasoning items.
package struct ResponsesAnswer: Sendable {
    /// `resp_…`; item ids derive from it, so they are unique across turns.
    package var id: String
    /// Unix seconds.
    package var created: Int
    package var model: String
    package var stream: Bool
    package var echo: JSONObject
    /// Whether reasoning items show their `encrypted_content` (`include: [reasoning.encrypted_content]`).
    package var includeEncrypted: Bool
    /// Seals a Gemini thought signature for this caller (`SignatureSeal`).
    package var seal: @Sendable (String) -> String

    package init(
        id: String, created: Int, model: String, stream: Bool, echo: JSONObject, includeEncrypted: Bool,
        seal: @escaping @Sendable (String) -> String
    ) {
        self.id = id
        self.created = created
        self.model = model
        self.stream = stream
        self.echo = echo
        self.includeEncrypted = includeEncrypted
        self.seal = seal
    }
}

/// A finished Responses answer: the response object as its client got it, and the output items
/// with their sealed reasoning always included, for a stored conversation to continue from.
package struct ResponsesOutcome: Sendable {
    package var response: JSONValue
    package var items: [JSONValue]
    package var status: String
}
