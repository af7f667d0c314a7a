import Synchronization

/// Proof that a request was admitted by the rate limiter: what it took, so `release` can return
/// its concurrency slots and correct its token estimate exactly once.
package struct RateTicket: Sendable, Hashable {
    package let id: UInt64
    package let estimatedTokens: Int
    /// Scopes (`key:<name>`, `team:<id>`, `team:<id>:model:<model>`) the request counted against.
    package let scopes: [String]
    /// Their slots in the limiter's state, valid while its config is the one of `generation`.
    var slots: [Int] = []
    /// Per scope, whether admission counted it in flight (a concurrency limit was set then):
    /// release gives back only those, so a limit added by a reload is not drained by calls
    /// admitted before it (which had let twice the limit run at once).
    var countedInFlight: [Bool] = []
    var generation: UInt64 = 0
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
///
/// Each configured scope has a slot (its buckets and its in-flight count) numbered when the
/// config is read; an admission finds its scopes and their slots in one lock, with no string
/// hashing of bucket names. A reload numbers the slots again and carries each surviving scope's
/// state over by name; a ticket from before it releases by scope name.
package final class RateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    /// Retry-After for a full concurrency limit: a slot frees when some request ends, which no
    /// clock predicts; one second is a polite polling interval.
    package static var concurrencyRetry: Duration { .seconds(1) }

    private let origin: Instant
    private let state: Mutex<RateLimiterState>

    package init(teams: [TeamConfig], keys: [KeyConfig], origin: Instant) {
        self.origin = origin
        var initial = RateLimiterState()
        initial.configure(RateLimiterState.Index(teams: teams, keys: keys))
        state = Mutex(initial)
    }

    /// Applies a reloaded config's teams and keys. Buckets of limits that still exist keep their
    /// level (capped at a lowered capacity); buckets of removed limits are dropped. Open tickets
    /// stay valid and release as usual, so concurrency counts stay exact across the change.
    package func update(teams: [TeamConfig], keys: [KeyConfig]) {
        let index = RateLimiterState.Index(teams: teams, keys: keys)
        state.withLock { $0.configure(index) }
    }

    package func admit(caller: Caller, model: String, estimatedTokens: Int, now: Instant) -> RateDecision {
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        return state.withLock { state in
            let applicable = state.index.scopes(caller: caller, model: model)
            return state.admit(applicable, tokens: max(0, estimatedTokens), nowNanos: nanos)
        }
    }

    /// Frees the ticket's concurrency slots and corrects its TPM buckets by actual − estimated.
    /// Releasing a ticket twice does nothing the second time.
    package func release(_ ticket: RateTicket, actualTokens: Int, now: Instant) {
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        state.withLock { $0.release(ticket, actualTokens: max(0, actualTokens), nowNanos: nanos) }
    }

    /// Requests in flight in one scope, for metrics and tests.
    package func inFlight(_ scope: String) -> Int {
        state.withLock { state in state.slotByName[scope].map { state.slots[$0].inFlight } ?? 0 }
    }

    /// Whole tokens left in one bucket (`team:a:rpm`), after refilling to `now`; nil for a bucket
    /// no configured limit has.
    package func available(_ bucket: String, now: Instant) -> Int64? {
        let nanos = TokenBucket.nanos(origin.duration(to: now))
        return state.withLock { state in
            for kind in RateLimiterState.BucketKind.allCases where bucket.hasSuffix(kind.suffix) {
                guard let slot = state.slotByName[String(bucket.dropLast(kind.suffix.count))],
                    state.slots[slot][kind] != nil
                else { return nil }
                state.slots[slot][kind]?.refill(nowNanos: nanos)
                return state.slots[slot][kind]?.available
            }
            return nil
        }
    }
}

/// A scope with limits (`key:<name>`, `team:<id>`, `team:<id>:model:<model>`), the names of its
/// buckets and its slot in the limiter's state, built when the config is read rather than on
/// every admission.
struct RateScope: Sendable {
    let name: String
    let limits: RateLimits
    let rpmBucket: String
    let tpmBucket: String
    /// Where its buckets and in-flight count are (`RateLimiterState.slots`).
    let slot: Int

    init(_ name: String, _ limits: RateLimits, slot: Int) {
        self.name = name
        self.limits = limits
        self.slot = slot
        rpmBucket = name + ":rpm"
        tpmBucket = name + ":tpm"
    }
}

