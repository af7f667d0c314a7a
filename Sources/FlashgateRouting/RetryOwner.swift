import FlashgateCore
import Logging
import Synchronization

/// The one retry owner: it makes every upstream attempt of a call, and nothing below it retries.
///
/// Each attempt goes to a route its circuit breaker allows, untried routes first. After a failed
/// attempt `RetryLoop` decides: give up (not retryable, budget or deadline spent), fail over at
/// once (a per-day quota, an open breaker, or simply another route that has not been tried), or
/// wait (exponential backoff with full jitter, floored by the upstream's `retryDelay` /
/// `Retry-After`) and come back. An answer that ends or breaks before its first event counts as a
/// broken connection. A key answered with 429, 401 or 403 is set aside and the next key of the
/// same route is tried at once. A route whose keys all answered a per-day quota is out for the
/// rest of the request and, through `RouteHealth`, for every request until the quota resets.
/// With hedging on, a slow first attempt gets one twin on the next route; the first to start
/// answering wins and the other is cancelled. It knows nothing of HTTP or money: what a hedge's
/// losing attempt owes comes out as its `AttemptFate`, which the pipeline maps to a settlement.
///
/// Invariants: at most `retry.maxAttempts` upstream calls per client call, hedges included; no
/// attempt starts after the deadline; every attempt is recorded once in `RouteHealth`; a call is
/// "started" only when its first event is read, so failover never happens after a client has
/// seen a byte.
package final class RetryOwner: Sendable {
    let routes: RouteTable
    let health: RouteHealth
    let policy: RetryPolicy
    let logger: Logger
    private let random: Mutex<any RandomNumberGenerator & Sendable>
    /// Unix seconds, for `Retry-After` dates.
    let wallSeconds: @Sendable () -> Int64

    package init(
        routes: RouteTable, health: RouteHealth, policy: RetryPolicy, logger: Logger,
        random: any RandomNumberGenerator & Sendable, wallSeconds: @escaping @Sendable () -> Int64
    ) {
        self.routes = routes
        self.health = health
        self.policy = policy
        self.logger = logger
        self.random = Mutex(random)
        self.wallSeconds = wallSeconds
    }

    var clock: any RetryClock { health.clock }

    /// Makes attempts until one starts answering or the loop gives up.
    /// - Parameter admitNext: asked before every attempt after the first (not a hedge), with the
    ///   route it goes to and how the attempt before it ended; false (no budget for it) ends the
    ///   call with the last failure. The pipeline takes a reservation of its own there for an
    ///   attempt after one that was cut off (that one may have been billed) or for a route whose
    ///   model costs more.
    /// - Parameter admitHedge: asked before a hedge starts; false (no budget) means no hedge.
    package func run(
        _ call: UpstreamCall, admitNext: @Sendable (ResolvedRoute, AttemptFate) async -> Bool = { _, _ in true },
        admitHedge: @Sendable (ResolvedRoute) async -> Bool = { _ in true }
    ) async -> UpstreamOutcome {
        let loop = RetryLoop(policy: policy)
        let started = clock.now()
        var attempts: [AttemptRecord] = []
        var tried: Set<String> = []
        // Routes that answered a per-day quota: out for the rest of this request.
        var exhausted: Set<String> = []
        var hedgeLoser: HedgeLoser?
        var hedged = false
        // How the last attempt (not a hedge) ended; nil before the first.
        var previousFate: AttemptFate?
        var lastError = FlashgateError(.unavailable, "no upstream route is available for this model")
        // The route and the time of the next attempt.
        var next: (target: ResolvedRoute, at: Tick)?
        if let first = pick(call.plan, tried: tried, prefer: nil) { next = (first, started) }
        while let (target, at) = next {
            if at > clock.now() {
                do { try await clock.sleep(until: at) } catch {
                    return UpstreamOutcome(
                        answer: .failure(Self.cancelled), attempts: attempts, hedgeLoser: hedgeLoser,
                        finalFate: previousFate)
                }
            }
            if Task.isCancelled {
                return UpstreamOutcome(
                    answer: .failure(Self.cancelled), attempts: attempts, hedgeLoser: hedgeLoser,
                    finalFate: previousFate)
            }
            // Every attempt after the first is admitted on its own (a reservation of its own
            // when the one before may have been billed, or the route's model costs more).
            // The first attempt too, when it goes to a route priced as another model than the
            // primary's (whose price the call was admitted at): its breaker was open.
            let before =
                previousFate ?? (target.pricedModel != call.plan.primary.pricedModel ? AttemptFate.refused : nil)
            if let previous = before, !(await admitNext(target, previous)) {
                logger.info(
                    "no budget for another upstream attempt",
                    metadata: ["route": "\(target.route.name)", "attempts": "\(attempts.count)"])
                return UpstreamOutcome(
                    answer: .failure(lastError), attempts: attempts, hedgeLoser: hedgeLoser, finalFate: previous)
            }
            tried.insert(target.route.name)
            var result: AttemptResult
            if !hedged, let hedge = call.plan.hedge, attempts.count + 2 <= policy.maxAttempts,
                let threshold = hedge.after ?? health.p95(target.route.name).map({ max($0, Self.minimumDerivedHedge) }),
                // A hedge would start past the retry deadline: none (no attempt starts after it).
                started.duration(to: clock.now()) + threshold < policy.deadline,
                let twin = call.plan.targets.first(where: {
                    !tried.contains($0.route.name) && !health.isOutOfDailyQuota($0.route.name, now: clock.now())
                })
            {
                let race = await self.race(target, twin, threshold: threshold, call, admitHedge: admitHedge)
                attempts += race.records
                if race.hedgeStarted {
                    hedged = true
                    tried.insert(twin.route.name)
                    hedgeLoser = race.loser
                }
                result = race.result
                previousFate = race.primaryFate ?? Self.fate(of: race.result)?.fate
            } else {
                result = await attempt(target, call, hedge: false)
                attempts.append(result.record)
                previousFate = Self.fate(of: result)?.fate
            }
            switch result {
            case .started(let answer, _):
                health.breakers.recordSuccess(answer.target.route.name, now: clock.now())
                return UpstreamOutcome(answer: .success(answer), attempts: attempts, hedgeLoser: hedgeLoser)
            case .failed(let error, var failure, let record, let keyIndex):
                lastError = error
                // A refused OAuth token is minted again and tried once more (`attempt`); a second
                // 401 from the route in this request is the account's, not the token's.
                if case .status(401) = record.outcome, failure.isRetryable,
                    attempts.lazy.filter({ $0.route == record.route && $0.outcome == .status(401) }).count > 1
                {
                    failure.isRetryable = false
                }
                if record.outcome == .cancelled || Task.isCancelled {
                    return UpstreamOutcome(
                        answer: .failure(error), attempts: attempts, hedgeLoser: hedgeLoser, finalFate: previousFate)
                }
                let route = record.route
                let failedTarget = call.plan.targets.first { $0.route.name == route } ?? target
                let now = clock.now()
                // A context cache Gemini no longer knows: forgotten, and the full body sent once
                // more on the same route, within the attempt budget and the deadline.
                if let use = call.contextCache, use.isGone(error, route: route) {
                    use.forget()
                    if attempts.count < policy.maxAttempts,
                        now.duration(to: started.advanced(by: policy.deadline)) > .zero
                    {
                        next = (failedTarget, now)
                        continue
                    }
                }
                // A per-day quota holds until Google's daily reset (see `dailyQuotaReset`).
                let dailyReset = failure.dailyQuotaReset(nowUnixSeconds: wallSeconds())
                // One key of several refused: set it aside and use the next key at once.
                if let keyIndex, let ring = routes.keys(route), ring.count > 1, case .status(let status) = failure.cause,
                    [401, 403, 429].contains(status), attempts.count < policy.maxAttempts,
                    now.duration(to: started.advanced(by: policy.deadline)) > .zero
                {
                    let aside = dailyReset ?? failure.retryDelay ?? (status == 429 ? .seconds(60) : .seconds(600))
                    if ring.setAside(keyIndex, until: now.advanced(by: aside), now: now) {
                        next = (failedTarget, now)
                        continue
                    }
                }
                // No key of this route has quota left today: out for this request and until the reset.
                if let dailyReset {
                    exhausted.insert(route)
                    health.takeOutForDailyQuota(route, for: dailyReset)
                }
                let open = health.breakers.record(failure, route: route, now: now)
                let decision = random.withLock { random in
                    loop.next(
                        after: failure, attempt: attempts.count, elapsed: started.duration(to: now), routeOpen: open,
                        random: &random)
                }
                switch decision {
                case .giveUp(let reason):
                    if attempts.count > 1 {
                        logger.info(
                            "upstream attempts exhausted",
                            metadata: ["reason": "\(reason)", "attempts": "\(attempts.map(\.compact).joined(separator: ","))"])
                    }
                    return UpstreamOutcome(
                        answer: .failure(error), attempts: attempts, hedgeLoser: hedgeLoser, finalFate: previousFate)
                case .failOver:
                    if let other = pick(call.plan, tried: tried, prefer: nil, excluding: exhausted) {
                        next = (other, now)
                    } else if let any = pick(call.plan, tried: [], prefer: nil, excluding: exhausted.union([route])) {
                        let wait = random.withLock { loop.backoff(after: attempts.count, random: &$0) }
                        next = (any, now.advanced(by: min(wait, now.duration(to: started.advanced(by: policy.deadline)))))
                    } else {
                        next = nil
                    }
                case .retrySameRoute(let delay):
                    if let other = pick(call.plan, tried: tried, prefer: nil, excluding: exhausted) {
                        // Another route has not been tried: go there now instead of waiting here.
                        next = (other, now)
                    } else if let again = pick(call.plan, tried: [], prefer: route, excluding: exhausted) {
                        next = (again, now.advanced(by: delay))
                    } else {
                        next = nil
                    }
                }
            }
        }
        let now = clock.now()
        if attempts.isEmpty, call.plan.targets.allSatisfy({ health.isOutOfDailyQuota($0.route.name, now: now) }) {
            lastError = Self.dailyQuotaSpent
        }
        return UpstreamOutcome(
            answer: .failure(lastError), attempts: attempts, hedgeLoser: hedgeLoser, finalFate: previousFate)
    }

    static let cancelled = FlashgateError(.unavailable, "the call was cancelled")

    /// Every route of the call is out until its per-day quota resets: nothing was sent.
    static let dailyQuotaSpent = FlashgateError(
        .rateLimited, "every route for this model has used up a per-day quota; it resets at midnight Pacific time")

    /// A threshold derived from a fast route's p95 is never below this, so a route that answers
    /// in a millisecond or two is not hedged on every small hiccup.
    static let minimumDerivedHedge: Duration = .milliseconds(100)

    /// The next route to try: `prefer` if its breaker lets a call through, else the first untried
    /// route whose breaker does. Routes in `excluding` and routes out until a per-day quota
    /// resets are never picked. Asking the breaker counts a half-open probe, so only the chosen
    /// route is asked.
    private func pick(
        _ plan: RoutePlan, tried: Set<String>, prefer: String?, excluding: Set<String> = []
    ) -> ResolvedRoute? {
        let now = clock.now()
        func usable(_ name: String) -> Bool { !excluding.contains(name) && !health.isOutOfDailyQuota(name, now: now) }
        if let prefer, usable(prefer), let target = plan.targets.first(where: { $0.route.name == prefer }),
            health.breakers.allow(prefer, now: now)
        {
            return target
        }
        for target in plan.targets where !tried.contains(target.route.name) && usable(target.route.name) {
            if health.breakers.state(target.route.name, now: now) == .open { continue }
            if health.breakers.allow(target.route.name, now: now) { return target }
        }
        return nil
    }
}
