import FlashgateCore
import Logging
import Synchronization

/// Stored Responses conversations in the cache environment, keyed by team and response id. Like
/// the cache, it may lose the last few writes in a crash (the environment never waits for a disk
/// flush); a client then gets a 404 for that id. Expired entries are dropped on read and swept (in
/// the background) every `sweepEvery` saves, so the databases stay bounded by the TTL.
/// A store that fails degrades to "not found" with a warning; it never fails a request.
///
/// Each entry (`responses`) holds its response and the digests of its items; each distinct item
/// of a team is kept once (`response_items`, by team and SHA-256) with a count of the entries that
/// name it (`response_item_refs`). A chain continued with `previous_response_id` repeats its whole
/// history in every entry; stored whole, a chain of n turns took n²/2 items' bytes, and a long
/// agent loop met the team's cap in a few hundred turns. Now it takes each item's bytes once, plus
/// 66 bytes an item an entry for its digest.
///
/// Invariants: an item is kept while an entry names it and removed with the last one, in the same
/// transaction; a team's byte count (`responses_bytes`: its entries' and its items' stored bytes)
/// changes in the same transactions, so it survives restarts and never drifts from them. Entries
/// written before items were shared (their items inline) are read, counted and removed as before.
package final class LMDBConversationStore: ConversationStore {
    private let env: StoreEnvironment
    private let db: StoreDatabase
    private let items: StoreDatabase
    private let refs: StoreDatabase
    private let bytes: StoreDatabase
    private let logger: Logger
    private let saves = Atomic<Int>(0)
    static let sweepEvery = 256

    package init(env: StoreEnvironment, logger: Logger) throws {
        self.env = env
        self.db = try env.database("responses")
        self.items = try env.database("response_items")
        self.refs = try env.database("response_item_refs")
        self.bytes = try env.database("responses_bytes")
        self.logger = logger
    }

    private func key(_ team: String, _ id: String) -> [UInt8] { Array("\(team)\u{0}\(id)".utf8) }

    private func itemKey(_ team: String, _ digest: [UInt8]) -> [UInt8] { Array(team.utf8) + [0] + digest }

    /// Adds `delta` to `team`'s byte count inside `txn`.
    private func count(_ delta: Int, team: String, in txn: borrowing WriteTransaction) throws {
        guard delta != 0 else { return }
        let key = Array(team.utf8)
        let old = try txn.get(bytes, key: key).map(Self.int) ?? 0
        let new = max(0, old + delta)
        if new == 0 {
            try txn.delete(bytes, key: key)
        } else {
            try txn.put(bytes, key: key, value: Self.bytes(of: new))
        }
    }

    private static func int(_ bytes: [UInt8]) -> Int {
        bytes.prefix(8).reduce(0) { $0 << 8 | Int($1) }
    }

    private static func bytes(of value: Int) -> [UInt8] {
        withUnsafeBytes(of: Int64(value).bigEndian) { Array($0) }
    }

    package func storedBytes(team: String) -> Int {
        (try? env.read { txn in try txn.get(bytes, key: Array(team.utf8)).map(Self.int) ?? 0 }) ?? 0
    }

    /// One more entry names the item: stored now if it is new. Returns the bytes it added.
    private func retain(
        _ digest: [UInt8], encoded: [UInt8], team: String, in txn: borrowing WriteTransaction
    ) throws -> Int {
        let key = itemKey(team, digest)
        if let held = try txn.get(refs, key: key) {
            try txn.put(refs, key: key, value: Self.bytes(of: Self.int(held) + 1))
            return 0
        }
        try txn.put(items, key: key, value: encoded)
        try txn.put(refs, key: key, value: Self.bytes(of: 1))
        return encoded.count
    }

    /// One entry fewer names the item: removed with the last. Returns the bytes it freed.
    private func release(_ digest: [UInt8], team: String, in txn: borrowing WriteTransaction) throws -> Int {
        let key = itemKey(team, digest)
        guard let held = try txn.get(refs, key: key) else { return 0 }
        let remaining = Self.int(held) - 1
        if remaining > 0 {
            try txn.put(refs, key: key, value: Self.bytes(of: remaining))
            return 0
        }
        try txn.delete(refs, key: key)
        let freed = try txn.get(items, key: key)?.count ?? 0
        try txn.delete(items, key: key)
        return freed
    }

    /// Removes the entry at `key` (already read as `old`) and what only it named; returns the bytes freed.
    private func remove(_ key: [UInt8], old: [UInt8], team: String, in txn: borrowing WriteTransaction) throws -> Int {
        try txn.delete(db, key: key)
        var freed = old.count
        for digest in Entry.digests(in: old) { freed += try release(digest, team: team, in: txn) }
        return freed
    }

    package func save(team: String, id: String, _ conversation: StoredConversation, nowMs: Int64) {
        do {
            let encodedItems = conversation.items.map { JSONWriter.encode($0) }
            let digests = encodedItems.map(StoredConversation.digest)
            let entry = Entry.encode(conversation, digests: digests)
            try env.write { txn in
                let key = key(team, id)
                var delta = entry.count
                // The new entry's items first, so an item it shares with the one it replaces is kept.
                for (digest, encoded) in zip(digests, encodedItems) {
                    delta += try retain(digest, encoded: encoded, team: team, in: txn)
                }
                if let replaced = try txn.get(db, key: key) {
                    delta -= try remove(key, old: replaced, team: team, in: txn)
                }
                try txn.put(db, key: key, value: entry)
                try count(delta, team: team, in: txn)
            }
        } catch {
            logger.warning("could not store a response", metadata: ["error": "\(error)"])
        }
        // The sweep reads the whole database: off the caller's thread (often an event loop).
        if saves.wrappingAdd(1, ordering: .relaxed).newValue % Self.sweepEvery == 0 {
            Task.detached(priority: .background) { [self] in sweep(nowMs: nowMs) }
        }
    }

    package func load(team: String, id: String, nowMs: Int64) -> StoredConversation? {
        do {
            let found = try env.read { txn -> StoredConversation? in
                guard let entry = try txn.withValue(db, key: key(team, id), { Entry(decoding: $0) }) ?? nil,
                    entry.expiresAtMs > nowMs
                else { return nil }
                if let inline = entry.inlineItems {
                    return StoredConversation(response: entry.response, items: inline, expiresAtMs: entry.expiresAtMs)
                }
                var loaded: [JSONValue] = []
                loaded.reserveCapacity(entry.digests.count)
                for digest in entry.digests {
                    guard let item = try txn.withValue(items, key: itemKey(team, digest), { try? JSONParser.parse(Array($0)) }) ?? nil
                    else {
                        logger.warning("a stored response names an item the store does not have")
                        return nil
                    }
                    loaded.append(item)
                }
                return StoredConversation(response: entry.response, items: loaded, expiresAtMs: entry.expiresAtMs)
            }
            return found
        } catch {
            logger.warning("could not read a stored response", metadata: ["error": "\(error)"])
            return nil
        }
    }

    package func delete(team: String, id: String, nowMs: Int64) -> Bool {
        var live = false
        do {
            try env.write { txn in
                let key = key(team, id)
                guard let old = try txn.get(db, key: key) else { return }
                live = (Entry(decoding: old)?.expiresAtMs ?? 0) > nowMs
                try count(-(try remove(key, old: old, team: team, in: txn)), team: team, in: txn)
            }
        } catch {
            logger.warning("could not delete a stored response", metadata: ["error": "\(error)"])
            return false
        }
        return live
    }

    /// Deletes every expired entry, and the items only they named.
    package func sweep(nowMs: Int64) {
        do {
            let expired: [[UInt8]] = try env.read { txn in
                var keys: [[UInt8]] = []
                try txn.forEach(db) { key, value in
                    if let entry = Entry(decoding: value), entry.expiresAtMs > nowMs { return }
                    keys.append(Array(key))
                }
                return keys
            }
            guard !expired.isEmpty else { return }
            try env.write { txn in
                for key in expired {
                    guard let old = try txn.get(db, key: key) else { continue }
                    // Saved again since it was read, with a new expiry: kept.
                    if let entry = Entry(decoding: old), entry.expiresAtMs > nowMs { continue }
                    let team = String(decoding: key.prefix { $0 != 0 }, as: UTF8.self)
                    try count(-(try remove(key, old: old, team: team, in: txn)), team: team, in: txn)
                }
            }
        } catch {
            logger.warning("could not sweep stored responses", metadata: ["error": "\(error)"])
        }
    }

    /// The stored form of an entry: `{"expires_at_ms", "response", "item_digests": [hex…]}`; an
    /// entry written before items were shared has `"items"` inline instead.
    struct Entry {
        var response: JSONValue
        var expiresAtMs: Int64
        var digests: [[UInt8]]
        var inlineItems: [JSONValue]?

        static func encode(_ conversation: StoredConversation, digests: [[UInt8]]) -> [UInt8] {
            JSONWriter.encode([
                "expires_at_ms": JSONValue(Int(conversation.expiresAtMs)), "response": conversation.response,
                "item_digests": .array(digests.map { .string(Hex.encode($0)) }),
            ])
        }

        init?(decoding bytes: some Collection<UInt8>) {
            guard let value = try? JSONParser.parse(Array(bytes)), let expires = value["expires_at_ms"]?.intValue,
                let response = value["response"]
            else { return nil }
            self.response = response
            self.expiresAtMs = Int64(expires)
            if let inline = value["items"]?.arrayValue {
                inlineItems = inline
                digests = []
            } else {
                guard let listed = value["item_digests"]?.arrayValue else { return nil }
                digests = listed.compactMap { $0.stringValue.flatMap(Hex.decode) }
                guard digests.count == listed.count else { return nil }
            }
        }

        /// The items an entry's stored form names (none for an entry with its items inline).
        static func digests(in bytes: [UInt8]) -> [[UInt8]] {
            Entry(decoding: bytes)?.digests ?? []
        }
    }
}
