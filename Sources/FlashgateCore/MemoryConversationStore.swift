import Synchronization

/// A `ConversationStore` in memory: for tests, and the fallback when the on-disk store cannot be
/// opened (conversations then last until a restart).
package final class MemoryConversationStore: ConversationStore {
    private let entries = Mutex<[String: StoredConversation]>([:])

    package init() {}

    package func save(team: String, id: String, _ conversation: StoredConversation, nowMs: Int64) {
        entries.withLock { entries in
            entries = entries.filter { $0.value.expiresAtMs > nowMs }
            entries["\(team)\u{0}\(id)"] = conversation
        }
    }

    package func load(team: String, id: String, nowMs: Int64) -> StoredConversation? {
        entries.withLock { entries in
            guard let found = entries["\(team)\u{0}\(id)"], found.expiresAtMs > nowMs else { return nil }
            return found
        }
    }

    package func storedBytes(team: String) -> Int {
        entries.withLock { entries in
            entries.filter { $0.key.hasPrefix("\(team)\u{0}") }.reduce(0) { $0 + $1.value.encoded.count }
        }
    }

    package func delete(team: String, id: String, nowMs: Int64) -> Bool {
        entries.withLock { entries in
            guard let found = entries.removeValue(forKey: "\(team)\u{0}\(id)") else { return false }
            return found.expiresAtMs > nowMs
        }
    }
}