/// The rate limiter's state machine; pure, so every transition is a plain function call.
struct RateLimiterState {
    enum BucketKind: CaseIterable {
        case rpm, tpm
        var suffix: String { self == .rpm ? ":rpm" : ":tpm" }
    }

    /// One scope's state: its buckets (nil where it has no such limit) and its requests in flight.
    struct Slot {
        var name: String
        var rpm: TokenBucket?
        var tpm: TokenBucket?
        var inFlight = 0

        subscript(kind: BucketKind) -> TokenBucket? {
            get { kind == .rpm ? rpm : tpm }
            set { if kind == .rpm { rpm = newValue } else { tpm = newValue } }
        }
    }

    /// The configured limits by scope, their names and slots built once.
    struct Index {
        /// A team's limits: its own scope and one per model it limits.
        struct TeamScopes {
            var team: RateScope?
            var models: [String: RateScope]
        }

        var teams: [String: TeamScopes] = [:]
        var keys: [String: RateScope] = [:]
        /// Every scope, by slot.
        var all: [RateScope] = []

        init() {}

        /// Scopes with limits only; the first of a duplicated id or name wins.
        init(teams: [TeamConfig], keys: [KeyConfig]) {
            var seenKeys: Set<String> = []
            func scope(_ name: String, _ limits: RateLimits) -> RateScope {
                let made = RateScope(name, limits, slot: all.count)
                all.append(made)
                return made
            }
            for key in keys where seenKeys.insert(key.name).inserted && !key.limits.isEmpty {
                self.keys[key.name] = scope("key:\(key.name)", key.limits)
            }
            for team in teams where self.teams[team.id] == nil {
                var models: [String: RateScope] = [:]
                for (model, limits) in team.modelLimits.sorted(by: { $0.key < $1.key }) where !limits.isEmpty {
                    models[model] = scope("team:\(team.id):model:\(model)", limits)
                }
                let own = team.limits.isEmpty ? nil : scope("team:\(team.id)", team.limits)
                self.teams[team.id] = TeamScopes(team: own, models: models)
            }
        }

        /// The limits that apply to `caller` on `model`, most specific first.
        func scopes(caller: Caller, model: String) -> [RateScope] {
            var result: [RateScope] = []
            if !caller.key.isEmpty, let key = keys[caller.key] { result.append(key) }
            if let team = teams[caller.team] {
                if let perModel = team.models[model] { result.append(perModel) }
                if let own = team.team { result.append(own) }
            }
            return result
        }
    }

    var index = Index()
    var slots: [Slot] = []
    var slotByName: [String: Int] = [:]
    /// Counts `configure` calls: a ticket's slots are read only in the generation that gave them.
    var generation: UInt64 = 0
    var open: Set<UInt64> = []
    var nextID: UInt64 = 1

    /// Takes `index` as the configured limits: a scope that keeps its name keeps its buckets'
    /// levels (a bucket whose capacity changed is resized, one whose limit went away dropped) and
    /// its in-flight count; a new limit's bucket is made, full, when a call first uses it.
    mutating func configure(_ index: Index) {
        var fresh: [Slot] = []
        fresh.reserveCapacity(index.all.count)
        var names: [String: Int] = [:]
        for scope in index.all {
            let old = slotByName[scope.name].map { slots[$0] }
            var slot = Slot(name: scope.name, inFlight: old?.inFlight ?? 0)
            slot.rpm = Self.bucket(old?.rpm, limit: scope.limits.requestsPerMinute)
            slot.tpm = Self.bucket(old?.tpm, limit: scope.limits.tokensPerMinute)
            names[scope.name] = fresh.count
            fresh.append(slot)
        }
        // A scope whose limits all went away keeps its in-flight count, with no buckets, so
        // tickets taken before the reload still release exactly.
        for (name, at) in slotByName where names[name] == nil && slots[at].inFlight > 0 {
            names[name] = fresh.count
            fresh.append(Slot(name: name, inFlight: slots[at].inFlight))
        }
        self.index = index
        slots = fresh
        slotByName = names
        generation += 1
    }

