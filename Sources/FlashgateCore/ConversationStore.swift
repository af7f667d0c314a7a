import Crypto

/// One stored OpenAI Responses answer: the response as its client saw it (for
/// `GET /v1/responses/{id}`), and every item needed to continue it (`previous_response_id`): the
/// input items it answered, history included, then its own output items with their sealed
/// reasoning.
package struct StoredConversation: Sendable, Equatable {
    package var response: JSONValue
    package var items: [JSONValue]
    package var expiresAtMs: Int64

    package init(response: JSONValue, items: [JSONValue], expiresAtMs: Int64) {
        self.response = response
        self.items = items
        self.expiresAtMs = expiresAtMs
    }

    /// The stored form: one JSON object.
    package var encoded: [UInt8] {
        JSONWriter.encode(
            ["expires_at_ms": JSONValue(Int(expiresAtMs)), "response": response, "items": .array(items)])
    }

    /// The SHA-256 of an item's stored form: the on-disk store keeps each distinct item once,
    /// under this digest, and entries name their items by it.
    package static func digest(_ encodedItem: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: encodedItem))
    }

    package init?(decoding bytes: some Collection<UInt8>) {
        guard let value = try? JSONParser.parse(Array(bytes)), let expires = value["expires_at_ms"]?.intValue,
            let response = value["response"], let items = value["items"]?.arrayValue
        else { return nil }
        self.init(response: response, items: items, expiresAtMs: Int64(expires))
    }
}

/// Keeps Responses answers stored with `store: true`, per team and response id, until their TTL.
///
/// Invariant: a team reads and deletes only its own entries (the team is part of every key), and
/// an entry past its expiry is never returned.
package protocol ConversationStore: Sendable {
    func save(team: String, id: String, _ conversation: StoredConversation, nowMs: Int64)
    func load(team: String, id: String, nowMs: Int64) -> StoredConversation?
    /// Whether an entry (unexpired) was there to delete.
    func delete(team: String, id: String, nowMs: Int64) -> Bool
    /// The bytes `team`'s stored entries take (expired ones until they are swept).
    func storedBytes(team: String) -> Int
}
