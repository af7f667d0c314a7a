/// One complete answer as the response cache keeps it. Opaque to the store: `body` is whatever
/// bytes the caller assembled, and the metadata is only what the store needs to expire, evict,
/// purge and report. Invariant: `body` round-trips byte for byte; it is stored zlib-compressed.
package struct CacheEntry: Sendable, Equatable {
    /// The complete answer, uncompressed.
    package var body: [UInt8]
    /// The cache scope's team ("" for a shared scope).
    package var team: String
    /// The client-facing model id (what `cache purge --model` matches).
    package var model: String
    /// When the answer was stored, in unix milliseconds; the order of eviction and age purges.
    package var createdAtMs: Int64
    /// From this unix millisecond on, a lookup misses and the sweeper deletes the entry.
    package var expiresAtMs: Int64
    /// What the original answer cost; a hit saves this much.
    package var costMicroUSD: Int64
    /// Token counts by kind, e.g. `["prompt": 10, "output": 5, "thoughts": 2, "cached": 0]`.
    package var usage: [String: Int]

    package init(
        body: [UInt8], team: String, model: String, createdAtMs: Int64, expiresAtMs: Int64, costMicroUSD: Int64,
        usage: [String: Int]
    ) {
        self.body = body
        self.team = team
        self.model = model
        self.createdAtMs = createdAtMs
        self.expiresAtMs = expiresAtMs
        self.costMicroUSD = costMicroUSD
        self.usage = usage
    }
}

/// What `flashgate cache stats` and the metrics report. Counters are cumulative since the cache
/// file was created (they survive restarts); `bytes` counts the stored values (header plus
/// compressed body), which is what `maxBytes` limits.
package struct CacheStats: Sendable, Equatable {
    package var entries: Int
    package var bytes: Int
    package var hits: Int
    package var misses: Int
    package var savedMicroUSD: Int64

    package init(entries: Int, bytes: Int, hits: Int, misses: Int, savedMicroUSD: Int64) {
        self.entries = entries
        self.bytes = bytes
        self.hits = hits
        self.misses = misses
        self.savedMicroUSD = savedMicroUSD
    }

    /// Hits over lookups counted (0 before the first).
    package var hitRatio: Double {
        hits + misses == 0 ? 0 : Double(hits) / Double(hits + misses)
    }
}
