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

    /// What `team`'s entries and items take in the databases, counted from them.
    func measured(_ env: StoreEnvironment, team: String) throws -> Int {
        let prefix = Array(team.utf8) + [0]
        var total = 0
        for name in ["responses", "response_items"] {
            let db = try env.database(name)
            try env.read { txn in
                try txn.forEach(db) { key, value in
                    if key.count > prefix.count, Array(key.prefix(prefix.count)) == prefix { total += value.count }
                }
            }
        }
        return total
    }

    /// Each team's bytes are counted with its entries and items, in the same transactions: saves,
    /// an overwrite, a delete and the sweep keep the count equal to what they take, and it
    /// outlives the environment.
    @Test func eachTeamsBytesAreCountedWithItsEntries() throws {
        let a1 = conversation(String(repeating: "x", count: 1_000), expiresAtMs: 2_000)
        let a2 = conversation("short", expiresAtMs: 9_000)
        do {
            let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
            defer { env.close() }
            let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
            store.save(team: "a", id: "resp_1", a1, nowMs: 1_000)
            let one = store.storedBytes(team: "a")
            #expect(one == (try measured(env, team: "a")) && one > 1_000)
            store.save(team: "a", id: "resp_2", a1, nowMs: 1_000)
            // The second entry names the same item: its 1,000 bytes are kept once.
            #expect(store.storedBytes(team: "a") < 2 * one - 900)
            store.save(team: "b", id: "resp_1", a2, nowMs: 1_000)
            store.save(team: "a", id: "resp_2", a2, nowMs: 1_000)  // replaced
            for team in ["a", "b"] { #expect(store.storedBytes(team: team) == (try measured(env, team: team))) }
        }
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        #expect(store.storedBytes(team: "a") == (try measured(env, team: "a")))
        store.sweep(nowMs: 3_000)  // resp_1 of a expired at 2,000
        #expect(store.storedBytes(team: "a") == (try measured(env, team: "a")))
        #expect(store.load(team: "a", id: "resp_2", nowMs: 3_000) == a2)
        #expect(store.delete(team: "a", id: "resp_2", nowMs: 3_000))
        #expect(store.storedBytes(team: "a") == 0)
        #expect(try measured(env, team: "a") == 0)
        #expect(store.storedBytes(team: "b") == (try measured(env, team: "b")) && store.storedBytes(team: "b") > 0)
        #expect(store.storedBytes(team: "nobody") == 0)
    }

    /// A chain continued with `previous_response_id` repeats its history in every entry. Each
    /// item is kept once, so 200 turns of 2 KB take about 200 × 2 KB plus the digests, not
    /// 200²/2 × 2 KB (40 MB, which met the team's cap within a few hundred turns); every turn
    /// still loads its whole history, and deleting turns frees only what no other turn names.
    @Test func aChainKeepsEachItemOnce() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 256 << 20, durable: false)
        defer { env.close() }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        var history: [JSONValue] = []
        for turn in 0..<200 {
            history.append(["type": "message", "role": "user", "content": .string("\(turn) " + String(repeating: "q", count: 1_000))])
            history.append(["type": "message", "role": "assistant", "content": .string("\(turn) " + String(repeating: "a", count: 1_000))])
            let stored = StoredConversation(response: ["id": .string("resp_\(turn)")], items: history, expiresAtMs: 10_000)
            store.save(team: "a", id: "resp_\(turn)", stored, nowMs: 0)
        }
        let total = store.storedBytes(team: "a")
        #expect(total == (try measured(env, team: "a")))
        #expect(total < 400 * 1_100 + 200 * 200 * 70, "\(total) bytes")
        #expect(store.load(team: "a", id: "resp_199", nowMs: 1)?.items == history)
        #expect(store.load(team: "a", id: "resp_50", nowMs: 1)?.items == Array(history.prefix(102)))
        // The last turn gone: only its own two items go with it.
        #expect(store.delete(team: "a", id: "resp_199", nowMs: 1))
        #expect(store.load(team: "a", id: "resp_198", nowMs: 1)?.items == Array(history.prefix(398)))
        #expect(store.storedBytes(team: "a") == (try measured(env, team: "a")))
        // An early turn gone: the later ones still hold its items.
        #expect(store.delete(team: "a", id: "resp_0", nowMs: 1))
        #expect(store.load(team: "a", id: "resp_198", nowMs: 1)?.items == Array(history.prefix(398)))
        for turn in 1..<199 { #expect(store.delete(team: "a", id: "resp_\(turn)", nowMs: 1)) }
        #expect(store.storedBytes(team: "a") == 0)
        #expect(try measured(env, team: "a") == 0)
        #expect(try env.read { try $0.count(try env.database("response_item_refs")) } == 0)
    }

    /// An entry written before items were shared (its items inline) is read, counted and
    /// removed as before.
    @Test func anEntryWithItsItemsInlineIsStillRead() throws {
        let env = try StoreEnvironment.open(directory: tmp.path, maxSizeBytes: 16 << 20, durable: false)
        defer { env.close() }
        let old = conversation("from before", expiresAtMs: 9_000)
        let responses = try env.database("responses")
        let bytes = try env.database("responses_bytes")
        try env.write { txn in
            try txn.put(responses, key: Array("a\u{0}resp_old".utf8), value: old.encoded)
            try txn.put(bytes, key: Array("a".utf8), value: withUnsafeBytes(of: Int64(old.encoded.count).bigEndian) { Array($0) })
        }
        let store = try LMDBConversationStore(env: env, logger: Logger(label: "test"))
        #expect(store.load(team: "a", id: "resp_old", nowMs: 1) == old)
        #expect(store.storedBytes(team: "a") == old.encoded.count)
        #expect(store.delete(team: "a", id: "resp_old", nowMs: 1))
        #expect(store.storedBytes(team: "a") == 0)
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
