import Synchronization

/// Proof that a request was admitted by the rate limiter: what it took, so `release` can return
/// its concurrency slots and correct its token estimate exactly once.
package struct RateTicket: Sendable, Hashable {
    package let id: UInt64
    package let estimatedTokens: Int
    /// Scopes (`key:<name>`, `team:<id>`, `team:<id>:model:<model>`) the request counted against.
    package let scopes: [String]
    /// Each bucket's limit and what is left after this request took from it, for the
    /// `x-ratelimit-limit-*` / `x-ratelimit-remaining-*` headers (the tightest one per kind).
    package var headroom: [RateHeadroom] = []
}

/// One bucket's standing after an admission.
package struct RateHeadroom: Sendable, Hashable {
    /// `team:search:rpm`, `key:ci:tpm`, …
    package let bucket: String
    package let limit: Int64
    /// Whole tokens left, never below zero.
    package let remaining: Int64
}

/// A rate-limit verdict. A rejection names the limit (`team:search:tpm`) and how long until the
/// request would fit, for `Retry-After`.
package enum RateDecision: Sendable, Equatable {
    case admit(RateTicket)
    case reject(limit: String, retryAfter: Duration)
}

/// Requests/minute, tokens/minute and concurrent requests per key, per team and per team×model,
/// as token buckets behind one lock. A request is admitted only if every applicable limit has
/// room, and then takes from all of them at once, so a rejection never consumes anything.
/// Time is a monotonic instant passed in by the caller, so tests drive it by hand.
package final class RateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Retry-After for a full concurrency limit: a slot frees when some request ends, which no
    /// clock predicts; one second is a polite polling interval.
    package static var concurrencyRetry: Duration { .seconds(1) }

    /// A team's limits: its own scope and one per model it limits.
    struct TeamScopes: Sendable {
        var team: RateScope?
        var models: [String: RateScope]
    }

    /// The configured limits by scope, their names built once; replaced whole by `update`.
    struct Index: Sendable {
        var teams: [String: TeamScopes] = [:]
        var keys: [String: RateScope] = [:]
    }

    private let origin: Instant
    private let configured: Mutex<Index>
    private let state = Mutex(RateLimiterState())

    package init(teams: [TeamConfig], keys: [KeyConfig], origin: Instant) {
        self.origin = origin
        configured = Mutex(Self.index(teams: teams, keys: keys))
    }

    /// Scopes with limits only; the first of a duplicated id or name wins.
    private static func index(teams: [TeamConfig], keys: [KeyConfig]) -> Index {
        var index = Index()
        var seenKeys: Set<String> = []
        for key in keys where seenKeys.insert(key.name).inserted && !key.limits.isEmpty {
            index.keys[key.name] = RateScope("key:\(key.name)", key.limits)
        }
        for team in teams where index.teams[team.id] == nil {
            var models: [String: RateScope] = [:]
            for (model, limits) in team.modelLimits where !limits.isEmpty {
                models[model] = RateScope("team:\(team.id):model:\(model)", limits)
            }
            let own = team.limits.isEmpty ? nil : RateScope("team:\(team.id)", team.limits)
            index.teams[team.id] = TeamScopes(team: own, models: models)
        }
        return index
    }

    /// Applies a reloaded config's teams and keys. Buckets of limits that still exist keep their
    /// level (capped at a lowered capacity); buckets of removed limits are dropped. Open tickets
    /// stay valid and release as usual, so concurrency counts stay exact across the change.
    package func update(teams: [TeamConfig], keys: [KeyConfig]) {
        let index = Self.index(teams: teams, keys: keys)
        var capacities: [String: Int] = [:]
        func add(_ scope: RateScope) {
            if let rpm = scope.limits.requestsPerMinute { capacities[scope.rpmBucket] = rpm }
            if let tpm = scope.limits.tokensPerMinute { capacities[scope.tpmBucket] = tpm }
        }
        for key in index.keys.values { add(key) }
        for team in index.teams.values {
            if let own = team.team { add(own) }
            for scope in team.models.values { add(scope) }
        }
        state.withLock { state in
            for (name, bucket) in state.buckets {
                if let capacity = capacities[name] {
                    if Int64(capacity) != bucket.capacity { state.buckets[name] = bucket.resized(capacity: capacity) }
                } else {
                    state.buckets[name] = nil
                }
            }
        }
        configured.withLock { $0 = index }
    }

    /// The limits that apply to `caller` on `model`, most specific first.
    func limits(caller: Caller, model: String) -> [RateScope] {
        configured.withLock { index in
            var result: [RateScope] = []
            if !caller.key.isEmpty, let key = index.keys[caller.key] { result.append(key) }
            if let team = index.teams[caller.team] {
                if let perModel = team.models[model] { result.append(perModel) }
                if let own = team.team { result.append(own) }
            }
            return result
        }
    }

    package func admit(caller: Caller, model: String, estimatedTokens: Int, now: Instant) -> RateDecision {
        let applicable = limits(caller: caller, model: model)
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        return state.withLock { $0.admit(applicable, tokens: max(0, estimatedTokens), nowNanos: nanos) }
    }

    /// Frees the ticket's concurrency slots and corrects its TPM buckets by actual − estimated.
    /// Releasing a ticket twice does nothing the second time.
    package func release(_ ticket: RateTicket, actualTokens: Int, now: Instant) {
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        state.withLock { $0.release(ticket, actualTokens: max(0, actualTokens), nowNanos: nanos) }
    }

    /// Requests in flight in one scope, for metrics and tests.
    package func inFlight(_ scope: String) -> Int { state.withLock { $0.inFlight[scope] ?? 0 } }

    /// Whole tokens left in one bucket (`team:a:rpm`), after refilling to `now`.
    package func available(_ bucket: String, now: Instant) -> Int64? {
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        return state.withLock { state in
            state.buckets[bucket]?.refill(nowNanos: nanos)
            return state.buckets[bucket]?.available
        }
    }
}

