import Synchronization

/// A `ConversationStore` in memory: for tests, and the fallback when the on-disk store cannot be
/// opened (conversations then last until a restart).
package final class MemoryConversationStore: ConversationStore {
    /// Each entry with the size of its stored form, measured once when it is saved.
    private let entries = Mutex<[String: (conversation: StoredConversation, bytes: Int)]>([:])

    package init() {}

    package func save(team: String, id: String, _ conversation: StoredConversation, nowMs: Int64) {
        let bytes = conversation.encoded.count
        entries.withLock { entries in
            entries = entries.filter { $0.value.conversation.expiresAtMs > nowMs }
            entries["\(team)\u{0}\(id)"] = (conversation, bytes)
        }
    }

    package func load(team: String, id: String, nowMs: Int64) -> StoredConversation? {
        entries.withLock { entries in
            guard let found = entries["\(team)\u{0}\(id)"]?.conversation, found.expiresAtMs > nowMs else { return nil }
            return found
        }
    }

    package func storedBytes(team: String) -> Int {
        let prefix = "\(team)\u{0}"
        return entries.withLock { entries in
            entries.reduce(0) { $0 + ($1.key.hasPrefix(prefix) ? $1.value.bytes : 0) }
        }
    }

    package func delete(team: String, id: String, nowMs: Int64) -> Bool {
        entries.withLock { entries in
            guard let found = entries.removeValue(forKey: "\(team)\u{0}\(id)") else { return false }
            return found.conversation.expiresAtMs > nowMs
        }
    }
}
