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
    /// Every cache a client of `team` created (not an automatic one) that is live at `nowMs`.
    func clientOwners(team: String, nowMs: Int64) -> [ContextCacheOwner]
}

/// The team a cache Flashgate created belongs to: a client's own (`/v1beta/cachedContents`), or
/// an automatic one (which the `shared` scope lets every team read).
/// A client's cache also keeps where it lives and what it holds (`placement`), so its owner can
/// still read, update and delete it after a restart.
package struct ContextCacheOwner: Sendable, Equatable {
    package var name: String
    package var team: String
    package var automatic: Bool
    package var expiresMs: Int64
    package var placement: Placement?

    /// The route and key that created the cache, the models it was priced on, its size, and the
    /// key of the caller who created it.
    package struct Placement: Sendable, Equatable {
        package var route: String
        package var keyIndex: Int
        package var clientModel: String
        package var pricedModel: String
        package var tokens: Int
        package var callerKey: String

        package init(
            route: String, keyIndex: Int, clientModel: String, pricedModel: String, tokens: Int, callerKey: String
        ) {
            self.route = route
            self.keyIndex = keyIndex
            self.clientModel = clientModel
            self.pricedModel = pricedModel
            self.tokens = tokens
            self.callerKey = callerKey
        }
    }

    package init(name: String, team: String, automatic: Bool, expiresMs: Int64, placement: Placement? = nil) {
        self.name = name
        self.team = team
        self.automatic = automatic
        self.expiresMs = expiresMs
        self.placement = placement
    }
}