/// A scope with limits (`key:<name>`, `team:<id>`, `team:<id>:model:<model>`) and the names of
/// its buckets, built when the config is read rather than on every admission.
struct RateScope: Sendable {
    let name: String
    let limits: RateLimits
    let rpmBucket: String
    let tpmBucket: String

    init(_ name: String, _ limits: RateLimits) {
        self.name = name
        self.limits = limits
        rpmBucket = name + ":rpm"
        tpmBucket = name + ":tpm"
    }
}

/// The rate limiter's state machine; pure, so every transition is a plain function call.
struct RateLimiterState {
    var buckets: [String: TokenBucket] = [:]
    var inFlight: [String: Int] = [:]
    var open: Set<UInt64> = []
    var nextID: UInt64 = 1

    mutating func admit(_ applicable: [RateScope], tokens: Int, nowNanos: Int64) -> RateDecision {
        var takes: [(bucket: String, n: Int)] = []
        takes.reserveCapacity(applicable.count * 2)
        var worst: (name: String, wait: Duration)?
        for scope in applicable {
            let limits = scope.limits
            if let max = limits.concurrent, inFlight[scope.name, default: 0] >= max, worst == nil {
                worst = ("\(scope.name):concurrent", RateLimiter<ContinuousClock.Instant>.concurrencyRetry)
            }
            for (name, limit, n) in [
                (scope.rpmBucket, limits.requestsPerMinute, 1), (scope.tpmBucket, limits.tokensPerMinute, tokens),
            ] {
                guard let limit else { continue }
                let wait: Duration? = {
                    // Refilled in place: one lookup, no copy of the bucket out and back.
                    buckets[name, default: .perMinute(limit)].refill(nowNanos: nowNanos)
                    return buckets[name]?.wait(for: n)
                }()
                if let wait, wait > (worst?.wait ?? .zero) { worst = (name, wait) }
                takes.append((name, n))
            }
        }
        if let worst { return .reject(limit: worst.name, retryAfter: worst.wait) }
        var headroom: [RateHeadroom] = []
        headroom.reserveCapacity(takes.count)
        for take in takes {
            guard let bucket = { () -> TokenBucket? in
                buckets[take.bucket]?.consume(take.n)
                return buckets[take.bucket]
            }() else { continue }
            headroom.append(
                RateHeadroom(bucket: take.bucket, limit: bucket.capacity, remaining: max(0, bucket.available)))
        }
        let scopes = applicable.map(\.name)
        for scope in applicable where scope.limits.concurrent != nil { inFlight[scope.name, default: 0] += 1 }
        var ticket = RateTicket(id: nextID, estimatedTokens: tokens, scopes: scopes)
        ticket.headroom = headroom
        nextID += 1
        open.insert(ticket.id)
        return .admit(ticket)
    }

    mutating func release(_ ticket: RateTicket, actualTokens: Int, nowNanos: Int64) {
        guard open.remove(ticket.id) != nil else { return }
        for scope in ticket.scopes {
            if let count = inFlight[scope] { inFlight[scope] = max(0, count - 1) }
            let name = "\(scope):tpm"
            guard var bucket = buckets[name] else { continue }
            bucket.refill(nowNanos: nowNanos)
            bucket.give(back: ticket.estimatedTokens - actualTokens)
            buckets[name] = bucket
        }
    }
}
