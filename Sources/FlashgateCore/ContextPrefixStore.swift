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
}
