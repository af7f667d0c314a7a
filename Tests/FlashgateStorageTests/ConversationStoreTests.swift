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

    /// Each team's bytes are counted with its entries, in the same transactions: saves, an
    /// overwrite, a delete and the sweep keep the count equal to what the entries take, and it
    /// outlives the environment.
    @Test func eachTeamsBytesAreCountedWithItsEntries() throws {
        let a1 = conversation(String(repeating: "x", count: 1_000), expiresAtMs: 2_000)
        let a2 = conversation("short", expiresAtMs: 9_000)
        do {
            let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
            defer { env.close() }
            let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
            store.save(team: "a", id: "resp_1", a1, nowMs: 1_000)
            store.save(team: "a", id: "resp_2", a1, nowMs: 1_000)
            store.save(team: "b", id: "resp_1", a2, nowMs: 1_000)
            #expect(store.storedBytes(team: "a") == 2 * a1.encoded.count)
            store.save(team: "a", id: "resp_2", a2, nowMs: 1_000)  // replaced
            #expect(store.storedBytes(team: "a") == a1.encoded.count + a2.encoded.count)
            #expect(store.storedBytes(team: "b") == a2.encoded.count)
        }
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        #expect(store.storedBytes(team: "a") == a1.encoded.count + a2.encoded.count)
        store.sweep(nowMs: 3_000)  // resp_1 of a expired at 2,000
        #expect(store.storedBytes(team: "a") == a2.encoded.count)
        #expect(store.delete(team: "a", id: "resp_2", nowMs: 3_000))
        #expect(store.storedBytes(team: "a") == 0)
        #expect(store.storedBytes(team: "b") == a2.encoded.count)
        #expect(store.storedBytes(team: "nobody") == 0)
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
