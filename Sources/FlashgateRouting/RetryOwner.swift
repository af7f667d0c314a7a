import FlashgateCore
import FlashgateWire
import Logging
import Synchronization

/// One call the retry owner makes on a client's behalf: where it may go, which method, and the
/// body for each route (a conversation's thought signatures differ per route).
struct UpstreamCall: Sendable {
    enum Start: Sendable {
        /// Started once the first Gemini event is read: generations, served through flights.
        case firstEvent
        /// Started at a 2xx head: answers passed through as bytes (token counts, embeddings).
        case head
    }

    var plan: RoutePlan
    var method: NativeMethod
    /// Ask for SSE upstream (streamGenerateContent only).
    var sse: Bool
    var start: Start
    var body: @Sendable (ResolvedRoute) -> [UInt8]
}

/// An upstream answer that has started on some route; nothing has reached any client yet.
final class StartedAnswer: Sendable {
    let target: ResolvedRoute
    let status: Int
    let headers: [UpstreamHeader]
    let reader: AnswerReader
    /// The first Gemini event (`.firstEvent` calls).
    let first: JSONValue?

    init(target: ResolvedRoute, status: Int, headers: [UpstreamHeader], reader: AnswerReader, first: JSONValue?) {
        self.target = target
        self.status = status
        self.headers = headers
        self.reader = reader
        self.first = first
    }
}

/// What the retry owner did for one call.
struct UpstreamOutcome: Sendable {
    var answer: Result<StartedAnswer, FlashgateError>
    var attempts: [AttemptRecord]
    /// When a hedge ran, how its extra reservation settles: the attempt that did not serve the
    /// request ended this way (`nil` when no hedge ran).
    var hedgeLoser: HedgeLoser?
}

/// The attempt of a hedged call that did not serve it, which the hedge's reservation pays for.
struct HedgeLoser: Sendable, Equatable {
    var route: String
    var ending: Accountant.Ending
}

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
/// answering wins and the other is cancelled.
///
/// Invariants: at most `retry.maxAttempts` upstream calls per client call, hedges included; no
/// attempt starts after the deadline; every attempt is recorded once in `RouteHealth`; a call is
/// "started" only when its first event is read, so failover never happens after a client has
/// seen a byte.
final class UpstreamCaller: Sendable {
    let routes: RouteTable
    let health: RouteHealth
    let policy: RetryPolicy
    let logger: Logger
    private let random: Mutex<any RandomNumberGenerator & Sendable>
    /// Unix seconds, for `Retry-After` dates.
    private let wallSeconds: @Sendable () -> Int64

