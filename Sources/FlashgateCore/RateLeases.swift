import Synchronization

/// Rate limits shared across hosts (`shared:`): every team's and key's RPM and TPM is counted per
/// fixed window (a minute of the hosts' wall clock, numbered from the Unix epoch), and each host
/// admits calls in memory against chunks of the current window it leased from Redis. A chunk is
/// sized by this host's demand (its calls this window or the last, at least 8 and at most
/// twice `lease_calls` calls) and asked for ahead of need, when less than `prefetch_percent` of
/// it is left; what a host does not use of a window simply lapses with it.
///
/// Invariant, per bucket and window: what this host admits (`taken`) never exceeds what Redis
/// confirmed for it (`granted`, whose sum over hosts the script keeps within the limit) — except
/// under the `local_share` outage policy, where `granted` may be raised to that share on this
/// host alone, and by a TPM correction of a call that used more tokens than estimated (a debt the
/// window's later calls wait out).
package final class RateLeases: Sendable {
    /// How long a window is: RPM and TPM are per minute.
    package static let windowMs: Int64 = 60_000

    struct Bucket {
        var window: Int64
        var limit: Int64
        /// Confirmed by Redis for this host in this window (or its local share in an outage).
        var granted: Int64 = 0
        var taken: Int64 = 0
        /// The grant in flight for this bucket, if any.
        var asking: LeaseLatch?
        /// The limit less what every host holds, as Redis last answered (nil: not asked yet).
        var clusterLeft: Int64?
        var calls: Int64 = 0
        var previousCalls: Int64 = 0
        /// A running average of what a call takes (1 for RPM, its tokens for TPM).
        var typical: Int64
    }

    private let configured: Mutex<(teams: [String: TeamConfig], keys: [String: KeyConfig])>
    private let state = Mutex([String: Bucket]())
    let callsPerLease: Int64
    let prefetchPercent: Int64
    let outageSharePercent: Int64?

    /// `outageSharePercent`: under `local_share`, the part of each limit a host may admit per
    /// window on its own while Redis is unreachable (nil under `refuse`).
    package init(callsPerLease: Int, prefetchPercent: Int, outageSharePercent: Int?) {
        self.callsPerLease = Int64(max(1, callsPerLease))
        self.prefetchPercent = Int64(prefetchPercent)
        self.outageSharePercent = outageSharePercent.map(Int64.init)
        configured = Mutex(([:], [:]))
    }

    /// The configured (whole-cluster) limits; replaced at a reload.
    package func update(teams: [TeamConfig], keys: [KeyConfig]) {
        let index = (
            Dictionary(teams.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a }),
            Dictionary(keys.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        )
        configured.withLock { $0 = index }
    }

    /// The RPM and TPM buckets `caller` on `model` counts against, with what this call takes.
    func buckets(caller: Caller, model: String, tokens: Int64) -> [(name: String, limit: Int64, n: Int64)] {
        let (teams, keys) = configured.withLock { $0 }
        var scopes: [(String, RateLimits)] = []
        if !caller.key.isEmpty, let key = keys[caller.key] { scopes.append(("key:\(key.name)", key.limits)) }
        if let team = teams[caller.team] {
            if let perModel = team.modelLimits[model] { scopes.append(("team:\(team.id):model:\(model)", perModel)) }
            scopes.append(("team:\(team.id)", team.limits))
        }
        var result: [(String, Int64, Int64)] = []
        for (scope, limits) in scopes {
            if let rpm = limits.requestsPerMinute { result.append(("\(scope):rpm", Int64(rpm), 1)) }
            if let tpm = limits.tokensPerMinute { result.append(("\(scope):tpm", Int64(tpm), tokens)) }
        }
        return result
    }

    /// Takes one request and `tokens` from every bucket of `caller`, in memory, when the chunks
    /// this host holds for the current window cover them; else says what to ask Redis for and
    /// which grant to wait for, or refuses when the cluster has nothing left for this window.
    /// Nil when no RPM or TPM limit applies.
    package func admit(caller: Caller, model: String, tokens: Int, nowMs: Int64) -> RateLeaseDecision? {
        let wanted = buckets(caller: caller, model: model, tokens: Int64(max(0, tokens)))
        guard !wanted.isEmpty else { return nil }
        let window = nowMs / Self.windowMs
        let untilWindowEnd = Duration.milliseconds(max(1, (window + 1) * Self.windowMs - nowMs))
        return state.withLock { buckets in
            var current: [Bucket] = []
            for (name, limit, n) in wanted {
                var bucket = buckets[name] ?? Bucket(window: window, limit: limit, typical: max(1, n))
                if bucket.window != window {
                    let previous = bucket.window == window - 1 ? bucket.calls : 0
                    bucket = Bucket(window: window, limit: limit, previousCalls: previous, typical: bucket.typical)
                }
                bucket.limit = limit
                current.append(bucket)
            }
            let short = wanted.indices.filter { current[$0].taken + wanted[$0].n > current[$0].granted }
            guard short.isEmpty else {
                var request = RateRequest(latch: LeaseLatch())
                var waitOn: LeaseLatch?
                for i in short {
                    let need = current[i].taken + wanted[i].n - current[i].granted
                    if let left = current[i].clusterLeft, need > left {
                        for (j, bucket) in current.enumerated() { buckets[wanted[j].name] = bucket }
                        return .reject(bucket: wanted[i].name, retryAfter: untilWindowEnd)
                    }
                    if let asking = current[i].asking {
                        waitOn = waitOn ?? asking
                        continue
                    }
                    request.wants.append(want(current[i], name: wanted[i].name, need: need))
                    current[i].asking = request.latch
                }
                for (j, bucket) in current.enumerated() { buckets[wanted[j].name] = bucket }
                let bucket = wanted[short[0]].name
                let mark = RateGrantMark(window: window, granted: current.reduce(0) { $0 + $1.granted })
                if request.wants.isEmpty {
                    return .wait(waitOn ?? request.latch, bucket: bucket, request: nil, mark: mark)
                }
                return .wait(request.latch, bucket: bucket, request: request, mark: mark)
            }
            var take = RateTake(window: window)
            var headroom: [RateHeadroom] = []
            var request = RateRequest(latch: LeaseLatch())
            for (i, (name, limit, n)) in wanted.enumerated() {
                var bucket = current[i]
                bucket.taken += n
                bucket.calls += 1
                bucket.typical = max(1, (bucket.typical * 7 + n) / 8)
                take.buckets.append(name)
                take.amounts.append(n)
                let left = bucket.granted - bucket.taken
                headroom.append(
                    RateHeadroom(bucket: name, limit: limit, remaining: max(0, left + max(0, bucket.clusterLeft ?? 0))))
                if bucket.asking == nil, (bucket.clusterLeft ?? 1) > 0,
                    left * 100 < chunk(bucket) * prefetchPercent
                {
                    request.wants.append(want(bucket, name: name, need: 0))
                    bucket.asking = request.latch
                }
                buckets[name] = bucket
            }
            return .admit(take, headroom: headroom, request: request.wants.isEmpty ? nil : request)
        }
    }

    /// A chunk: this host's demand in calls (this window's or the last's, at least 8, at most
    /// twice `lease_calls`) at the size its calls have been taking.
    private func chunk(_ bucket: Bucket) -> Int64 {
        min(2 * callsPerLease, max(8, bucket.calls, bucket.previousCalls)) * bucket.typical
    }

    private func want(_ bucket: Bucket, name: String, need: Int64) -> RateWant {
        RateWant(
            bucket: name, window: bucket.window, limit: bucket.limit, base: bucket.granted,
            amount: max(need, chunk(bucket)), need: need)
    }

    /// Redis answered `request`: per want, what it granted and what is left across hosts; nil
    /// when it could not be reached. Wakes whoever waits for the grant.
    package func finish(_ request: RateRequest, answers: [(granted: Int64, clusterLeft: Int64)]?) {
        let covered: Bool = state.withLock { buckets in
            for (i, want) in request.wants.enumerated() {
                guard var bucket = buckets[want.bucket], bucket.window == want.window else { continue }
                if let answers, i < answers.count {
                    bucket.granted = want.base + answers[i].granted
                    bucket.clusterLeft = answers[i].clusterLeft
                } else if let share = outageSharePercent {
                    bucket.granted = max(bucket.granted, bucket.limit * share / 100)
                }
                if bucket.asking === request.latch { bucket.asking = nil }
                buckets[want.bucket] = bucket
            }
            return answers != nil || outageSharePercent != nil
        }
        request.latch.finish(durable: covered, refusal: covered ? nil : .unavailable)
    }

    /// A settled call: its TPM buckets are corrected by actual − estimated tokens, in the window
    /// it was admitted in (a window that ended is left alone).
    package func settle(_ take: RateTake, actualTokens: Int) {
        state.withLock { buckets in
            for (name, n) in zip(take.buckets, take.amounts) where name.hasSuffix(":tpm") {
                guard var bucket = buckets[name], bucket.window == take.window else { continue }
                bucket.taken = max(0, bucket.taken + Int64(max(0, actualTokens)) - n)
                buckets[name] = bucket
            }
        }
    }

    /// What this host holds of a bucket's current window: (granted, taken), for tests and metrics.
    package func holding(_ bucket: String) -> (granted: Int64, taken: Int64)? {
        state.withLock { $0[bucket].map { ($0.granted, $0.taken) } }
    }
}

