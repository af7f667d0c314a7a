import FlashgateAccounting
import FlashgateCore
import FlashgateRouting
import FlashgateWire
import Logging
import Synchronization

/// Automatic context caching on the generation path: which candidate prefixes a call has (base,
/// and extended by its leading contents), whether a live cache may serve it (`use`), and, after
/// the answer, what its usage teaches the planner (`observe`), which may create a cache or keep
/// one alive (`ContextCaches+Lifecycle.swift`).
///
/// Invariants: only calls on an AI Studio primary route, from a team that has not turned it off,
/// without `x-flashgate-context-cache: off` and without a client-managed `cachedContent`, are
/// tracked or rewritten; a call causes at most one cache; a cache is read only by calls of the
/// scope (team, or `shared`), model and route that created it; a rewrite happens in the upstream
/// body only, after the response cache keyed the canonical request; every cache that leaves the
/// book has its rent settled once.
final class ContextCaches: Sendable {
    let config: ContextCacheConfig
    let book: ContextCacheBook
    let accountant: Accountant
    let client: ContextCacheClient
    let routes: RouteTable
    let clock: any RetryClock
    let nowMilliseconds: @Sendable () -> Int64
    let logger: Logger
    /// Last time every live cache was checked for expiry.
    private let lastSweepMs = Atomic<Int64>(0)

    init(
        config: ContextCacheConfig, book: ContextCacheBook, accountant: Accountant, routes: RouteTable,
        clock: any RetryClock, nowMilliseconds: @escaping @Sendable () -> Int64, logger: Logger
    ) {
        self.config = config
        self.book = book
        self.accountant = accountant
        self.client = ContextCacheClient(routes: routes)
        self.routes = routes
        self.clock = clock
        self.nowMilliseconds = nowMilliseconds
        self.logger = logger
    }

    /// The candidate prefixes of a generation (base, and extended by its leading contents), or
    /// nil when automatic caching does not apply to it.
    func prefix(_ call: GenerateCall) -> ContextPrefixes? {
        guard config.enabled, call.contextCache, accountant.team(call.caller)?.contextCache ?? true,
            RouteTable.holdsContextCaches(call.primary.route)
        else { return nil }
        let scope = config.scope == .shared ? "shared" : "team:" + call.team
        return ContextPrefixes(
            body: call.body, scope: scope, model: call.primary.upstreamModel, route: call.primary.route.name)
    }

    /// Refuses a generation that names a cache Flashgate made for another team (404, as Gemini
    /// answers a cache it does not know), so a cache name never lets one team read another's prefix.
    /// Both spellings are checked: Gemini reads `cached_content` as it reads `cachedContent`.
    func checkOwnership(_ call: GenerateCall) throws(FlashgateError) {
        try checkOwnership(body: call.body, team: call.team)
    }

    /// The same for any body: a generation's, or a token count's, whose cache may also be named
    /// in its nested `generateContentRequest` (a count on another team's cache would tell its
    /// size and that it exists).
    func checkOwnership(body: JSONValue, team: String) throws(FlashgateError) {
        var foreign: String?
        let shared = config.scope == .shared
        let check = { [book] (request: JSONValue) in
            GeminiSpelling.each(request, "cachedContent", "cached_content") { value in
                if let name = value.stringValue, book.isForeign(name, team: team, shared: shared) {
                    foreign = foreign ?? name
                }
            }
        }
        check(body)
        GeminiSpelling.each(body, "generateContentRequest", "generate_content_request") { check($0) }
        if let foreign { throw FlashgateError(.notFound, "\(foreign) is not found", param: "cached_content") }
    }

    /// The live cache the call may be read from, the longest candidate's first (nil: the call
    /// goes out in full). Caches found past their expiry are settled on the way.
    func use(_ prefixes: ContextPrefixes) -> ContextCacheUse? {
        for prefix in prefixes.all.reversed() { if let use = use(prefix) { return use } }
        return nil
    }

    /// The live cache this prefix may be read from. Caches found past their expiry are settled.
    func use(_ prefix: ContextPrefix) -> ContextCacheUse? {
        let now = nowMilliseconds()
        sweepIfDue(now)
        guard let live = liveCache(prefix.key, nowMs: now) else { return nil }
        // Made with a key a reload has since taken off its route: it cannot be read with the keys
        // the route has now (the call goes out in full; the cache lives out its paid time).
        guard live.keyIndex < routes.keyCount(live.route) else { return nil }
        let key = prefix.key
        return ContextCacheUse(name: live.name, route: live.route, keyIndex: live.keyIndex, prefix: prefix) {
            [self] in
            // Gemini no longer knows it: it lived until now at most.
            guard let gone = book.forget(key, name: live.name) else { return }
            logger.info("context cache gone upstream; requests go uncached", metadata: ["route": "\(gone.route)"])
            settle([gone], endedMs: nowMilliseconds())
        }
    }

