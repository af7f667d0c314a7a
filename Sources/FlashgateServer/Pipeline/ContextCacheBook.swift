import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import Synchronization

/// What automatic context caching knows of every prefix it has seen — its recent reads, its size
/// in tokens, the implicit-cache hit ratio Gemini reported — and the live cache of each, with the
/// storage reservation that pays its rent. It outlives a config reload (like the flight table),
/// so no live cache's rent is lost with the old gateway.
///
/// Invariants: at most one live or in-creation cache per prefix (creation is single-flight); a
/// live cache leaves the book exactly once (expired, forgotten or extended), handing its storage
/// reservation to exactly one settlement; reads older than the window are dropped, and at most
/// `maxReads` are kept per prefix and `maxPrefixes` prefixes, so the book stays bounded.
package final class ContextCacheBook: Sendable {
    /// A cache Gemini holds for a prefix, and who pays its rent.
    struct Live: Sendable {
        var name: String
        /// The route (and so the project and key) that owns the cache.
        var target: ResolvedRoute
        var keyIndex: Int
        var tokens: Int
        var caller: Caller
        var clientModel: String
        var pricedModel: String
        /// Start of the rent period its `storage` reservation covers, and when it expires.
        var segmentStartMs: Int64
        var expiresMs: Int64
        /// Nil when its rent is settled through `expiresMs` already: a client's cache taken up
        /// again after a restart (the stop settled its booked rent to its expiry); its rent
        /// period then starts at that expiry.
        var storage: Accountant.Admission?
        var reads = 0

        var route: String { target.route.name }
    }

    struct Prefix {
        var reads: [Int64] = []
        var tokens = 0
        var implicitPermille = 0
        var observed = 0
        var readsTotal: Int64 = 0
        var live: Live?
        var creating = false
        var extending = false
        var lastSeenMs: Int64 = 0
    }

    /// Enough to forecast: at 512 reads in a window every priced model's cache pays.
    static let maxReads = 512
    static let maxPrefixes = 10_000

    private struct State {
        var prefixes: [CacheKey: Prefix] = [:]
        /// Floors learned from Gemini's "too small" answers, by upstream model.
        var learnedMinimum: [String: Int] = [:]
        /// Caches clients created through the native passthrough, by name: who owns and pays each.
        var clients: [String: Live] = [:]
        var created = 0
        var money = Money()
    }

    /// What context caches did since the start, for metrics: tokens read from automatic caches,
    /// and, in picodollars (µ$ per 1M tokens × tokens) so no read rounds away, the gross saving
    /// of those reads, the creation passes and the rent settled.
    struct Money: Sendable, Equatable {
        var readTokens: Int64 = 0
        var savedPico: Int64 = 0
        var creationPico: Int64 = 0
        var storagePico: Int64 = 0

        var netSaved: MicroUSD { MicroUSD((savedPico - creationPico - storagePico) / 1_000_000) }
        var storage: MicroUSD { MicroUSD(storagePico / 1_000_000) }
    }

    func count(_ change: (inout Money) -> Void) { state.withLock { change(&$0.money) } }

    var money: Money { state.withLock { $0.money } }

    private let state = Mutex(State())
    /// Where prefix statistics outlive a restart (nil: memory only).
    private let store: (any ContextPrefixStore)?

    package init(store: (any ContextPrefixStore)? = nil) { self.store = store }

    /// One request's read of one candidate prefix, with what its usage showed (`tokens`,
    /// `implicitPermille` when not read from an explicit cache).
    struct Read {
        var key: CacheKey
        var tokens: Int?
        var implicitPermille: Int?
    }

    /// Counts one request's reads of its candidate prefixes at `nowMs`, all under one lock, and
    /// returns each one's traffic in the window. Counted together, a request never sees a longer
    /// candidate with fewer reads than its shorter ones because another request was between its
    /// two counts (which once let concurrent first requests judge the shorter prefix alone worth a
    /// cache, and create both).
    func read(_ reads: [Read], nowMs: Int64, window: Duration) -> [ContextCachePlanner.Traffic] {
        let counted = state.withLock { state in
            reads.map { read in Self.count(read, nowMs: nowMs, window: window, in: &state, store: store) }
        }
        for (read, (_, stats)) in zip(reads, counted) { store?.record(read.key, stats) }
        return counted.map(\.traffic)
    }

    private static func count(
        _ read: Read, nowMs: Int64, window: Duration, in state: inout State, store: (any ContextPrefixStore)?
    ) -> (traffic: ContextCachePlanner.Traffic, stats: ContextPrefixStats) {
        let key = read.key
        if state.prefixes[key] == nil, state.prefixes.count >= Self.maxPrefixes { Self.evictOldest(&state) }
        var prefix = state.prefixes[key] ?? Self.remembered(store?.stats(key))
        let since = nowMs - window.milliseconds
        prefix.reads.removeAll { $0 <= since }
        if prefix.reads.count >= Self.maxReads { prefix.reads.removeFirst() }
        prefix.reads.append(nowMs)
        prefix.lastSeenMs = nowMs
        if let tokens = read.tokens, tokens > 0 { prefix.tokens = tokens }
        if let implicitPermille = read.implicitPermille {
            // A running mean of the first reads, then a moving average that follows change.
            let n = min(prefix.observed, 7)
            prefix.implicitPermille = (prefix.implicitPermille * n + implicitPermille) / (n + 1)
            prefix.observed += 1
        }
        if prefix.live != nil { prefix.live!.reads += 1 }
        prefix.readsTotal += 1
        state.prefixes[key] = prefix
        let traffic = ContextCachePlanner.Traffic(
            tokens: prefix.tokens, reads: prefix.reads.count, implicitPermille: prefix.implicitPermille)
        let stats = ContextPrefixStats(
            reads: prefix.readsTotal, tokens: prefix.tokens, implicitPermille: prefix.implicitPermille,
            lastSeenMs: nowMs)
        return (traffic, stats)
    }

    /// A prefix first seen since the start, with what the store remembers of it.
    private static func remembered(_ stats: ContextPrefixStats?) -> Prefix {
        var prefix = Prefix()
        guard let stats else { return prefix }
        prefix.tokens = stats.tokens
        prefix.implicitPermille = stats.implicitPermille
        prefix.observed = stats.reads > 0 ? 1 : 0
        prefix.readsTotal = stats.reads
        return prefix
    }

    /// What the store remembers of `key` (tests, `flashgate` views).
    func remembered(_ key: CacheKey) -> ContextPrefixStats? {
        store?.flush()
        return store?.stats(key)
    }

    /// The live cache of `key`; one past its expiry leaves the book and is returned as `expired`.
    func live(_ key: CacheKey, nowMs: Int64) -> (live: Live?, expired: Live?) {
        state.withLock { state in
            guard let live = state.prefixes[key]?.live else { return (nil, nil) }
            guard live.expiresMs > nowMs else {
                state.prefixes[key]?.live = nil
                return (nil, live)
            }
            return (live, nil)
        }
    }

    /// Claims the creation of `key`'s cache: false when one is live or being created, or when a
    /// cache of one of `others` (the same request's other candidate prefixes) is being created —
    /// one request never causes two caches.
    func beginCreate(_ key: CacheKey, besides others: [CacheKey] = []) -> Bool {
        state.withLock { state in
            guard let prefix = state.prefixes[key], prefix.live == nil, !prefix.creating,
                !others.contains(where: { state.prefixes[$0]?.creating == true })
            else { return false }
            state.prefixes[key]?.creating = true
            return true
        }
    }

    /// Ends a creation: the new cache, or nil when it was not made.
    func finishCreate(_ key: CacheKey, _ live: Live?) {
        state.withLock { state in
            state.prefixes[key, default: Prefix()].creating = false
            state.prefixes[key, default: Prefix()].live = live
            if live != nil { state.created += 1 }
        }
        if let live { keepOwner(live, automatic: true) }
    }

    /// Records whose `live` is, for after a restart (`isForeign`), and for a client's cache
    /// where it lives, so its owner can still manage it then (`restorable`).
    private func keepOwner(_ live: Live, automatic: Bool, nowMs: Int64? = nil) {
        let placement =
            automatic
            ? nil
            : ContextCacheOwner.Placement(
                route: live.route, keyIndex: live.keyIndex, clientModel: live.clientModel,
                pricedModel: live.pricedModel, tokens: live.tokens, callerKey: live.caller.key)
        store?.recordOwner(
            ContextCacheOwner(
                name: live.name, team: live.caller.team, automatic: automatic, expiresMs: live.expiresMs,
                placement: placement),
            nowMs: nowMs ?? live.segmentStartMs)
    }

    /// Removes the cache `name` of `key` (Gemini no longer knows it); returns it for settlement.
    func forget(_ key: CacheKey, name: String) -> Live? {
        state.withLock { state in
            guard let live = state.prefixes[key]?.live, live.name == name else { return nil }
            state.prefixes[key]?.live = nil
            return live
        }
    }

    /// Claims a keep-alive of `key`'s cache `name`: false when one is running or it changed.
    func beginExtend(_ key: CacheKey, name: String) -> Bool {
        state.withLock { state in
            guard let prefix = state.prefixes[key], prefix.live?.name == name, !prefix.extending else { return false }
            state.prefixes[key]?.extending = true
            return true
        }
    }

    /// Ends a keep-alive: with the new rent period, the reservation of the old one is returned
    /// for settlement; without, nothing changes.
    func finishExtend(
        _ key: CacheKey, name: String, newPeriod: (startMs: Int64, expiresMs: Int64, storage: Accountant.Admission)?
    ) -> Live? {
        let renewed = state.withLock { state -> (old: Live, new: Live)? in
            state.prefixes[key]?.extending = false
            guard let newPeriod, var live = state.prefixes[key]?.live, live.name == name else { return nil }
            let old = live
            live.segmentStartMs = newPeriod.startMs
            live.expiresMs = newPeriod.expiresMs
            live.storage = newPeriod.storage
            state.prefixes[key]?.live = live
            return (old, live)
        }
        if let renewed { keepOwner(renewed.new, automatic: true) }
        return renewed?.old
    }

    /// Every live cache past its expiry, removed from the book for settlement.
    func sweep(nowMs: Int64) -> [Live] {
        state.withLock { state in
            var ended = state.clients.values.filter { $0.expiresMs <= nowMs }
            for live in ended { state.clients[live.name] = nil }
            for (key, prefix) in state.prefixes {
                if let live = prefix.live, live.expiresMs <= nowMs {
                    ended.append(live)
                    state.prefixes[key]?.live = nil
                }
            }
            return ended
        }
    }

    /// Every live cache, removed (at shutdown, to settle their booked rent).
    func drain() -> [Live] {
        state.withLock { state in
            var ended = Array(state.clients.values)
            state.clients = [:]
            for (key, prefix) in state.prefixes {
                if let live = prefix.live {
                    ended.append(live)
                    state.prefixes[key]?.live = nil
                }
            }
            return ended
        }
    }

    /// Records a cache a client created through the passthrough.
    func addClient(_ live: Live) {
        state.withLock { $0.clients[live.name] = live }
        keepOwner(live, automatic: false)
    }

    /// The client cache `name` if `team` owns it and it has not expired (an expired one is
    /// removed and returned as `expired`, for settlement).
    func client(_ name: String, team: String, nowMs: Int64) -> (live: Live?, expired: Live?) {
        state.withLock { state in
            guard let live = state.clients[name], live.caller.team == team else { return (nil, nil) }
            guard live.expiresMs > nowMs else {
                state.clients[name] = nil
                return (nil, live)
            }
            return (live, nil)
        }
    }

    /// Whether `name` is a cache Flashgate made for someone other than `team`: a client cache of
    /// another team, or an automatic cache outside `team`'s scope.
    /// One this process does not hold (made before a restart) is judged by the owner the store
    /// recorded; a name nobody recorded is a client's own business and passes.
    func isForeign(_ name: String, team: String, shared: Bool) -> Bool {
        let known = state.withLock { state -> Bool? in
            if let client = state.clients[name] { return client.caller.team != team }
            if let live = state.prefixes.values.lazy.compactMap(\.live).first(where: { $0.name == name }) {
                return !shared && live.caller.team != team
            }
            return nil
        }
        if let known { return known }
        guard let owner = store?.owner(ofCache: name) else { return false }
        return !(owner.automatic && shared) && owner.team != team
    }

    /// The live client caches `team` owns.
    func clients(team: String, nowMs: Int64) -> [Live] {
        state.withLock { state in
            state.clients.values.filter { $0.caller.team == team && $0.expiresMs > nowMs }.sorted { $0.name < $1.name }
        }
    }

    /// The client caches of `team` the store recorded, live at `nowMs` and not in the book: made
    /// before a restart. Each comes with where it lives (`placement`).
    func restorable(team: String, nowMs: Int64) -> [ContextCacheOwner] {
        guard let store else { return [] }
        let held = state.withLock { Set($0.clients.keys) }
        return store.clientOwners(team: team, nowMs: nowMs).filter { $0.placement != nil && !held.contains($0.name) }
    }

    /// The client cache `name` of `team` the store recorded, live at `nowMs` and not in the book.
    func restorable(_ name: String, team: String, nowMs: Int64) -> ContextCacheOwner? {
        guard let store, state.withLock({ $0.clients[name] == nil }), let owner = store.owner(ofCache: name),
            !owner.automatic, owner.team == team, owner.expiresMs > nowMs, owner.placement != nil
        else { return nil }
        return owner
    }

    /// Takes up a client cache made before a restart (its rent settled to its expiry, so
    /// `storage` nil); when the book holds `name` already, that entry wins.
    func adoptClient(_ live: Live) -> Live {
        state.withLock { state in
            if let held = state.clients[live.name] { return held }
            state.clients[live.name] = live
            return live
        }
    }

    /// Removes a client cache (deleted); returns it for settlement.
    func removeClient(_ name: String) -> Live? { state.withLock { $0.clients.removeValue(forKey: name) } }

    /// Starts a new rent period of a client cache at `startMs` (now, or the end of a period
    /// already paid); the old one is returned for settlement.
    func renewClient(
        _ name: String, startMs: Int64, expiresMs: Int64, storage: Accountant.Admission, nowMs: Int64
    ) -> Live? {
        let renewed = state.withLock { state -> (old: Live, new: Live)? in
            guard var live = state.clients[name] else { return nil }
            let old = live
            live.segmentStartMs = startMs
            live.expiresMs = expiresMs
            live.storage = storage
            state.clients[name] = live
            return (old, live)
        }
        if let renewed { keepOwner(renewed.new, automatic: false, nowMs: nowMs) }
        return renewed?.old
    }

    func learnMinimum(model: String, tokens: Int) { state.withLock { $0.learnedMinimum[model] = tokens } }

    func learnedMinimum(model: String) -> Int? { state.withLock { $0.learnedMinimum[model] } }

    /// Live caches and their tokens now, and creates so far (for metrics and tests).
    package var snapshot: (live: Int, tokens: Int, created: Int) {
        state.withLock { state in
            let live = state.prefixes.values.compactMap(\.live) + state.clients.values
            return (live.count, live.reduce(0) { sum, cache in
                let (total, overflow) = sum.addingReportingOverflow(cache.tokens)
                return overflow ? .max : total
            }, state.created)
        }
    }

    private static func evictOldest(_ state: inout State) {
        let idle = state.prefixes.filter { $0.value.live == nil && !$0.value.creating }
        if let oldest = idle.min(by: { $0.value.lastSeenMs < $1.value.lastSeenMs })?.key {
            state.prefixes[oldest] = nil
        }
    }
}
