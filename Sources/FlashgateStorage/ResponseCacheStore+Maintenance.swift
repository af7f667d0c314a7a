import Dispatch
import Logging

/// Sweeping, eviction and purging. Each runs as one write transaction that keeps the byte
/// total and both indexes consistent with `cache_entries`.
extension ResponseCacheStore {
    /// Thrown from a `forEach` body to stop a scan early.
    private struct StopScan: Error {}

    /// Deletes expired entries, then evicts the oldest-created entries until the stored bytes are
    /// at most `maxBytes`. Waits for queued writes first. Zeros (and a warning) on a store failure.
    @discardableResult
    package func sweep() -> (expired: Int, evicted: Int) {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return queue.sync {
            drain()
            return sweepNow()
        }
    }

    /// Deletes the entries that match every given filter: `team`, `model`, and created more than
    /// `olderThanMs` milliseconds ago. No filter deletes everything. Returns how many went.
    package func purge(team: String?, model: String?, olderThanMs: Int64?) throws -> Int {
        dispatchPrecondition(condition: .notOnQueue(queue))
        return try queue.sync {
            drain()
            return try purgeNow(team: team, model: model, olderThanMs: olderThanMs)
        }
    }

    /// `sweep` on the writer queue.
    func sweepNow() -> (expired: Int, evicted: Int) {
        do {
            return try env.write { txn in
                var totals = try CacheMeta.read(txn, meta)
                let cutoff = now()
                var expired: [[UInt8]] = []
                var stale: [[UInt8]] = []
                do {
                    try txn.forEach(byExpiry) { indexKey, _ in
                        guard let (expiresAtMs, key) = CacheIndexKey.split(indexKey) else {
                            stale.append(Array(indexKey))
                            return
                        }
                        if expiresAtMs > cutoff { throw StopScan() }
                        let live = try txn.withValue(entries, key: key) { value in
                            CacheRecord.header(value).map { $0.expiresAtMs == expiresAtMs } ?? true
                        }
                        if live == true { expired.append(key) } else { stale.append(Array(indexKey)) }
                    }
                } catch is StopScan {}
                for indexKey in stale { try txn.delete(byExpiry, key: indexKey) }
                for key in expired { totals.bytes -= Int64(try removeEntry(txn, key) ?? 0) }
                var evicted = 0
                if totals.bytes > maxBytes {
                    let result = try evictOldest(txn, toFree: Int(totals.bytes) - maxBytes)
                    totals.bytes -= Int64(result.bytes)
                    evicted = result.count
                }
                try totals.write(txn, meta)
                return (expired.count, evicted)
            }
        } catch {
            logger.warning("response cache sweep failed", metadata: ["error": "\(error)"])
            return (0, 0)
        }
    }

    private func purgeNow(team: String?, model: String?, olderThanMs: Int64?) throws -> Int {
        try env.write { txn in
            var totals = try CacheMeta.read(txn, meta)
            func matches(_ header: CacheRecord.Header) -> Bool {
                (team == nil || header.team == team) && (model == nil || header.model == model)
            }
            var victims: [[UInt8]] = []
            if let olderThanMs {
                let cutoff = now() - olderThanMs
                do {
                    try txn.forEach(byTime) { indexKey, _ in
                        guard let (createdAtMs, key) = CacheIndexKey.split(indexKey) else { return }
                        if createdAtMs >= cutoff { throw StopScan() }
                        let match = try txn.withValue(entries, key: key) { value in
                            CacheRecord.header(value).map { $0.createdAtMs == createdAtMs && matches($0) } ?? false
                        }
                        if match == true { victims.append(key) }
                    }
                } catch is StopScan {}
            } else {
                try txn.forEach(entries) { key, value in
                    if let header = CacheRecord.header(value) {
                        if matches(header) { victims.append(Array(key)) }
                    } else if team == nil && model == nil {
                        victims.append(Array(key))
                    }
                }
            }
            for key in victims { totals.bytes -= Int64(try removeEntry(txn, key) ?? 0) }
            try totals.write(txn, meta)
            return victims.count
        }
    }

    /// Removes `key`'s entry and its index rows; returns the value's size, or nil when absent. A
    /// damaged header leaves its index rows behind, which scans drop as stale.
    func removeEntry(_ txn: borrowing WriteTransaction, _ key: [UInt8]) throws -> Int? {
        let found = try txn.withValue(entries, key: key) { value in
            (value.count, CacheRecord.header(value).map { ($0.createdAtMs, $0.expiresAtMs) })
        }
        guard let (size, times) = found else { return nil }
        try txn.delete(entries, key: key)
        if let (createdAtMs, expiresAtMs) = times {
            try txn.delete(byTime, key: CacheIndexKey.make(createdAtMs, key))
            try txn.delete(byExpiry, key: CacheIndexKey.make(expiresAtMs, key))
        }
        return size
    }

    /// Deletes the oldest-created entries until at least `toFree` bytes are gone (or nothing is
    /// left), dropping stale index rows on the way. Entries whose header is damaged go too.
    func evictOldest(_ txn: borrowing WriteTransaction, toFree: Int) throws -> (count: Int, bytes: Int) {
        guard toFree > 0 else { return (0, 0) }
        var victims: [[UInt8]] = []
        var stale: [[UInt8]] = []
        var planned = 0
        do {
            try txn.forEach(byTime) { indexKey, _ in
                if planned >= toFree { throw StopScan() }
                guard let (createdAtMs, key) = CacheIndexKey.split(indexKey) else {
                    stale.append(Array(indexKey))
                    return
                }
                let size = try txn.withValue(entries, key: key) { value -> Int? in
                    let sameEntry = CacheRecord.header(value).map { $0.createdAtMs == createdAtMs } ?? true
                    return sameEntry ? value.count : nil
                }
                if let size = size ?? nil {
                    victims.append(key)
                    planned += size
                } else {
                    stale.append(Array(indexKey))
                }
            }
        } catch is StopScan {}
        for indexKey in stale { try txn.delete(byTime, key: indexKey) }
        var freed = 0
        for key in victims { freed += try removeEntry(txn, key) ?? 0 }
        if !victims.isEmpty {
            logger.debug("response cache evicted", metadata: ["entries": "\(victims.count)", "bytes": "\(freed)"])
        }
        return (victims.count, freed)
    }
}
