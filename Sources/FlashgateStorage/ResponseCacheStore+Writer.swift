import Dispatch
import Logging

/// The writer half: everything queued is compressed and committed on `queue`, many ops per
/// write transaction. Failures drop writes with a warning; they never reach a caller.
extension ResponseCacheStore {
    /// Ops per write transaction: large enough to amortise the commit, small enough to keep the
    /// transaction's dirty pages modest.
    static let opsPerTransaction = 512

    /// A queued op, ready to commit (the body compressed).
    enum PreparedWrite {
        case put(key: [UInt8], value: [UInt8], createdAtMs: Int64, expiresAtMs: Int64)
        case deleteIfUnchanged(key: [UInt8], ValueFingerprint)
    }

    func enqueue(_ op: CacheWriteOp) {
        let schedule = backlog.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.ops.append(op)
            defer { state.drainScheduled = true }
            return !state.drainScheduled
        }
        if schedule { queue.async { self.drain() } }
    }

    /// Writes everything queued, then the counters. Runs on `queue`.
    func drain() {
        while true {
            let ops = backlog.withLock { state -> [CacheWriteOp] in
                let ops = state.ops
                state.ops = []
                if ops.isEmpty { state.drainScheduled = false }
                return ops
            }
            if ops.isEmpty { break }
            var start = 0
            while start < ops.count {
                let end = min(start + Self.opsPerTransaction, ops.count)
                apply(ops[start..<end])
                start = end
            }
        }
        persistCounters()
    }

    private func apply(_ ops: ArraySlice<CacheWriteOp>) {
        var writes: [PreparedWrite] = []
        writes.reserveCapacity(ops.count)
        var putBytes = 0
        for op in ops {
            switch op {
            case .put(let key, let entry):
                guard let value = CacheRecord.encode(entry) else {
                    logger.debug("response cache entry not representable; not stored")
                    continue
                }
                guard value.count <= maxBytes else {
                    logger.debug("response cache entry larger than the cache; not stored", metadata: ["bytes": "\(value.count)"])
                    continue
                }
                putBytes += value.count
                writes.append(.put(key: key, value: value, createdAtMs: entry.createdAtMs, expiresAtMs: entry.expiresAtMs))
            case .deleteIfUnchanged(let key, let fingerprint):
                writes.append(.deleteIfUnchanged(key: key, fingerprint))
            }
        }
        guard !writes.isEmpty else { return }
        do {
            try commit(writes)
        } catch let error as StoreError where error.isMapFull {
            // The file reached its map size before `maxBytes`: make room once, then give up.
            logger.warning("response cache file is full; evicting to make room", metadata: ["error": "\(error)"])
            makeRoom(bytes: putBytes)
            do {
                try commit(writes)
            } catch {
                logger.warning(
                    "response cache writes dropped", metadata: ["ops": "\(writes.count)", "error": "\(error)"])
            }
        } catch {
            logger.warning("response cache writes dropped", metadata: ["ops": "\(writes.count)", "error": "\(error)"])
        }
    }

    private func commit(_ writes: [PreparedWrite]) throws {
        try env.write { txn in
            var totals = try CacheMeta.read(txn, meta)
            for write in writes {
                switch write {
                case .put(let key, let value, let createdAtMs, let expiresAtMs):
                    totals.bytes -= Int64(try removeEntry(txn, key) ?? 0)
                    try txn.put(entries, key: key, value: value)
                    try txn.put(byTime, key: CacheIndexKey.make(createdAtMs, key), value: EmptyCollection())
                    try txn.put(byExpiry, key: CacheIndexKey.make(expiresAtMs, key), value: EmptyCollection())
                    totals.bytes += Int64(value.count)
                case .deleteIfUnchanged(let key, let fingerprint):
                    if try txn.withValue(entries, key: key, { fingerprint.matches($0) }) == true {
                        totals.bytes -= Int64(try removeEntry(txn, key) ?? 0)
                    }
                }
            }
            if totals.bytes > maxBytes {
                totals.bytes -= Int64(try evictOldest(txn, toFree: Int(totals.bytes) - maxBytes).bytes)
            }
            try totals.write(txn, meta)
        }
    }

    /// After MDB_MAP_FULL: evicts the oldest entries, at least twice what the failed batch needs
    /// and at least a tenth of the cache, in a transaction of its own. LMDB reuses pages freed by
    /// a commit only once a later commit has followed it, so a small second transaction (the
    /// totals rewritten) comes before the retry; that one may also use pages freed by other
    /// tenants of the environment. Either step may fail on a map that is full to the last page.
    private func makeRoom(bytes needed: Int) {
        do {
            try env.write { txn in
                var totals = try CacheMeta.read(txn, meta)
                let target = max(needed * 2, Int(totals.bytes) / 10)
                totals.bytes -= Int64(try evictOldest(txn, toFree: target).bytes)
                try totals.write(txn, meta)
            }
        } catch {
            logger.debug("response cache eviction for room failed", metadata: ["error": "\(error)"])
        }
        do {
            try env.write { txn in try CacheMeta.read(txn, meta).write(txn, meta) }
        } catch {
            logger.debug("response cache could not advance past the eviction", metadata: ["error": "\(error)"])
        }
    }

    func takeCounters() -> CounterDeltas {
        CounterDeltas(
            hits: pendingHits.exchange(0, ordering: .relaxed), misses: pendingMisses.exchange(0, ordering: .relaxed),
            savedMicroUSD: pendingSavedMicroUSD.exchange(0, ordering: .relaxed))
    }

    private func restoreCounters(_ deltas: CounterDeltas) {
        pendingHits.add(deltas.hits, ordering: .relaxed)
        pendingMisses.add(deltas.misses, ordering: .relaxed)
        pendingSavedMicroUSD.add(deltas.savedMicroUSD, ordering: .relaxed)
    }

    /// Adds the in-memory counts to `cache_meta`. Runs on `queue`.
    func persistCounters() {
        let deltas = takeCounters()
        guard !deltas.isZero else { return }
        do {
            try env.write { txn in
                var totals = try CacheMeta.read(txn, meta)
                totals.add(deltas)
                try totals.write(txn, meta)
            }
        } catch {
            restoreCounters(deltas)
            logger.warning("response cache counters not saved", metadata: ["error": "\(error)"])
        }
    }

    /// Persists counters about a second after the first unsaved count, on the writer.
    func scheduleCounterPersist() {
        guard !counterPersistScheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.asyncAfter(deadline: .now() + .seconds(1)) { [weak self] in
            guard let self else { return }
            self.counterPersistScheduled.store(false, ordering: .releasing)
            if !self.closed.load(ordering: .acquiring) { self.persistCounters() }
        }
    }
}
