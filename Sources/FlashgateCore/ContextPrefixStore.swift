/// What automatic context caching remembers of a prefix across restarts: how often it was seen,
/// its size in tokens (from usage), the implicit-cache hit ratio Gemini reported for it, and
/// when it was last seen.
package struct ContextPrefixStats: Sendable, Equatable {
    package var reads: Int64
    package var tokens: Int
    package var implicitPermille: Int
    package var lastSeenMs: Int64

    package init(reads: Int64, tokens: Int, implicitPermille: Int, lastSeenMs: Int64) {
        self.reads = reads
        self.tokens = tokens
        self.implicitPermille = implicitPermille
        self.lastSeenMs = lastSeenMs
    }
}

/// The port to where prefix statistics are kept (LMDB in production, nothing in most tests).
/// Invariant: `record` never waits for a disk write (writes are batched off the caller's thread);
/// a store that fails loses statistics, never a request.
package protocol ContextPrefixStore: Sendable {
    func stats(_ key: CacheKey) -> ContextPrefixStats?
    func record(_ key: CacheKey, _ stats: ContextPrefixStats)
    /// Writes what is queued now (shutdown, tests).
    func flush()
    /// Keeps who a cache Flashgate created belongs to until it expires, so teams stay apart
    /// after a restart (the caches live on upstream); owners of caches expired by `nowMs` go.
    /// Written at once: creates are rare.
    func recordOwner(_ owner: ContextCacheOwner, nowMs: Int64)
    /// The owner recorded for the cache `name`, if any.
    func owner(ofCache name: String) -> ContextCacheOwner?
}

/// The team a cache Flashgate created belongs to: a client's own (`/v1beta/cachedContents`), or
/// an automatic one (which the `shared` scope lets every team read).
package struct ContextCacheOwner: Sendable, Equatable {
    package var name: String
    package var team: String
    package var automatic: Bool
    package var expiresMs: Int64

    package init(name: String, team: String, automatic: Bool, expiresMs: Int64) {
        self.name = name
        self.team = team
        self.automatic = automatic
        self.expiresMs = expiresMs
    }
}
