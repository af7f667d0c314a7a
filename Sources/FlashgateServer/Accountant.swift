import FlashgateCore
import FlashgateStorage
import FlashgateWire
import Foundation
import Logging
import NIOHTTP1

/// Who pays, whether they may, and what they paid: identity, rate limits, budgets and the ledger
/// for the request path. Every admitted call holds an `Admission` that `settle` closes exactly
/// once — with the real cost from usage, the reservation when the answer's cost is unknown (a
/// dropped stream, a client gone), or $0 when the upstream refused before generating.
package final class Accountant: Sendable {
    let config: FlashgateConfig
    let identity: Identity
    /// No teams or keys configured: every caller is the default team, unlimited (but recorded).
    let open: Bool
    let limiter: RateLimiter<ContinuousClock.Instant>
    let budgets: Budgets
    let ledger: Ledger?
    let prices: PriceTable
    let logger: Logger
    let nowMilliseconds: @Sendable () -> Int64

    package init(config: FlashgateConfig, ledger: Ledger?, logger: Logger, nowMilliseconds: @escaping @Sendable () -> Int64) {
        self.config = config
        identity = Identity(config: config)
        open = config.teams.isEmpty && config.keys.isEmpty
        limiter = RateLimiter(teams: config.teams, keys: config.keys, origin: ContinuousClock.now)
        budgets = Budgets(config: config)
        self.ledger = ledger
        prices = config.prices
        self.logger = logger
        self.nowMilliseconds = nowMilliseconds
    }

    /// The accountant for a reloaded config: identity, prices and the open/closed choice come from
    /// `config`; the rate limiter, the budgets and the ledger are this one's, updated in place, so
    /// token buckets, settled totals and open reservations carry over. Admissions made by this
    /// accountant still settle through it, against the same limiter and budgets, exactly once.
    /// The new one is never `start`ed: recovery runs once per process.
    /// `accounting.mode` and `accounting.time_zone` need a restart (see `Reload`).
    func reloaded(config: FlashgateConfig) -> Accountant {
        limiter.update(teams: config.teams, keys: config.keys)
        budgets.update(teams: config.teams, keys: config.keys)
        return Accountant(config: config, previous: self)
    }

    private init(config: FlashgateConfig, previous: Accountant) {
        self.config = config
        identity = Identity(config: config)
        open = config.teams.isEmpty && config.keys.isEmpty
        limiter = previous.limiter
        budgets = previous.budgets
        ledger = previous.ledger
        prices = config.prices
        logger = previous.logger
        nowMilliseconds = previous.nowMilliseconds
    }

    /// Recovers reservations a crash left open and loads the settled totals into the budgets.
    package func start() throws {
        guard let ledger else { return }
        let recovered = try ledger.recoverOpenReservations(nowMs: nowMilliseconds())
        if !recovered.isEmpty {
            logger.warning("settled reservations left open by a crash at their reserved amount", metadata: ["count": "\(recovered.count)"])
        }
        budgets.load(settledTotals: ledger.totals(prefix: ""))
    }

    var now: Date { Date(timeIntervalSince1970: Double(nowMilliseconds()) / 1000) }

    /// The caller of a request: a virtual key (Bearer, or x-goog-api-key), the Unix peer, or the
    /// default team. Unknown or missing identity is a 401.
    func caller(_ request: GatewayRequest) -> Result<Caller, FlashgateError> {
        if open { return .success(Caller(team: Caller.defaultTeam)) }
        return identity.resolve(
            bearer: BearerToken.parse(request.headers.first(name: "authorization")), googKey: request.headers.first(name: "x-goog-api-key") ?? request.queryItem("key"),
            peer: request.peer.map { (uid: $0.uid, gid: $0.gid) })
    }

    func team(_ caller: Caller) -> TeamConfig? { config.teams.first { $0.id == caller.team } }

    /// A call that passed admission, and what settling it needs.
    struct Admission: Sendable {
        var caller: Caller
        var clientModel: String
        /// The model the call is priced as (`ResolvedRoute.pricedModel`).
        var upstreamModel: String
        var route: String
        var ticket: RateTicket?
        var reservation: Reservation?
        var reservationID: UInt64?
        var amount: MicroUSD
        var estimatedTokens: Int
        var budgetRemaining: MicroUSD?
        /// The tier asked for: reserved at its price; charged at the tier that served.
        var tier: ServiceTier = .standard
    }

    /// The price first (no price, no call), then rate limits, then the budget reservation for the
    /// worst case (strict) or the expected cost, at the price of the tier the body asks for.
    func admit(
        caller: Caller, clientModel: String, upstreamModel: String, route: String, body: JSONValue
    ) -> Result<Admission, RejectedCall> {
        let cap = team(caller)?.maxOutputTokens
        let tier = ServiceTier.requested(in: body)
        let estimate =
            config.accounting.mode == .strict
            ? RequestCostEstimate.worstCase(body: body, model: upstreamModel, teamOutputCap: cap)
            : RequestCostEstimate.expected(body: body, model: upstreamModel, teamOutputCap: cap)
        guard let amount = estimate.cost(prices, model: upstreamModel, tier: tier, atMs: nowMilliseconds()) else {
            return .failure(.unpriced(model: upstreamModel, tier: tier))
        }
        return admit(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: amount,
            tokens: estimate.inputTokens + estimate.outputTokens, tier: tier)
    }

    /// Rate limits, then the budget reservation of `amount`, for a call already priced.
    func admit(
        caller: Caller, clientModel: String, upstreamModel: String, route: String, amount: MicroUSD, tokens: Int,
        tier: ServiceTier = .standard
    ) -> Result<Admission, RejectedCall> {
        var admission = Admission(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: amount,
            estimatedTokens: tokens, tier: tier)
        if open { return .success(admission) }
        switch limiter.admit(caller: caller, model: clientModel, estimatedTokens: tokens, now: .now) {
        case .reject(let limit, let retryAfter):
            return .failure(.rateLimit(limit, retryAfter: retryAfter))
        case .admit(let ticket):
            admission.ticket = ticket
        }
        let now = self.now
        switch budgets.reserve(caller: caller, model: clientModel, amount: amount, now: now) {
        case .reject(let budget, let limit, let remaining, let retryAfter):
            if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: .now) }
            return .failure(
                .budget(
                    budget, limit: limit, remaining: remaining, amount: amount,
                    resetsIn: retryAfter, now: now))
        case .admit(let reservation):
            admission.reservation = reservation
            warnSoftBudgets(reservation)
        }
        admission.budgetRemaining = budgets.headroom(caller: caller, now: now)
        return .success(admission)
    }

    /// Rate limits only, for a free upstream call (`countTokens`): it takes one request from the
    /// RPM buckets and no tokens, and never touches budgets (a spent budget does not refuse it).
    func admitFree(
        caller: Caller, clientModel: String, upstreamModel: String, route: String
    ) -> Result<Admission, RejectedCall> {
        var admission = Admission(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: .zero,
            estimatedTokens: 0)
        if open { return .success(admission) }
        switch limiter.admit(caller: caller, model: clientModel, estimatedTokens: 0, now: .now) {
        case .reject(let limit, let retryAfter): return .failure(.rateLimit(limit, retryAfter: retryAfter))
        case .admit(let ticket): admission.ticket = ticket
        }
        return .success(admission)
    }

    /// Makes the reservation durable before the call goes upstream, so a crash cannot lose it.
    func persist(_ admission: inout Admission) async throws {
        guard let ledger else { return }
        let id = ledger.nextReservationID()
        try await ledger.reserve(
            ReservationRecord(
                id: id, timeMs: nowMilliseconds(), team: admission.caller.team, key: admission.caller.key,
                model: admission.clientModel, route: admission.route, amount: admission.amount,
                budgetKeys: admission.reservation?.budgetKeys ?? []))
        admission.reservationID = id
    }

    /// How a call ended, for its settlement.
    enum Ending: String {
        /// A complete answer: charged from its usage.
        case ok
        /// The upstream refused before generating: nothing to pay.
        case upstreamError = "upstream_error"
        /// Ended without usage (a broken stream, a client gone, a timeout): charged its reservation.
        case incomplete
    }

    /// Settles an admitted call exactly once, durably, and returns what it cost.
    @discardableResult
    func settle(
        _ admission: Admission, usage: TokenUsage?, ending: Ending, cacheStatus: String, attempts: [String] = [],
        servedTier: ServiceTier? = nil
    ) async -> MicroUSD {
        let cost: MicroUSD
        let tier = servedTier ?? admission.tier
        switch ending {
        case .ok:
            cost =
                usage.flatMap { prices.cost($0.billable, model: admission.upstreamModel, tier: tier, atMs: nowMilliseconds()) }
                ?? admission.amount
        case .upstreamError: cost = .zero
        case .incomplete: cost = admission.amount
        }
        if let reservation = admission.reservation {
            let settlement = budgets.settle(reservation, actual: cost)
            if settlement.overshoot > .zero {
                logger.warning("a call cost more than it reserved", metadata: ["overshoot_usd": "\(settlement.overshoot.dollars)"])
            }
        }
        if let ticket = admission.ticket {
            limiter.release(ticket, actualTokens: usage.map { $0.promptTokens + $0.completionTokens } ?? 0, now: .now)
        }
        await record(
            admission.caller, model: admission.clientModel, route: admission.route, usage: usage, cost: cost,
            cacheStatus: cacheStatus, outcome: ending.rawValue, reservationID: admission.reservationID,
            budgetKeys: admission.reservation?.budgetKeys ?? [], attempts: attempts,
            serviceTier: ending == .upstreamError ? "" : tier.rawValue)
        return cost
    }

    /// Gives back an admission that never went upstream (it joined an identical call instead): the
    /// reservation and the rate-limit slot are released; the request is recorded as joined.
    func release(_ admission: Admission) {
        if let reservation = admission.reservation { _ = budgets.settle(reservation, actual: .zero) }
        if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: .now) }
    }

    /// A $0 request row (a cache hit, a joined follower), queued without waiting.
    func recordFree(_ caller: Caller, model: String, route: String, usage: TokenUsage?, cacheStatus: String) {
        guard let ledger else { return }
        let row = Self.row(
            caller, model: model, route: route, usage: usage, cost: .zero, cacheStatus: cacheStatus, outcome: "ok",
            reservationID: nil, budgetKeys: [], timeMs: nowMilliseconds())
        let logger = logger
        ledger.settleLater(row) { error in logger.error("could not record a request", metadata: ["error": "\(error)"]) }
    }

    /// A request row in the ledger; durable when this returns.
    func record(
        _ caller: Caller, model: String, route: String, usage: TokenUsage?, cost: MicroUSD, cacheStatus: String,
        outcome: String, reservationID: UInt64? = nil, budgetKeys: [String] = [], attempts: [String] = [],
        serviceTier: String = ""
    ) async {
        guard let ledger else { return }
        var row = Self.row(
            caller, model: model, route: route, usage: usage, cost: cost, cacheStatus: cacheStatus, outcome: outcome,
            reservationID: reservationID, budgetKeys: budgetKeys, timeMs: nowMilliseconds())
        row.attempts = attempts
        row.serviceTier = serviceTier
        do {
            try await ledger.settle(row)
        } catch {
            logger.error("could not record a settlement", metadata: ["error": "\(error)"])
        }
    }

    /// One request row: who, which model and route, tokens by kind, what it cost and how it ended.
    private static func row(
        _ caller: Caller, model: String, route: String, usage: TokenUsage?, cost: MicroUSD, cacheStatus: String,
        outcome: String, reservationID: UInt64?, budgetKeys: [String], timeMs: Int64
    ) -> SettlementRecord {
        SettlementRecord(
            reservationID: reservationID, timeMs: timeMs, team: caller.team, key: caller.key, model: model, route: route,
            promptTokens: usage?.promptTokens ?? 0, cachedTokens: usage?.cachedTokens ?? 0,
            outputTokens: usage?.candidatesTokens ?? 0, thoughtsTokens: usage?.thoughtsTokens ?? 0,
            searchQueries: usage?.searchQueries ?? 0, cost: cost, cacheStatus: cacheStatus, outcome: outcome,
            budgetKeys: budgetKeys)
    }

    /// `x-ratelimit-*` and `x-flashgate-budget-remaining-usd` for an admitted call.
    func headers(_ admission: Admission) -> [(String, String)] {
        var headers: [(String, String)] = []
        for item in admission.ticket?.headroom ?? [] {
            let kind = item.bucket.hasSuffix(":rpm") ? "requests" : item.bucket.hasSuffix(":tpm") ? "tokens" : nil
            guard let kind, !headers.contains(where: { $0.0 == "x-ratelimit-limit-\(kind)" }) else { continue }
            headers.append(("x-ratelimit-limit-\(kind)", String(item.limit)))
            headers.append(("x-ratelimit-remaining-\(kind)", String(max(0, item.remaining))))
        }
        if let remaining = admission.budgetRemaining { headers.append(("x-flashgate-budget-remaining-usd", remaining.dollars)) }
        return headers + softBudgetHeaders(admission)
    }
}
