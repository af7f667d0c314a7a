import Testing

@testable import FlashgateCore

@Suite struct TokenBucketTests {
    @Test func burstIsCapacityAndRetryAfterIsExact() {
        var bucket = TokenBucket.perMinute(60)  // one a second
        for _ in 0..<60 { #expect(bucket.take(1, nowNanos: 0) == nil) }
        #expect(bucket.take(1, nowNanos: 0) == .seconds(1))
        #expect(bucket.take(1, nowNanos: 400_000_000) == .milliseconds(600))
        #expect(bucket.take(1, nowNanos: 1_000_000_000) == nil)
        #expect(bucket.take(3, nowNanos: 1_000_000_000) == .seconds(3))
    }

    @Test func refillIsContinuousAndStopsAtCapacity() {
        var bucket = TokenBucket(capacity: 10, refillAmount: 10, per: .seconds(10))
        #expect(bucket.take(10, nowNanos: 0) == nil)
        bucket.refill(nowNanos: 2_500_000_000)
        #expect(bucket.available == 2)
        bucket.refill(nowNanos: 3_600_000_000_000)
        #expect(bucket.available == 10)
        #expect(bucket.take(11, nowNanos: 3_600_000_000_000) == nil)  // larger than capacity: needs a full bucket
        #expect(bucket.available == -1)
        #expect(bucket.take(1, nowNanos: 3_600_000_000_000) == .seconds(2))
    }

    @Test func timeGoingBackwardsRefillsNothing() {
        var bucket = TokenBucket.perMinute(60)
        #expect(bucket.take(60, nowNanos: 10_000_000_000) == nil)
        #expect(bucket.take(1, nowNanos: 5_000_000_000) == .seconds(1))
    }

    @Test func genericInstant() {
        var bucket = TokenBucket.perMinute(1)
        #expect(bucket.take(1, now: ManualInstant.zero, origin: .zero) == nil)
        #expect(bucket.take(1, now: ManualInstant.zero.advanced(by: .seconds(59)), origin: .zero) == .seconds(1))
    }
}

@Suite struct RateLimiterTests {
    /// Team `a` (3 rpm, 1,000 tpm, 2 concurrent; 100 tpm on `pro`) and its key `k` (2 rpm).
    func config() -> (team: TeamConfig, key: KeyConfig) {
        var team = TeamConfig(id: "a")
        team.limits = RateLimits(requestsPerMinute: 3, tokensPerMinute: 1_000, concurrent: 2)
        team.modelLimits["pro"] = RateLimits(tokensPerMinute: 100)
        var key = KeyConfig(name: "k", team: "a", hashHex: String(repeating: "0", count: 64))
        key.limits = RateLimits(requestsPerMinute: 2)
        return (team, key)
    }

    func limiter() -> RateLimiter<ManualInstant> {
        let (team, key) = config()
        return RateLimiter(teams: [team], keys: [key], origin: .zero)
    }

    let caller = Caller(team: "a", key: "k")

    func ticket(_ d: RateDecision) -> RateTicket? { if case .admit(let t) = d { t } else { nil } }

