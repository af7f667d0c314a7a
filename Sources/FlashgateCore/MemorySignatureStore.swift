import Synchronization

/// A `SignatureStore` in memory: for tests, and the fallback when the on-disk store cannot be
/// opened (signatures then last until a restart).
package final class MemorySignatureStore: SignatureStore {
    private let entries = Mutex<[String: StoredSignature]>([:])

    package init() {}

    package func save(team: String, route: String, signatures: [(toolCallID: String, signature: String)]) {
        entries.withLock { entries in
            for item in signatures {
                entries["\(team)\u{0}\(item.toolCallID)"] = StoredSignature(route: route, signature: item.signature)
            }
        }
    }

    package func lookup(team: String, toolCallID: String) -> StoredSignature? {
        entries.withLock { $0["\(team)\u{0}\(toolCallID)"] }
    }

    package var count: Int { entries.withLock { $0.count } }
}
