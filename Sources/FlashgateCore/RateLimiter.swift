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

    private let origin: Instant
    /// The configured limits; replaced whole by `update` on a config reload.
    private let configured: Mutex<(teams: [String: TeamConfig], keys: [String: KeyConfig])>
    private let state = Mutex(RateLimiterState())

    package init(teams: [TeamConfig], keys: [KeyConfig], origin: Instant) {
        self.origin = origin
        configured = Mutex(Self.index(teams: teams, keys: keys))
    }

    private static func index(teams: [TeamConfig], keys: [KeyConfig]) -> (teams: [String: TeamConfig], keys: [String: KeyConfig]) {
        (
            Dictionary(teams.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            Dictionary(keys.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        )
    }

    /// Applies a reloaded config's teams and keys. Buckets of limits that still exist keep their
    /// level (capped at a lowered capacity); buckets of removed limits are dropped. Open tickets
    /// stay valid and release as usual, so concurrency counts stay exact across the change.
    package func update(teams: [TeamConfig], keys: [KeyConfig]) {
        let index = Self.index(teams: teams, keys: keys)
        var capacities: [String: Int] = [:]
        func add(_ scope: String, _ limits: RateLimits) {
            if let rpm = limits.requestsPerMinute { capacities["\(scope):rpm"] = rpm }
            if let tpm = limits.tokensPerMinute { capacities["\(scope):tpm"] = tpm }
        }
        for key in index.keys.values { add("key:\(key.name)", key.limits) }
        for team in index.teams.values {
            add("team:\(team.id)", team.limits)
            for (model, limits) in team.modelLimits { add("team:\(team.id):model:\(model)", limits) }
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
    func limits(caller: Caller, model: String) -> [(scope: String, limits: RateLimits)] {
        let (teams, keys) = configured.withLock { $0 }
        var result: [(String, RateLimits)] = []
        if !caller.key.isEmpty, let key = keys[caller.key], !key.limits.isEmpty { result.append(("key:\(key.name)", key.limits)) }
        if let team = teams[caller.team] {
            if let perModel = team.modelLimits[model], !perModel.isEmpty {
                result.append(("team:\(team.id):model:\(model)", perModel))
            }
            if !team.limits.isEmpty { result.append(("team:\(team.id)", team.limits)) }
        }
        return result
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

/// The rate limiter's state machine; pure, so every transition is a plain function call.
struct RateLimiterState {
    var buckets: [String: TokenBucket] = [:]
    var inFlight: [String: Int] = [:]
    var open: Set<UInt64> = []
    var nextID: UInt64 = 1

    mutating func admit(_ applicable: [(scope: String, limits: RateLimits)], tokens: Int, nowNanos: Int64) -> RateDecision {
        var takes: [(bucket: String, n: Int)] = []
        var worst: (name: String, wait: Duration)?
        for (scope, limits) in applicable {
            if let max = limits.concurrent, inFlight[scope, default: 0] >= max, worst == nil {
                worst = ("\(scope):concurrent", RateLimiter<ContinuousClock.Instant>.concurrencyRetry)
            }
            for (suffix, limit, n) in [("rpm", limits.requestsPerMinute, 1), ("tpm", limits.tokensPerMinute, tokens)] {
                guard let limit else { continue }
                let name = "\(scope):\(suffix)"
                var bucket = buckets[name] ?? .perMinute(limit)
                bucket.refill(nowNanos: nowNanos)
                buckets[name] = bucket
                if let wait = bucket.wait(for: n), wait > (worst?.wait ?? .zero) { worst = (name, wait) }
                takes.append((name, n))
            }
        }
        if let worst { return .reject(limit: worst.name, retryAfter: worst.wait) }
        var headroom: [RateHeadroom] = []
        for take in takes {
            buckets[take.bucket]?.consume(take.n)
            if let bucket = buckets[take.bucket] {
                headroom.append(RateHeadroom(bucket: take.bucket, limit: bucket.capacity, remaining: max(0, bucket.available)))
            }
        }
        let scopes = applicable.map(\.scope)
        for (scope, limits) in applicable where limits.concurrent != nil { inFlight[scope, default: 0] += 1 }
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