    @Test func concurrencySlotsAreHeldUntilRelease() {
        let limiter = limiter()
        let t0 = ManualInstant.zero
        let a = ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0))!
        _ = ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0))!
        #expect(limiter.inFlight("team:a") == 2)
        #expect(
            limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0)
                == .reject(limit: "team:a:concurrent", retryAfter: .seconds(1)))
        limiter.release(a, actualTokens: 1, now: t0)
        limiter.release(a, actualTokens: 1, now: t0)  // twice: no effect
        #expect(limiter.inFlight("team:a") == 1)
        #expect(ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0)) != nil)
    }

    /// Calls admitted while a scope had no concurrency limit were not counted in flight, but
    /// their release took one off the count once a reload set a limit, freeing slots the new
    /// calls held: with a limit of 2, four ran at once. Only what admission counted is released.
    @Test func aConcurrencyLimitAddedByAReloadIsNotDrainedByEarlierCalls() {
        var open = TeamConfig(id: "a")
        open.limits = RateLimits(requestsPerMinute: 1_000)
        var capped = open
        capped.limits = RateLimits(requestsPerMinute: 1_000, concurrent: 2)
        let limiter = RateLimiter(teams: [open], keys: [], origin: ManualInstant.zero)
        let t0 = ManualInstant.zero
        let early = (0..<3).compactMap { _ in
            ticket(limiter.admit(caller: Caller(team: "a"), model: "m", estimatedTokens: 1, now: t0))
        }
        #expect(early.count == 3)
        limiter.update(teams: [capped], keys: [])
        let late = (0..<2).compactMap { _ in
            ticket(limiter.admit(caller: Caller(team: "a"), model: "m", estimatedTokens: 1, now: t0))
        }
        #expect(late.count == 2)
        for ticket in early { limiter.release(ticket, actualTokens: 1, now: t0) }
        #expect(limiter.inFlight("team:a") == 2)
        #expect(
            limiter.admit(caller: Caller(team: "a"), model: "m", estimatedTokens: 1, now: t0)
                == .reject(limit: "team:a:concurrent", retryAfter: .seconds(1)))
    }

    @Test func keyRPMNamesTheLimitAndRetryAfter() {
        let limiter = limiter()
        var now = ManualInstant.zero
        for _ in 0..<2 {
            let t = ticket(limiter.admit(caller: caller, model: "flash", estimatedTokens: 10, now: now))!
            limiter.release(t, actualTokens: 10, now: now)
        }
        #expect(limiter.admit(caller: caller, model: "flash", estimatedTokens: 10, now: now) == .reject(limit: "key:k:rpm", retryAfter: .seconds(30)))
        now = now.advanced(by: .seconds(30))
        #expect(ticket(limiter.admit(caller: caller, model: "flash", estimatedTokens: 10, now: now)) != nil)
    }

    @Test func rejectionConsumesNothing() {
        let limiter = limiter()
        let t0 = ManualInstant.zero
        for _ in 0..<2 { #expect(ticket(limiter.admit(caller: caller, model: "flash", estimatedTokens: 10, now: t0)) != nil) }
        #expect(limiter.admit(caller: caller, model: "flash", estimatedTokens: 10, now: t0) == .reject(limit: "key:k:rpm", retryAfter: .seconds(30)))
        #expect(limiter.available("team:a:rpm", now: t0) == 1)
        #expect(limiter.available("team:a:tpm", now: t0) == 980)
    }

    @Test func tpmIsCorrectedByActualMinusEstimate() {
        let limiter = limiter()
        let t0 = ManualInstant.zero
        let t = ticket(limiter.admit(caller: Caller(team: "a"), model: "pro", estimatedTokens: 80, now: t0))!
        #expect(t.headroom.contains(RateHeadroom(bucket: "team:a:model:pro:tpm", limit: 100, remaining: 20)))
        #expect(t.headroom.contains(RateHeadroom(bucket: "team:a:rpm", limit: 3, remaining: 2)))
        #expect(limiter.available("team:a:model:pro:tpm", now: t0) == 20)
        limiter.release(t, actualTokens: 30, now: t0)
        #expect(limiter.available("team:a:model:pro:tpm", now: t0) == 70)
        #expect(limiter.available("team:a:tpm", now: t0) == 970)
        let u = ticket(limiter.admit(caller: Caller(team: "a"), model: "pro", estimatedTokens: 50, now: t0))!
        limiter.release(u, actualTokens: 90, now: t0)  // used more than estimated: a debt
        #expect(limiter.available("team:a:model:pro:tpm", now: t0) == -20)
        #expect(
            limiter.admit(caller: Caller(team: "a"), model: "pro", estimatedTokens: 40, now: t0)
                == .reject(limit: "team:a:model:pro:tpm", retryAfter: .seconds(36)))
    }

    /// A reload numbers the scopes' slots again (here a new key comes first): buckets and
    /// in-flight counts carry over by scope name, and tickets from before it release exactly.
    @Test func aReloadCarriesBucketsAndTicketsOverByName() {
        let limiter = limiter()
        let t0 = ManualInstant.zero
        let a = ticket(limiter.admit(caller: caller, model: "pro", estimatedTokens: 60, now: t0))!
        let b = ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 10, now: t0))!
        #expect(limiter.inFlight("team:a") == 2)

        let (team, key) = config()
        var first = KeyConfig(name: "first", team: "a", hashHex: String(repeating: "1", count: 64))
        first.limits = RateLimits(requestsPerMinute: 50)
        limiter.update(teams: [team], keys: [first, key])

        #expect(limiter.inFlight("team:a") == 2)
        #expect(limiter.available("team:a:rpm", now: t0) == 1)
        #expect(limiter.available("team:a:model:pro:tpm", now: t0) == 40)
        #expect(limiter.available("first:rpm", now: t0) == nil)
        limiter.release(a, actualTokens: 20, now: t0)
        #expect(limiter.inFlight("team:a") == 1)
        #expect(limiter.available("team:a:model:pro:tpm", now: t0) == 80)
        limiter.release(b, actualTokens: 10, now: t0)
        #expect(limiter.inFlight("team:a") == 0)
        // One of the team's three requests a minute is left.
        #expect(ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0)) != nil)
        #expect(
            limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0)
                == .reject(limit: "team:a:rpm", retryAfter: .seconds(20)))
    }

    /// A seeded run of 3,000 admissions, releases, clock steps and reloads between three configs
    /// that renumber the slots (other team and key orders, a team and a key dropped and back):
    /// every admission keeps the concurrency and request-rate limits of the config it ran under,
    /// the in-flight counts are the tickets out, and all go back to zero once they come home.
    @Test func reloadsKeepEveryLimitAndCountUnderARandomRun() {
        func team(_ id: String, rpm: Int? = nil, concurrent: Int) -> TeamConfig {
            var team = TeamConfig(id: id)
            team.limits = RateLimits(requestsPerMinute: rpm, concurrent: concurrent)
            return team
        }
        func key(_ name: String, _ team: String, rpm: Int, _ digit: Character) -> KeyConfig {
            var key = KeyConfig(name: name, team: team, hashHex: String(repeating: digit, count: 64))
            key.limits = RateLimits(requestsPerMinute: rpm)
            return key
        }
        var proTeam = team("a", rpm: 30, concurrent: 2)
        proTeam.modelLimits["pro"] = RateLimits(tokensPerMinute: 500)
        let configs: [(teams: [TeamConfig], keys: [KeyConfig], aConcurrent: Int, bConfigured: Bool)] = [
            ([team("a", rpm: 30, concurrent: 3), team("b", concurrent: 1)], [key("k", "a", rpm: 20, "1")], 3, true),
            ([team("b", rpm: 5, concurrent: 1), proTeam], [key("j", "b", rpm: 3, "2"), key("k", "a", rpm: 20, "1")], 2, true),
            ([team("a", rpm: 30, concurrent: 3)], [], 3, false),
        ]
        let limiter = RateLimiter<ManualInstant>(teams: configs[0].teams, keys: configs[0].keys, origin: .zero)
        var current = configs[0]
        var random = SeededRandom(seed: 424_242)
        var now = ManualInstant.zero
        // Each ticket out, and whether its team had limits (a scope to hold) when it was admitted.
        var out: [(team: String, held: Bool, ticket: RateTicket)] = []
        var admittedA: [Int64] = []  // when team a's calls were admitted, for its 30 a minute
        func outstanding(_ team: String) -> Int { out.filter { $0.team == team && $0.held }.count }
        for step in 0..<3_000 {
            switch Int.random(in: 0..<20, using: &random) {
            case 0:
                current = configs.randomElement(using: &random)!
                limiter.update(teams: current.teams, keys: current.keys)
            case 1...5 where !out.isEmpty:
                let ticket = out.remove(at: Int.random(in: 0..<out.count, using: &random)).ticket
                limiter.release(ticket, actualTokens: Int.random(in: 0...50, using: &random), now: now)
            case 6...8:
                now = now.advanced(by: .milliseconds(Int.random(in: 1...1_000, using: &random)))
            default:
                let caller = [Caller(team: "a", key: "k"), Caller(team: "a"), Caller(team: "b"), Caller(team: "b", key: "j")]
                    .randomElement(using: &random)!
                let model = Bool.random(using: &random) ? "flash" : "pro"
                let before = outstanding(caller.team)
                guard case .admit(let ticket) = limiter.admit(caller: caller, model: model, estimatedTokens: 10, now: now)
                else { continue }
                out.append((caller.team, caller.team == "a" || current.bConfigured, ticket))
                if caller.team == "a" {
                    #expect(before < current.aConcurrent, "step \(step): team a over its concurrency")
                    admittedA.append(now.nanos)
                    // A bucket of 30 refilled at 30 a minute: no window holds more than 30 + its share.
                    for start in admittedA where now.nanos - start <= 120_000_000_000 {
                        let inWindow = admittedA.filter { $0 >= start }.count
                        let allowed = 30 + Int((now.nanos - start) / 2_000_000_000)
                        #expect(inWindow <= allowed, "step \(step): \(inWindow) calls since \(start), allowed \(allowed)")
                    }
                } else if current.bConfigured {
                    #expect(before == 0, "step \(step): team b over its one concurrent call")
                }
            }
            #expect(limiter.inFlight("team:a") == outstanding("a"), "step \(step)")
            if current.bConfigured { #expect(limiter.inFlight("team:b") == outstanding("b"), "step \(step)") }
        }
        for (_, _, ticket) in out { limiter.release(ticket, actualTokens: 1, now: now) }
        #expect(limiter.inFlight("team:a") == 0)
        #expect(limiter.inFlight("team:b") == 0)
    }

    /// Limits removed while a call holds a slot: its release is harmless, and limits that come
    /// back start full.
    @Test func aReloadThatDropsAScopeLetsItsTicketsGo() {
        let limiter = limiter()
        let t0 = ManualInstant.zero
        let held = ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 10, now: t0))!
        limiter.update(teams: [TeamConfig(id: "a")], keys: [])
        #expect(limiter.inFlight("team:a") == 1)
        #expect(limiter.available("team:a:rpm", now: t0) == nil)
        #expect(ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 10, now: t0)) != nil)
        limiter.release(held, actualTokens: 10, now: t0)
        #expect(limiter.inFlight("team:a") == 0)
        var team = TeamConfig(id: "a")
        team.limits = RateLimits(requestsPerMinute: 3)
        limiter.update(teams: [team], keys: [])
        _ = ticket(limiter.admit(caller: Caller(team: "a"), model: "flash", estimatedTokens: 1, now: t0))!
        #expect(limiter.available("team:a:rpm", now: t0) == 2)
    }
}
