import FlashgateCore
import Foundation
import Logging
import Testing

@testable import FlashgateStorage

/// Stored Responses conversations in real LMDB: per team, until their TTL, swept when expired.
@Suite struct ConversationStoreTests {
    let tmp = TemporaryDirectory("responses")

    func conversation(_ text: String, expiresAtMs: Int64) -> StoredConversation {
        StoredConversation(
            response: ["id": "resp_1", "output_text": .string(text)],
            items: [["type": "message", "content": .string(text)]],
            expiresAtMs: expiresAtMs)
    }

    @Test func teamsSeeOnlyTheirOwnUntilTheTTL() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        store.save(team: "a", id: "resp_1", conversation("hi", expiresAtMs: 2_000), nowMs: 1_000)
        #expect(store.load(team: "a", id: "resp_1", nowMs: 1_500) == conversation("hi", expiresAtMs: 2_000))
        #expect(store.load(team: "b", id: "resp_1", nowMs: 1_500) == nil)
        #expect(!store.delete(team: "b", id: "resp_1", nowMs: 1_500))
        #expect(store.load(team: "a", id: "resp_1", nowMs: 2_000) == nil)  // expired
        #expect(store.delete(team: "a", id: "resp_1", nowMs: 1_500))
        #expect(store.load(team: "a", id: "resp_1", nowMs: 1_500) == nil)
    }

    @Test func sweepDropsExpiredEntries() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        store.save(team: "a", id: "old", conversation("old", expiresAtMs: 100), nowMs: 0)
        store.save(team: "a", id: "new", conversation("new", expiresAtMs: 10_000), nowMs: 0)
        store.sweep(nowMs: 5_000)
        let db = try env.database("responses")
        #expect(try env.read { try $0.count(db) } == 1)
        #expect(store.load(team: "a", id: "new", nowMs: 5_000) != nil)
    }
}
