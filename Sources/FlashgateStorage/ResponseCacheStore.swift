import Dispatch
import FlashgateCore
import Logging
import Synchronization

/// The response cache over a non-durable `StoreEnvironment`: opaque keys (the caller's 32-byte
/// digest) to complete answers with their metadata.
///
/// Databases in the environment:
/// - `cache_entries`: key → `CacheRecord` (header + zlib body);
/// - `cache_by_time`: createdAtMs + key → empty, for oldest-first eviction and age purges;
/// - `cache_by_expiry`: expiresAtMs + key → empty, so a sweep visits only what has expired;
/// - `cache_meta`: the running total of stored bytes and the hit/miss/saved counters.
///
/// Invariants: an index row (t, key) is live only while `cache_entries[key]` exists and records
/// the same time; stale rows are dropped when met. `bytes` in `cache_meta` equals the summed size
/// of the values in `cache_entries`, updated in the same transaction as every put and delete,
/// so a second process (the CLI) may purge while the server runs. Lookups are synchronous and
/// never throw; every write (puts, deletions a lookup asks for, counters) happens on one serial
/// queue in grouped transactions, so nothing on a request path waits for compression or LMDB's
/// writer lock. Eviction is oldest-created first (FIFO), not least recently used: a hit stays a
/// pure read.
package final class ResponseCacheStore: Sendable {
    let env: StoreEnvironment
    let entries: StoreDatabase
    let byTime: StoreDatabase
    let byExpiry: StoreDatabase
    let meta: StoreDatabase
    /// The most the stored values may add up to; storing beyond it evicts the oldest. At most a
    /// third of the environment's map size, whatever was asked: B-tree pages, overflow-page
    /// rounding, the indexes and copy-on-write need the rest, and a map filled to its last page
    /// cannot even delete.
    package let maxBytes: Int
    let now: @Sendable () -> Int64
    let logger: Logger
    let ownsEnvironment: Bool
    /// The writer: compression and every write transaction run here, one at a time.
    let queue = DispatchQueue(label: "flashgate.response-cache.writer")
    let backlog = CacheWriteBacklog()
    let closed = Atomic<Bool>(false)
    /// Counter increments not yet persisted.
    let pendingHits = Atomic<Int>(0)
    let pendingMisses = Atomic<Int>(0)
    let pendingSavedMicroUSD = Atomic<Int64>(0)
    let counterPersistScheduled = Atomic<Bool>(false)

    /// Keys longer than this are refused: LMDB keys are at most 511 bytes and index keys add 8.
    package static let maxKeyBytes = 400

    /// Opens the cache's databases in `env`, which the caller keeps owning (and closes).
    package convenience init(
        env: StoreEnvironment, maxBytes: Int, now: @escaping @Sendable () -> Int64, logger: Logger
    ) throws {
        try self.init(env: env, maxBytes: maxBytes, now: now, logger: logger, ownsEnvironment: false)
    }

    init(
        env: StoreEnvironment, maxBytes: Int, now: @escaping @Sendable () -> Int64, logger: Logger, ownsEnvironment: Bool
    ) throws {
        self.env = env
        self.entries = try env.database("cache_entries")
        self.byTime = try env.database("cache_by_time")
        self.byExpiry = try env.database("cache_by_expiry")
        self.meta = try env.database("cache_meta")
        self.maxBytes = max(0, min(maxBytes, env.maxSizeBytes / 3))
        self.now = now
        self.logger = logger
        self.ownsEnvironment = ownsEnvironment
        // A first read proves the file is usable before anyone relies on it.
        _ = try env.read { try $0.count(entries) }
    }

    /// Opens a cache in its own non-durable environment at `directory` (`<store>/cache`), or
    /// returns nil after a logged warning when that is impossible (a damaged file, no space, no
    /// permission): the caller then runs without a cache.
    ///
    /// - Parameter mapSizeBytes: LMDB's map size, the most the file may grow to (sparse until used).
    package static func open(
        directory: String, maxBytes: Int, mapSizeBytes: Int = 8 << 30, now: @escaping @Sendable () -> Int64,
        logger: Logger
    ) -> ResponseCacheStore? {
        let env: StoreEnvironment
        do {
            env = try StoreEnvironment.open(directory: directory, maxSizeBytes: mapSizeBytes, durable: false)
        } catch {
            logger.warning(
                "response cache disabled: cannot open its store", metadata: ["path": "\(directory)", "error": "\(error)"])
            return nil
        }
        do {
            return try ResponseCacheStore(env: env, maxBytes: maxBytes, now: now, logger: logger, ownsEnvironment: true)
        } catch {
            env.close()
            logger.warning(
                "response cache disabled: cannot open its databases", metadata: ["path": "\(directory)", "error": "\(error)"])
            return nil
        }
    }

    /// The live entry for `key`, or nil: absent, expired, damaged, or the store failed. Runs on the
    /// caller's thread (an event loop): one read transaction and an inflate. Expired and damaged
    /// entries are queued for deletion; damage and store failures are logged.
    package func lookup(_ key: [UInt8]) -> CacheEntry? {
        guard Self.isValidKey(key), !closed.load(ordering: .relaxed) else { return nil }
        let outcome: LookupOutcome?
        do {
            outcome = try env.read { txn in
                try txn.withValue(entries, key: key) { value in
                    Self.lookupOutcome(value, now: now())
                }
            }
        } catch {
            logger.warning("response cache lookup failed", metadata: ["error": "\(error)"])
            return nil
        }
        switch outcome {
        case nil:
            return nil
        case .hit(let entry):
            return entry
        case .expired(let fingerprint):
            enqueue(.deleteIfUnchanged(key: key, fingerprint))
            return nil
        case .damaged(let fingerprint, let reason):
            logger.warning("response cache entry is damaged; dropping it", metadata: ["reason": "\(reason)"])
            enqueue(.deleteIfUnchanged(key: key, fingerprint))
            return nil
        }
    }

    /// Queues `entry` under `key` and returns at once; the writer compresses and stores it with
    /// whatever else is queued, in one transaction. Replaces an entry with the same key.
    package func store(_ key: [UInt8], _ entry: CacheEntry) {
        guard Self.isValidKey(key) else {
            logger.debug("response cache key refused", metadata: ["bytes": "\(key.count)"])
            return
        }
        enqueue(.put(key: key, entry))
    }

    /// `store`, then `written` on the writer queue once the entry is committed (or dropped), so a
    /// caller can hand over from an in-flight answer to the stored one without a gap.
    package func store(_ key: [UInt8], _ entry: CacheEntry, written: @escaping @Sendable () -> Void) {
        store(key, entry)
        queue.async(execute: written)
    }

    /// Counts a hit and the dollars it saved; persisted by the writer now and then.
    package func recordHit(savedMicroUSD: Int64) {
        pendingHits.add(1, ordering: .relaxed)
        pendingSavedMicroUSD.add(savedMicroUSD, ordering: .relaxed)
        scheduleCounterPersist()
    }

    /// Counts a miss; persisted by the writer now and then.
    package func recordMiss() {
        pendingMisses.add(1, ordering: .relaxed)
        scheduleCounterPersist()
    }

    /// Entries, stored bytes and counters, including counts not yet persisted. Zeros (and a
    /// warning) when the store cannot be read.
    package func stats() -> CacheStats {
        var stats = CacheStats(entries: 0, bytes: 0, hits: 0, misses: 0, savedMicroUSD: 0)
        do {
            stats = try env.read { txn in
                let meta = try CacheMeta.read(txn, self.meta)
                return CacheStats(
                    entries: try txn.count(entries), bytes: Int(meta.bytes), hits: Int(meta.hits),
                    misses: Int(meta.misses), savedMicroUSD: meta.savedMicroUSD)
            }
        } catch {
            logger.warning("response cache stats failed", metadata: ["error": "\(error)"])
        }
        stats.hits += pendingHits.load(ordering: .relaxed)
        stats.misses += pendingMisses.load(ordering: .relaxed)
        stats.savedMicroUSD += pendingSavedMicroUSD.load(ordering: .relaxed)
        return stats
    }

    /// Waits until everything queued so far is written and the counters are persisted. Not from
    /// the writer queue itself.
    package func flush() {
        dispatchPrecondition(condition: .notOnQueue(queue))
        queue.sync { drain() }
    }

    /// Flushes, stops the sweeper and the writer, and closes the environment if `open` made it.
    /// Later stores are dropped and lookups miss. Closing twice is harmless.
    package func close() {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        backlog.withLock { state in
            state.closed = true
            state.sweeper?.cancel()
            state.sweeper = nil
        }
        flush()
        if ownsEnvironment { env.close() }
    }

    /// Sweeps (expired entries, then eviction down to `maxBytes`) every `interval` on the writer
    /// queue, until `close`. Calling it again replaces the schedule.
    package func startSweeping(every interval: Duration) {
        let (seconds, attoseconds) = interval.components
        let nanoseconds = max(1_000_000, Int(clamping: seconds) &* 1_000_000_000 &+ Int(attoseconds / 1_000_000_000))
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + .nanoseconds(nanoseconds), repeating: .nanoseconds(nanoseconds))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            self.drain()
            let result = self.sweepNow()
            if result.expired + result.evicted > 0 {
                self.logger.debug(
                    "response cache swept", metadata: ["expired": "\(result.expired)", "evicted": "\(result.evicted)"])
            }
        }
        backlog.withLock { state in
            state.sweeper?.cancel()
            state.sweeper = closed.load(ordering: .relaxed) ? nil : timer
        }
        timer.resume()
    }

    static func isValidKey(_ key: [UInt8]) -> Bool { !key.isEmpty && key.count <= maxKeyBytes }
}

extension ResponseCacheStore {
    /// What a lookup found under a key.
    enum LookupOutcome {
        case hit(CacheEntry)
        case expired(ValueFingerprint)
        case damaged(ValueFingerprint, reason: String)
    }

    static func lookupOutcome(_ value: UnsafeRawBufferPointer, now: Int64) -> LookupOutcome {
        guard let header = CacheRecord.header(value) else {
            return .damaged(ValueFingerprint(value), reason: "bad header")
        }
        if header.expiresAtMs <= now { return .expired(ValueFingerprint(value)) }
        do {
            return .hit(try CacheRecord.entry(header, in: value))
        } catch {
            return .damaged(ValueFingerprint(value), reason: error.description)
        }
    }
}
