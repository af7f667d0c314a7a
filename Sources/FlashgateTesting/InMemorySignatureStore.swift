import FlashgateCore
import NIOConcurrencyHelpers

/// A `SignatureStore` in memory, for tests.
package final class InMemorySignatureStore: SignatureStore {
    private let entries = NIOLockedValueBox<[String: StoredSignature]>([:])

    package init() {}

    package func save(team: String, route: String, signatures: [(toolCallID: String, signature: String)]) {
        entries.withLockedValue { entries in
            for item in signatures {
                entries["\(team)\u{0}\(item.toolCallID)"] = StoredSignature(route: route, signature: item.signature)
            }
        }
    }

    package func lookup(team: String, toolCallID: String) -> StoredSignature? {
        entries.withLockedValue { $0["\(team)\u{0}\(toolCallID)"] }
    }

    package var count: Int { entries.withLockedValue { $0.count } }
}
