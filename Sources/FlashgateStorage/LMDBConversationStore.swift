import FlashgateCore
import Logging
import Synchronization

/// Stored Responses conversations in the cache environment's `responses` database, keyed by team
/// and response id. Like the cache, it may lose the last few writes in a crash (the environment
/// never waits for a disk flush); a client then gets a 404 for that id. Expired entries are
/// dropped on read and swept (in the background) every `sweepEvery` saves, so the database stays
/// bounded by the TTL.
/// A store that fails degrades to "not found" with a warning; it never fails a request.
package final class LMDBConversationStore: ConversationStore {
    private let env: StoreEnvironment
    private let db: StoreDatabase
    /// Team → the bytes its entries take (`responses_bytes`), kept in the same transactions as
    /// the entries, so it survives restarts and never drifts from them.
    private let bytes: StoreDatabase
    private let logger: Logger
    private let saves = Atomic<Int>(0)
    static let sweepEvery = 256

    package init(env: StoreEnvironment, logger: Logger) throws {
        self.env = env
        self.db = try env.database("responses")
        self.bytes = try env.database("responses_bytes")
        self.logger = logger
    }

    private func key(_ team: String, _ id: String) -> [UInt8] { Array("\(team)\u{0}\(id)".utf8) }

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

    package func save(team: String, id: String, _ conversation: StoredConversation, nowMs: Int64) {
        do {
            let encoded = conversation.encoded
            try env.write { txn in
                let key = key(team, id)
                let replaced = try txn.get(db, key: key)?.count ?? 0
                try txn.put(db, key: key, value: encoded)
                try count(encoded.count - replaced, team: team, in: txn)
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
            let found = try env.read { txn in
                try txn.withValue(db, key: key(team, id)) { StoredConversation(decoding: $0) } ?? nil
            }
            return found.flatMap { $0.expiresAtMs > nowMs ? $0 : nil }
        } catch {
            logger.warning("could not read a stored response", metadata: ["error": "\(error)"])
            return nil
        }
    }

    package func delete(team: String, id: String, nowMs: Int64) -> Bool {
        let live = load(team: team, id: id, nowMs: nowMs) != nil
        do {
            try env.write { txn in
                let key = key(team, id)
                guard let old = try txn.get(db, key: key) else { return }
                try txn.delete(db, key: key)
                try count(-old.count, team: team, in: txn)
            }
        } catch {
            logger.warning("could not delete a stored response", metadata: ["error": "\(error)"])
            return false
        }
        return live
    }

    /// Deletes every expired entry.
    package func sweep(nowMs: Int64) {
        do {
            let expired: [[UInt8]] = try env.read { txn in
                var keys: [[UInt8]] = []
                try txn.forEach(db) { key, value in
                    if let stored = StoredConversation(decoding: value), stored.expiresAtMs > nowMs { return }
                    keys.append(Array(key))
                }
                return keys
            }
            guard !expired.isEmpty else { return }
            try env.write { txn in
                for key in expired {
                    guard let old = try txn.get(db, key: key) else { continue }
                    try txn.delete(db, key: key)
                    let team = String(decoding: key.prefix { $0 != 0 }, as: UTF8.self)
                    try count(-old.count, team: team, in: txn)
                }
            }
        } catch {
            logger.warning("could not sweep stored responses", metadata: ["error": "\(error)"])
        }
    }
}
