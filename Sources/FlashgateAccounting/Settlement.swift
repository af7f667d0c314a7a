import FlashgateCore
import FlashgateStorage
import FlashgateWire

/// Settlement: every admitted call is charged exactly once, durably — from its usage, from its
/// reservation when the cost is unknown, or $0 when the upstream refused — and every request is
/// in the ledger: a row for each admitted call, a count in an hourly rollup for each free one.
extension Accountant {
    /// How a call ended, for its settlement.
    package enum Ending: String, Sendable {
        /// A complete answer: charged from its usage.
        case ok
        /// The upstream refused before generating: nothing to pay.
        case upstreamError = "upstream_error"
        /// Ended without usage (a broken stream, a client gone, a timeout): charged its reservation.
        case incomplete
    }

    /// Settles an admitted call exactly once, durably, and returns what it cost.
    @discardableResult
    package func settle(
        _ admission: Admission, usage: TokenUsage?, ending: Ending, cacheStatus: String, attempts: [String] = [],
        servedTier: ServiceTier? = nil
    ) async -> MicroUSD {
        let cost: MicroUSD
        let tier = servedTier ?? admission.tier
        switch ending {
        case .ok:
            cost =
                usage.flatMap {
                    prices.cost($0.billable, model: admission.upstreamModel, tier: tier, atMs: nowMilliseconds())
                }
                ?? admission.amount
        case .upstreamError: cost = .zero
        case .incomplete: cost = admission.amount
        }
        var lease: (group: String, debit: MicroUSD)?
        if let reservation = admission.reservation {
            let settlement = budgets.settle(reservation, actual: cost)
            if settlement.overshoot > .zero {
                logger.warning(
                    "a call cost more than it reserved", metadata: ["overshoot_usd": "\(settlement.overshoot.dollars)"])
            }
            if let group = settlement.leaseGroup { lease = (group, settlement.leaseDebit) }
            // A leased reservation settles exactly once in memory: a second call records nothing.
            if reservation.leaseGroup != nil && !settlement.applied { return cost }
        }
        if let ticket = admission.ticket {
            // Without usage: a call cut off may have been billed, so its estimate stands (as its
            // money does); one refused before generating used nothing.
            let unknown = ending == .incomplete ? ticket.estimatedTokens : 0
            limiter.release(
                ticket, actualTokens: usage.map { $0.promptTokens + $0.completionTokens } ?? unknown, now: clock.now())
        }
        // Shared rates: corrected by the tokens used when they are known, else the estimate stands.
        if let take = admission.rateTake, let usage {
            shared?.rates.settle(take, actualTokens: usage.promptTokens + usage.completionTokens)
        }
        if let lease, let ledger {
            // Covered by its durable lease: the row rides the writer's next group commit.
            let row = Self.row(
                admission.caller, model: admission.clientModel, route: admission.route, usage: usage, cost: cost,
                cacheStatus: cacheStatus, outcome: ending.rawValue, reservationID: nil,
                budgetKeys: admission.reservation?.budgetKeys ?? [], timeMs: nowMilliseconds(), attempts: attempts,
                serviceTier: ending == .upstreamError ? "" : tier.rawValue)
            let logger = logger
            ledger.settleLeased(row, group: lease.group, debit: lease.debit) { error in
                logger.error("could not record a settlement; its lease covers it", metadata: ["error": "\(error)"])
            }
            return cost
        }
        await record(
            admission.caller, model: admission.clientModel, route: admission.route, usage: usage, cost: cost,
            cacheStatus: cacheStatus, outcome: ending.rawValue, reservationID: admission.reservationID,
            budgetKeys: admission.reservation?.budgetKeys ?? [], attempts: attempts,
            serviceTier: ending == .upstreamError ? "" : tier.rawValue)
        return cost
    }

    /// A $0 request (a cache hit, a joined follower): counted in its hourly rollup, not a row of
    /// its own, without waiting (`Ledger.countFree`).
    package func recordFree(_ caller: Caller, model: String, route: String, usage: TokenUsage?, cacheStatus: String) {
        guard let ledger else { return }
        ledger.countFree(
            Self.row(
                caller, model: model, route: route, usage: usage, cost: .zero, cacheStatus: cacheStatus, outcome: "ok",
                reservationID: nil, budgetKeys: [], timeMs: nowMilliseconds()))
    }

    /// A request row in the ledger; durable when this returns (a $0 row under leases is queued).
    package func record(
        _ caller: Caller, model: String, route: String, usage: TokenUsage?, cost: MicroUSD, cacheStatus: String,
        outcome: String, reservationID: UInt64? = nil, budgetKeys: [String] = [], attempts: [String] = [],
        serviceTier: String = ""
    ) async {
        guard let ledger else { return }
        let row = Self.row(
            caller, model: model, route: route, usage: usage, cost: cost, cacheStatus: cacheStatus, outcome: outcome,
            reservationID: reservationID, budgetKeys: budgetKeys, timeMs: nowMilliseconds(), attempts: attempts,
            serviceTier: serviceTier)
        if leased && reservationID == nil && cost == .zero {
            // A $0 row holds no money: under leases nothing waits for it.
            let logger = logger
            ledger.settleLater(row) { error in logger.error("could not record a request", metadata: ["error": "\(error)"]) }
            return
        }
        do {
            try await ledger.settle(row)
        } catch {
            logger.error("could not record a settlement", metadata: ["error": "\(error)"])
        }
    }

    /// One request row: who, which model and route, tokens by kind, what it cost and how it ended.
    private static func row(
        _ caller: Caller, model: String, route: String, usage: TokenUsage?, cost: MicroUSD, cacheStatus: String,
        outcome: String, reservationID: UInt64?, budgetKeys: [String], timeMs: Int64, attempts: [String] = [],
        serviceTier: String = ""
    ) -> SettlementRecord {
        var row = SettlementRecord(
            reservationID: reservationID, timeMs: timeMs, team: caller.team, key: caller.key, model: model,
            route: route,
            promptTokens: usage?.promptTokens ?? 0, cachedTokens: usage?.cachedTokens ?? 0,
            outputTokens: usage?.candidatesTokens ?? 0, thoughtsTokens: usage?.thoughtsTokens ?? 0,
            searchQueries: usage?.searchQueries ?? 0, cost: cost, cacheStatus: cacheStatus, outcome: outcome,
            budgetKeys: budgetKeys)
        row.attempts = attempts
        row.serviceTier = serviceTier
        return row
    }
}