/// The window and the sum of what this host had been granted in it of one call's buckets when
/// the call was told to wait. Within a window grants only grow, so a wait after which the mark
/// has neither grown nor moved to a new window brought nothing new.
package struct RateGrantMark: Sendable, Equatable {
    package var window: Int64
    package var granted: Int64

    /// Whether grants arrived (or a new window began) between `earlier` and this mark.
    package func isAhead(of earlier: RateGrantMark) -> Bool {
        window != earlier.window || granted > earlier.granted
    }
}

/// What one call took from the rate buckets, to correct its tokens at settlement.
package struct RateTake: Sendable {
    package var window: Int64
    package var buckets: [String] = []
    package var amounts: [Int64] = []
}

/// One bucket's ask to Redis: more of `window` on top of the `base` this host holds.
package struct RateWant: Sendable {
    package var bucket: String
    package var window: Int64
    package var limit: Int64
    package var base: Int64
    package var amount: Int64
    /// What calls already wait for (0 for a chunk asked ahead of need).
    package var need: Int64
}

/// The wants of one Redis call, and the latch its waiters wait on.
package struct RateRequest: Sendable {
    package var wants: [RateWant] = []
    package let latch: LeaseLatch

    package init(latch: LeaseLatch) { self.latch = latch }
}

/// A leased rate verdict: admitted from held chunks (with a chunk to fetch ahead, maybe); to
/// wait for a grant and then try again; or refused until the window ends.
package enum RateLeaseDecision: Sendable {
    case admit(RateTake, headroom: [RateHeadroom], request: RateRequest?)
    case wait(LeaseLatch, bucket: String, request: RateRequest?, mark: RateGrantMark)
    case reject(bucket: String, retryAfter: Duration)
}

extension RateLimits {
    /// The limits leased across hosts (RPM and TPM), without concurrency.
    package var leasedRates: RateLimits {
        RateLimits(requestsPerMinute: requestsPerMinute, tokensPerMinute: tokensPerMinute, concurrent: nil)
    }
}
