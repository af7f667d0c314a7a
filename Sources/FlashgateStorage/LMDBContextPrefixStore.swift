import Dispatch
import FlashgateCore
import Logging
import Synchronization

/// Prefix statistics of automatic context caching in the non-durable cache environment (named
/// database `context_prefixes`): losing the last few in a crash only means the planner relearns
/// them. `record` queues; a drain on its own queue commits everything queued in one write
/// transaction, so no request path waits for LMDB. Failures are warnings.
///
/// Invariant: the latest queued value of a key wins; a lookup sees queued values before the disk.
package final class LMDBContextPrefixStore: ContextPrefixStore {
    private struct Pending {
        var stats: [CacheKey: ContextPrefixStats] = [:]
        /// The batch a drain is writing: off the queue, not yet on disk until its commit.
        var writing: [CacheKey: ContextPrefixStats] = [:]
        var scheduled = false
        var closed = false
    }

    private let env: StoreEnvironment
    private let db: StoreDatabase
    /// Cache name → owner (`context_cache_owners`).
    private let owners: StoreDatabase
    private let logger: Logger
    private let pending = Mutex(Pending())
    private let queue = DispatchQueue(label: "flashgate.context-prefixes")
    /// Runs inside each drain's write transaction, before it commits (tests).
    private let beforeCommit: (@Sendable () -> Void)?

    package init(env: StoreEnvironment, logger: Logger, beforeCommit: (@Sendable () -> Void)? = nil) throws {
        self.env = env
        self.db = try env.database("context_prefixes")
        self.owners = try env.database("context_cache_owners")
        self.logger = logger
        self.beforeCommit = beforeCommit
    }

    package func stats(_ key: CacheKey) -> ContextPrefixStats? {
        // The newest first: queued, then being written, then on disk.
        if let queued = pending.withLock({ $0.stats[key] ?? $0.writing[key] }) { return queued }
        do {
            return try env.read { txn in try txn.get(db, key: key.digest).flatMap(Self.decode) }
        } catch {
            logger.warning("could not read context-cache statistics", metadata: ["error": "\(error)"])
            return nil
        }
    }

    package func record(_ key: CacheKey, _ stats: ContextPrefixStats) {
        let schedule = pending.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.stats[key] = stats
            defer { state.scheduled = true }
            return !state.scheduled
        }
        if schedule { queue.async { self.drain() } }
    }

    package func flush() { queue.sync { self.drain() } }

    /// Writes what is queued and refuses more.
    package func close() {
        flush()
        pending.withLock { $0.closed = true }
    }

    private func drain() {
        while true {
            let batch = pending.withLock { state -> [CacheKey: ContextPrefixStats] in
                let batch = state.stats
                state.stats = [:]
                state.writing = batch
                if batch.isEmpty { state.scheduled = false }
                return batch
            }
            if batch.isEmpty { return }
            do {
                try env.write { txn in
                    for (key, stats) in batch { try txn.put(db, key: key.digest, value: Self.encode(stats)) }
                    beforeCommit?()
                }
            } catch {
                logger.warning(
                    "context-cache statistics dropped", metadata: ["prefixes": "\(batch.count)", "error": "\(error)"])
            }
            // Committed (or dropped): lookups read the disk from here.
            pending.withLock { $0.writing = [:] }
        }
    }

    package func recordOwner(_ owner: ContextCacheOwner, nowMs: Int64) {
        do {
            try env.write { txn in
                // Owners of caches that expired by now go first: the table holds live caches only.
                var expired: [[UInt8]] = []
                try txn.forEach(owners) { key, value in
                    if let expires = Self.ownerExpiry(Array(value)), expires <= nowMs { expired.append(Array(key)) }
                }
                for key in expired { try txn.delete(owners, key: key) }
                try txn.put(owners, key: Array(owner.name.utf8.prefix(511)), value: Self.encodeOwner(owner))
            }
        } catch {
            logger.warning("could not keep a context cache's owner", metadata: ["error": "\(error)"])
        }
    }

    package func owner(ofCache name: String) -> ContextCacheOwner? {
        do {
            return try env.read { txn in
                try txn.get(owners, key: Array(name.utf8.prefix(511))).flatMap { Self.decodeOwner(name: name, $0) }
            }
        } catch {
            logger.warning("could not read a context cache's owner", metadata: ["error": "\(error)"])
            return nil
        }
    }

    package func clientOwners(team: String, nowMs: Int64) -> [ContextCacheOwner] {
        do {
            return try env.read { txn in
                var found: [ContextCacheOwner] = []
                try txn.forEach(owners) { key, value in
                    let name = String(decoding: key, as: UTF8.self)
                    guard let owner = Self.decodeOwner(name: name, Array(value)), !owner.automatic,
                        owner.team == team, owner.expiresMs > nowMs
                    else { return }
                    found.append(owner)
                }
                return found
            }
        } catch {
            logger.warning("could not read context caches' owners", metadata: ["error": "\(error)"])
            return []
        }
    }

    /// Version 1: kind (1 automatic, 0 a client's), expiry ms big-endian, then the team's UTF-8.
    /// Version 2 (a placement): kind, expiry, key index and tokens big-endian, then the team,
    /// route, client model, priced model and caller key, each a 16-bit big-endian length and UTF-8.
    static func encodeOwner(_ owner: ContextCacheOwner) -> [UInt8] {
        guard let placement = owner.placement else {
            var bytes: [UInt8] = [1, owner.automatic ? 1 : 0]
            withUnsafeBytes(of: owner.expiresMs.bigEndian) { bytes += $0 }
            return bytes + Array(owner.team.utf8)
        }
        var bytes: [UInt8] = [2, owner.automatic ? 1 : 0]
        for value in [owner.expiresMs, Int64(placement.keyIndex), Int64(placement.tokens)] {
            withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
        }
        for text in [owner.team, placement.route, placement.clientModel, placement.pricedModel, placement.callerKey] {
            let utf8 = Array(text.utf8.prefix(Int(UInt16.max)))
            bytes += [UInt8(utf8.count >> 8), UInt8(utf8.count & 0xff)] + utf8
        }
        return bytes
    }

    static func decodeOwner(name: String, _ bytes: [UInt8]) -> ContextCacheOwner? {
        guard let expires = ownerExpiry(bytes) else { return nil }
        guard bytes[0] == 2 else {
            return ContextCacheOwner(
                name: name, team: String(decoding: bytes[10...], as: UTF8.self), automatic: bytes[1] == 1,
                expiresMs: expires)
        }
        guard bytes.count >= 26 else { return nil }
        func field(_ at: Int) -> Int64 { bytes[at..<(at + 8)].reduce(Int64(0)) { $0 << 8 | Int64($1) } }
        var texts: [String] = []
        var at = 26
        for _ in 0..<5 {
            guard at + 2 <= bytes.count else { return nil }
            let count = Int(bytes[at]) << 8 | Int(bytes[at + 1])
            guard at + 2 + count <= bytes.count else { return nil }
            texts.append(String(decoding: bytes[(at + 2)..<(at + 2 + count)], as: UTF8.self))
            at += 2 + count
        }
        let keyIndex = field(10), tokens = field(18)
        guard keyIndex >= 0, keyIndex <= Int32.max, tokens >= 0 else { return nil }
        return ContextCacheOwner(
            name: name, team: texts[0], automatic: bytes[1] == 1, expiresMs: expires,
            placement: .init(
                route: texts[1], keyIndex: Int(keyIndex), clientModel: texts[2], pricedModel: texts[3],
                tokens: Int(tokens), callerKey: texts[4]))
    }

    /// The expiry an owner record holds (nil: not a record this version reads).
    static func ownerExpiry(_ bytes: [UInt8]) -> Int64? {
        guard bytes.count >= 10, bytes[0] == 1 || bytes[0] == 2 else { return nil }
        return bytes[2..<10].reduce(Int64(0)) { $0 << 8 | Int64($1) }
    }

    /// Version 1: four big-endian 64-bit fields (reads, tokens, implicit ‰, last seen ms).
    static func encode(_ stats: ContextPrefixStats) -> [UInt8] {
        var bytes: [UInt8] = [1]
        for value in [stats.reads, Int64(stats.tokens), Int64(stats.implicitPermille), stats.lastSeenMs] {
            withUnsafeBytes(of: value.bigEndian) { bytes += $0 }
        }
        return bytes
    }

    static func decode(_ bytes: [UInt8]) -> ContextPrefixStats? {
        guard bytes.count == 33, bytes[0] == 1 else { return nil }
        func field(_ index: Int) -> Int64 {
            bytes[(1 + index * 8)..<(9 + index * 8)].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
        return ContextPrefixStats(
            reads: field(0), tokens: Int(field(1)), implicitPermille: Int(field(2)), lastSeenMs: field(3))
    }
}