    /// Learns from one answer of a call with these candidate prefixes: a read of each, its tokens
    /// and implicit hit ratio (when the call was not read from an explicit cache); then keeps the
    /// live cache it read alive, or creates the one cache the planner prefers, when that pays.
    ///
    /// A call read from a cache counts as a read of that prefix and of longer ones only: a
    /// shorter prefix's cache could not have served it, so its reads must not keep that alive.
    func observe(
        _ prefixes: ContextPrefixes, usage: TokenUsage, use: ContextCacheUse?, served: ResolvedRoute,
        _ call: GenerateCall
    ) {
        let now = nowMilliseconds()
        // Read from the explicit cache only when the attempt that served went out on it (not after
        // the cache was found gone, not on a failover route).
        let onCache = usage.cachedTokens > 0 && use?.applies(to: served) == true
        let usedLeading = onCache ? use?.prefix.leading ?? 0 : 0
        var counted: [(prefix: ContextPrefix, read: ContextCacheBook.Read)] = []
        for prefix in prefixes.all {
            if onCache, prefix.leading < usedLeading { continue }
            let isUsed = onCache && prefix.key == use?.prefix.key
            var read = ContextCacheBook.Read(key: prefix.key)
            if !isUsed {
                let prefixTokens = prefix.tokens(ofPrompt: usage.promptTokens)
                read.tokens = prefixTokens
                // Cached tokens of a call on an explicit cache are not implicit hits.
                if !onCache {
                    read.implicitPermille = prefixTokens > 0 ? min(1000, usage.cachedTokens * 1000 / prefixTokens) : 0
                }
            }
            counted.append((prefix, read))
        }
        let counts = book.read(counted.map(\.read), nowMs: now, window: config.window)
        let observed = zip(counted, counts).map { (prefix: $0.prefix, traffic: $1) }
        let target = call.primary
        let tier = ServiceTier.requested(in: call.body)
        guard let price = accountant.prices.price(for: target.pricedModel, tier: tier, atMs: now) else { return }
        if onCache {
            let cached = Int64(usage.cachedTokens)
            book.count { money in
                money.readTokens += cached
                money.savedPico += cached * max(0, price.inputPerMillion - price.cachedInputPerMillion)
            }
        }
        let planner = self.planner(model: target.upstreamModel)
        // The longest candidate with a live cache is the one calls read: kept alive while reads pay.
        var candidates = observed[...]
        var alreadyCached = 0
        if let index = observed.lastIndex(where: { liveCache($0.prefix.key, nowMs: now) != nil }),
            let live = liveCache(observed[index].prefix.key, nowMs: now)
        {
            let key = observed[index].prefix.key
            // Extended in its second half-life, not on every read.
            if live.expiresMs - now < config.ttl.milliseconds / 2,
                planner.keepAlive(observed[index].traffic, price: price), book.beginExtend(key, name: live.name)
            {
                Task { await self.extend(key, live, price: price) }
            }
            // A longer candidate may still pay on the tokens beyond the live cache.
            candidates = observed[(index + 1)...]
            alreadyCached = live.tokens
        }
        var decisions = candidates.map { planner.decide($0.traffic, price: price, alreadyCached: alreadyCached) }
        // Leading contents are cached only as the cache's route sends them (thought signatures
        // included): a run that route sends differently could never be read, so it is not a
        // candidate, and a shorter one may still be.
        for (offset, candidate) in zip(decisions.indices, candidates) where candidate.prefix.leading > 0 {
            guard case .create = decisions[offset],
                candidate.prefix.rewrite(call.upstream.body(target), cacheName: "") == nil
            else { continue }
            decisions[offset] = .skip(.notAsSent)
        }
        guard let chosen = ContextCachePlanner.preferred(decisions) else { return }
        let (prefix, traffic) = candidates[candidates.startIndex + chosen]
        guard book.beginCreate(prefix.key, besides: observed.map(\.prefix.key)) else { return }
        if case .create(let forecast) = decisions[chosen] {
            logger.debug(
                "context cache pays", metadata: ["net_usd": "\(forecast.net.dollars)", "leading": "\(prefix.leading)"])
        }
        Task {
            await self.create(
                prefix, target: target, caller: call.caller, clientModel: call.clientModel, tokens: traffic.tokens)
        }
    }

    /// The planner for `model`: its minimum (learned from Gemini, configured or built in).
    func planner(model: String) -> ContextCachePlanner {
        ContextCachePlanner(
            minimumTokens: book.learnedMinimum(model: model) ?? config.minimumTokens(model: model),
            minRequests: config.minRequests, ttl: config.ttl, window: config.window)
    }

    /// The live cache of `key`; one found past its expiry leaves the book and its rent is settled
    /// to its expiry here (the book hands an expired cache out once, so it must not be dropped).
    private func liveCache(_ key: CacheKey, nowMs: Int64) -> ContextCacheBook.Live? {
        let (live, expired) = book.live(key, nowMs: nowMs)
        if let expired { settle([expired], endedMs: expired.expiresMs) }
        return live
    }

    /// Checks every live cache for expiry at most once a minute.
    private func sweepIfDue(_ now: Int64) {
        let last = lastSweepMs.load(ordering: .relaxed)
        guard now - last >= 60_000,
            lastSweepMs.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        let ended = book.sweep(nowMs: now)
        if !ended.isEmpty { settle(ended, endedMs: nil) }
    }
}