    /// A surviving bucket under its (possibly changed) limit; none for a removed limit. A bucket
    /// is made when a call first uses it, as full.
    private static func bucket(_ old: TokenBucket?, limit: Int?) -> TokenBucket? {
        guard let limit, let old else { return nil }
        return Int64(limit) == old.capacity ? old : old.resized(capacity: limit)
    }

    mutating func admit(_ applicable: [RateScope], tokens: Int, nowNanos: Int64) -> RateDecision {
        var worst: (name: String, wait: Duration)?
        for scope in applicable {
            if let max = scope.limits.concurrent, slots[scope.slot].inFlight >= max, worst == nil {
                worst = ("\(scope.name):concurrent", RateLimiter<ContinuousClock.Instant>.concurrencyRetry)
            }
            if let limit = scope.limits.requestsPerMinute,
                let wait = refillAndWait(scope.slot, .rpm, limit, 1, nowNanos), wait > (worst?.wait ?? .zero)
            {
                worst = (scope.rpmBucket, wait)
            }
            if let limit = scope.limits.tokensPerMinute,
                let wait = refillAndWait(scope.slot, .tpm, limit, tokens, nowNanos), wait > (worst?.wait ?? .zero)
            {
                worst = (scope.tpmBucket, wait)
            }
        }
        if let worst { return .reject(limit: worst.name, retryAfter: worst.wait) }
        var headroom: [RateHeadroom] = []
        headroom.reserveCapacity(applicable.count * 2)
        var scopes: [String] = []
        scopes.reserveCapacity(applicable.count)
        var taken: [Int] = []
        taken.reserveCapacity(applicable.count)
        var counted: [Bool] = []
        counted.reserveCapacity(applicable.count)
        for scope in applicable {
            if let bucket = consume(scope.slot, .rpm, 1) {
                headroom.append(
                    RateHeadroom(bucket: scope.rpmBucket, limit: bucket.capacity, remaining: max(0, bucket.available)))
            }
            if let bucket = consume(scope.slot, .tpm, tokens) {
                headroom.append(
                    RateHeadroom(bucket: scope.tpmBucket, limit: bucket.capacity, remaining: max(0, bucket.available)))
            }
            if scope.limits.concurrent != nil { slots[scope.slot].inFlight += 1 }
            counted.append(scope.limits.concurrent != nil)
            scopes.append(scope.name)
            taken.append(scope.slot)
        }
        var ticket = RateTicket(id: nextID, estimatedTokens: tokens, scopes: scopes)
        ticket.headroom = headroom
        ticket.slots = taken
        ticket.countedInFlight = counted
        ticket.generation = generation
        nextID += 1
        open.insert(ticket.id)
        return .admit(ticket)
    }

    /// Refills one of a slot's buckets (made full at `limit` if it was never used) to now; how
    /// long until it holds `n` (nil: it does now).
    private mutating func refillAndWait(
        _ slot: Int, _ kind: BucketKind, _ limit: Int, _ n: Int, _ nowNanos: Int64
    ) -> Duration? {
        var bucket = slots[slot][kind] ?? .perMinute(limit)
        bucket.refill(nowNanos: nowNanos)
        slots[slot][kind] = bucket
        return bucket.wait(for: n)
    }

    /// Takes `n` from one of a slot's buckets; the bucket after, or nil when there is none.
    private mutating func consume(_ slot: Int, _ kind: BucketKind, _ n: Int) -> TokenBucket? {
        guard var bucket = slots[slot][kind] else { return nil }
        bucket.consume(n)
        slots[slot][kind] = bucket
        return bucket
    }

    mutating func release(_ ticket: RateTicket, actualTokens: Int, nowNanos: Int64) {
        guard open.remove(ticket.id) != nil else { return }
        for (position, scope) in ticket.scopes.enumerated() {
            let at: Int?
            if ticket.generation == generation, position < ticket.slots.count {
                at = ticket.slots[position]
            } else {
                at = slotByName[scope]
            }
            guard let at else { continue }
            if position < ticket.countedInFlight.count ? ticket.countedInFlight[position] : true {
                slots[at].inFlight = max(0, slots[at].inFlight - 1)
            }
            guard slots[at].tpm != nil else { continue }
            slots[at].tpm!.refill(nowNanos: nowNanos)
            slots[at].tpm!.give(back: ticket.estimatedTokens - actualTokens)
        }
    }
}