    init(
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

    private var clock: any RetryClock { health.clock }

    /// Makes attempts until one starts answering or the loop gives up.
    /// - Parameter admitHedge: asked before a hedge starts; false (no budget) means no hedge.
    func run(_ call: UpstreamCall, admitHedge: @Sendable (ResolvedRoute) async -> Bool = { _ in true }) async
        -> UpstreamOutcome
    {
        let loop = RetryLoop(policy: policy)
        let started = clock.now()
        var attempts: [AttemptRecord] = []
        var tried: Set<String> = []
        // Routes that answered a per-day quota: out for the rest of this request.
        var exhausted: Set<String> = []
        var hedgeLoser: HedgeLoser?
        var hedged = false
        var lastError = FlashgateError(.unavailable, "no upstream route is available for this model")
        // The route and the time of the next attempt.
        var next: (target: ResolvedRoute, at: Tick)?
        if let first = pick(call.plan, tried: tried, prefer: nil) { next = (first, started) }
        while let (target, at) = next {
            if at > clock.now() {
                do { try await clock.sleep(until: at) } catch {
                    return UpstreamOutcome(answer: .failure(Self.cancelled), attempts: attempts, hedgeLoser: hedgeLoser)
                }
            }
            if Task.isCancelled {
                return UpstreamOutcome(answer: .failure(Self.cancelled), attempts: attempts, hedgeLoser: hedgeLoser)
            }
            tried.insert(target.route.name)
            var result: AttemptResult
            if !hedged, let hedge = call.plan.hedge, attempts.count + 2 <= policy.maxAttempts,
                let threshold = hedge.after ?? health.p95(target.route.name).map({ max($0, Self.minimumDerivedHedge) }),
                let twin = call.plan.targets.first(where: {
                    !tried.contains($0.route.name) && !health.isOutOfDailyQuota($0.route.name, now: clock.now())
                })
            {
                let race = await self.race(target, twin, threshold: threshold, call, admitHedge: admitHedge)
                attempts += race.records
                if race.hedgeStarted {
                    hedged = true
                    tried.insert(twin.route.name)
                    hedgeLoser = race.loserEnding
                }
                result = race.result
            } else {
                result = await attempt(target, call, hedge: false)
                attempts.append(result.record)
            }
            switch result {
            case .started(let answer, _):
                health.breakers.recordSuccess(answer.target.route.name, now: clock.now())
                return UpstreamOutcome(answer: .success(answer), attempts: attempts, hedgeLoser: hedgeLoser)
            case .failed(let error, let failure, let record, let keyIndex):
                lastError = error
                if record.outcome == .cancelled || Task.isCancelled {
                    return UpstreamOutcome(answer: .failure(error), attempts: attempts, hedgeLoser: hedgeLoser)
                }
                let route = record.route
                let failedTarget = call.plan.targets.first { $0.route.name == route } ?? target
                let now = clock.now()
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
                    return UpstreamOutcome(answer: .failure(error), attempts: attempts, hedgeLoser: hedgeLoser)
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
        return UpstreamOutcome(answer: .failure(lastError), attempts: attempts, hedgeLoser: hedgeLoser)
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

    enum AttemptResult: Sendable {
        case started(StartedAnswer, AttemptRecord)
        case failed(FlashgateError, UpstreamFailure, AttemptRecord, keyIndex: Int?)

        var record: AttemptRecord {
            switch self {
            case .started(_, let record), .failed(_, _, let record, _): record
            }
        }
    }

    /// One upstream call on one route, up to its first event (or its head).
    func attempt(_ target: ResolvedRoute, _ call: UpstreamCall, hedge: Bool) async -> AttemptResult {
        let began = clock.now()
        let keyIndex = routes.keys(target.route.name)?.current(now: began)
        func failed(_ error: FlashgateError, _ failure: UpstreamFailure, _ outcome: AttemptRecord.Outcome) -> AttemptResult {
            let record = AttemptRecord(
                route: target.route.name, outcome: outcome, duration: began.duration(to: clock.now()), hedge: hedge)
            health.record(record)
            return .failed(error, failure, record, keyIndex: keyIndex)
        }
        do {
            let request = try await routes.request(
                target, method: call.method, sse: call.sse, body: call.body(target), keyIndex: keyIndex ?? 0)
            let framing = routes.framing(target, method: call.method, sse: call.sse)
            var iterator = target.transport.send(request).makeAsyncIterator()
            guard case .head(let status, let headers) = try await iterator.next() else {
                throw FlashgateError(.upstreamProtocol, "the upstream closed the connection without answering")
            }
            guard (200..<300).contains(status) else {
                var body: [UInt8] = []
                while case .body(let bytes) = try await iterator.next() {
                    if body.count < Self.maxErrorBody { body += bytes.prefix(Self.maxErrorBody - body.count) }
                }
                if target.route.kind == .openai { body = OpenAIUpstream.geminiError(status: status, body: body) }
                if status == 401, let source = routes.tokenSource(target.route.name) { await source.invalidate() }
                let retryAfter = headers.first { $0.name.lowercased() == "retry-after" }?.value
                var failure = UpstreamFailure(status: status, body: body, retryAfter: retryAfter, nowUnixSeconds: wallSeconds())
                // An OAuth token can expire or be revoked between minting and use: one more try.
                if status == 401, routes.tokenSource(target.route.name) != nil { failure.isRetryable = true }
                return failed(.fromUpstream(status: status, body: body), failure, .status(status))
            }
            let reader = AnswerReader(iterator: iterator, framing: framing)
            var first: JSONValue?
            if call.start == .firstEvent {
                guard let event = try await reader.next() else {
                    throw FlashgateError(.upstreamProtocol, "the upstream ended without sending an answer")
                }
                first = event
            }
            let record = AttemptRecord(
                route: target.route.name, outcome: .answered, duration: began.duration(to: clock.now()), hedge: hedge)
            health.record(record)
            return .started(
                StartedAnswer(target: target, status: status, headers: headers, reader: reader, first: first), record)
        } catch let error as FlashgateError {
            if Task.isCancelled { return failed(Self.cancelled, UpstreamFailure(error), .cancelled) }
            let failure = UpstreamFailure(error)
            let outcome: AttemptRecord.Outcome =
                switch failure.cause {
                case .unreachable: .unreachable
                case .timeout: .timeout
                case .status(let code): error.kind == .upstreamStatus ? .status(code) : .invalid
                case .safetyBlock, .noAnswer: .invalid
                }
            return failed(error, failure, outcome)
        } catch {
            let cancelled = Task.isCancelled || error is CancellationError
            return failed(
                cancelled ? Self.cancelled : Gateway.gatewayError(error), .unreachable, cancelled ? .cancelled : .unreachable)
        }
    }

    /// The most of an error body kept (for its message and retry details).
    static let maxErrorBody = 256 * 1024

    struct Race: Sendable {
        var result: AttemptResult
        var records: [AttemptRecord]
        var hedgeStarted: Bool
        var loserEnding: HedgeLoser?
    }

    private enum RaceEvent: Sendable {
        case finished(hedge: Bool, AttemptResult)
        case timer
        case timerCancelled
    }

    /// `first` now and, if it has not started answering after `threshold`, `twin` beside it; the
    /// first to start answering wins and the other is cancelled.
    private func race(
        _ first: ResolvedRoute, _ twin: ResolvedRoute, threshold: Duration, _ call: UpstreamCall,
        admitHedge: @Sendable (ResolvedRoute) async -> Bool
    ) async -> Race {
        let deadline = clock.now().advanced(by: threshold)
        return await withTaskGroup(of: RaceEvent.self) { group in
            group.addTask { .finished(hedge: false, await self.attempt(first, call, hedge: false)) }
            group.addTask {
                do {
                    try await self.clock.sleep(until: deadline)
                    return .timer
                } catch {
                    return .timerCancelled
                }
            }
            var running = 1
            var hedgeStarted = false
            var records: [AttemptRecord] = []
            var lastFailure: AttemptResult?
            while let event = await group.next() {
                switch event {
                case .timerCancelled:
                    continue
                case .timer:
                    // The breaker first: an admission is a durable reservation, made only for a
                    // hedge that will really start (its settlement follows the hedge's fate).
                    guard running == 1, health.breakers.allow(twin.route.name, now: clock.now()), await admitHedge(twin)
                    else { continue }
                    hedgeStarted = true
                    running += 1
                    logger.info(
                        "hedging a slow upstream call",
                        metadata: ["route": "\(first.route.name)", "hedge": "\(twin.route.name)", "after": "\(threshold)"])
                    group.addTask { .finished(hedge: true, await self.attempt(twin, call, hedge: true)) }
                case .finished(let isHedge, let result):
                    records.append(result.record)
                    running -= 1
                    if case .started = result {
                        group.cancelAll()
                        var loser: AttemptResult?
                        while let rest = await group.next() {
                            if case .finished(_, let other) = rest {
                                records.append(other.record)
                                loser = other
                            }
                        }
                        // A loser that started in the same instant is dropped unread (its transfer aborts).
                        let ending = hedgeStarted ? Self.ending(of: loser) : nil
                        return Race(result: result, records: records, hedgeStarted: hedgeStarted, loserEnding: ending)
                    }
                    if lastFailure != nil || running == 0 {
                        group.cancelAll()
                        var other = lastFailure
                        while let rest = await group.next() {
                            if case .finished(_, let more) = rest {
                                records.append(more.record)
                                other = more
                            }
                        }
                        // Both failed: the hedge's reservation settles as the other attempt ended.
                        let ending = hedgeStarted ? Self.ending(of: isHedge ? result : other) : nil
                        return Race(result: result, records: records, hedgeStarted: hedgeStarted, loserEnding: ending)
                    }
                    lastFailure = result
                }
            }
            return Race(
                result: lastFailure ?? .failed(Self.cancelled, .unreachable, AttemptRecord(route: first.route.name, outcome: .cancelled, duration: .zero), keyIndex: nil),
                records: records, hedgeStarted: hedgeStarted, loserEnding: nil)
        }
    }

    /// How an attempt that did not serve the request settles: refused with a status costs
    /// nothing; anything else (cancelled mid-flight, timed out, cut off) may have been billed and
    /// is charged its reservation.
    private static func ending(of result: AttemptResult?) -> HedgeLoser? {
        guard let result else { return nil }
        if case .status = result.record.outcome { return HedgeLoser(route: result.record.route, ending: .upstreamError) }
        return HedgeLoser(route: result.record.route, ending: .incomplete)
    }
}
