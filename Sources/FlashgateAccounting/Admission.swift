import FlashgateCore
import FlashgateStorage
import FlashgateWire
import Foundation

/// Admission: a call is priced, then passes the rate limits, then reserves its worst case (or
/// expected cost) against every budget over it. An admitted call holds an `Admission` that is
/// either settled exactly once (`settle`) or, if it never went upstream, given back (`release`).
extension Accountant {
    /// A call that passed admission, and what settling it needs.
    package struct Admission: Sendable {
        package var caller: Caller
        package var clientModel: String
        /// The model the call is priced as (`ResolvedRoute.pricedModel`).
        package var upstreamModel: String
        package var route: String
        package var ticket: RateTicket?
        package var reservation: Reservation?
        package var reservationID: UInt64?
        package var amount: MicroUSD
        package var estimatedTokens: Int
        /// Of `estimatedTokens`, the audio, image and video ones (an embedding's), so a call
        /// whose answer brings no usage is charged them at their own rates.
        package var estimatedMedia = MediaTokens()
        package var budgetRemaining: MicroUSD?
        /// The tier asked for: reserved at its price; charged at the tier that served.
        package var tier: ServiceTier = .standard
        /// The lease grant this call draws on that was not yet durable when it was admitted:
        /// `persist` waits for it before the call goes upstream.
        package var leaseWait: LeaseLatch?
        /// Shared budgets: reports to Redis that must cover the call's unreported spend first.
        package var reportWaits: [LeaseLatch] = []
        /// Shared rate limits: what the call took from this host's RPM/TPM chunks.
        package var rateTake: RateTake?
        /// Shared rate limits: the chunk grant the call waits for before it takes (in `persist`).
        package var rateWait: LeaseLatch?
        /// What this host had been granted of the call's buckets when it was told to wait.
        package var rateMark: RateGrantMark?
        /// Shared budgets: nothing reserved yet; the lease's grant in flight to wait for before
        /// asking again (in `persist`).
        package var budgetRetry: LeaseLatch?
    }

    /// Admission's answer: the call may go upstream holding its `Admission` (which must then be
    /// settled or released), or it is refused before anything is spent or reserved.
    package enum AdmissionDecision: Sendable {
        case admit(Admission)
        case reject(Rejection)
    }

    /// The price first (no price, no call), then rate limits, then the budget reservation for the
    /// worst case (strict) or the expected cost, at the price of the tier the body asks for.
    package func admit(
        caller: Caller, clientModel: String, upstreamModel: String, route: String, body: JSONValue
    ) -> AdmissionDecision {
        let cap = team(caller)?.maxOutputTokens
        let tier = ServiceTier.requested(in: body)
        let estimate =
            config.accounting.mode == .strict
            ? RequestCostEstimate.worstCase(body: body, model: upstreamModel, teamOutputCap: cap)
            : RequestCostEstimate.expected(body: body, model: upstreamModel, teamOutputCap: cap)
        guard let amount = estimate.cost(prices, model: upstreamModel, tier: tier, atMs: nowMilliseconds()) else {
            return .reject(.unpriced(model: upstreamModel, tier: tier))
        }
        return admit(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: amount,
            tokens: estimate.inputTokens + estimate.outputTokens, tier: tier)
    }

    /// Rate limits, then the budget reservation of `amount`, for a call already priced.
    /// - Parameter rateLimited: false for a reservation that is not a request (a context cache's
    ///   rent): it neither asks nor takes a rate-limit slot, only budget.
    package func admit(
        caller: Caller, clientModel: String, upstreamModel: String, route: String, amount: MicroUSD, tokens: Int,
        tier: ServiceTier = .standard, rateLimited: Bool = true
    ) -> AdmissionDecision {
        var admission = Admission(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: amount,
            estimatedTokens: tokens, tier: tier)
        // Never answer a paid call whose money the ledger cannot cover.
        if let ledger, ledger.health.refusesPaidCalls { return .reject(.ledgerFull()) }
        if open && !leased { return .admit(admission) }
        if !open && rateLimited {
            switch limiter.admit(caller: caller, model: clientModel, estimatedTokens: tokens, now: clock.now()) {
            case .reject(let limit, let retryAfter):
                return .reject(.rateLimit(limit, retryAfter: retryAfter))
            case .admit(let ticket):
                admission.ticket = ticket
            }
            if let rejection = leaseRates(&admission, free: false) { return .reject(rejection) }
        }
        let now = self.now
        let refusal: Rejection?
        if leased {
            refusal = take(budgets.reserveLeased(caller: caller, amount: amount, now: now), into: &admission, now: now)
        } else {
            switch budgets.reserve(caller: caller, model: clientModel, amount: amount, now: now) {
            case .reject(let budget, let limit, let remaining, let retryAfter):
                refusal = .budget(
                    budget, limit: limit, remaining: remaining, amount: amount, resetsIn: retryAfter, now: now)
            case .admit(let reservation):
                admission.reservation = reservation
                warnSoftBudgets(reservation)
                admission.budgetRemaining = budgets.headroom(caller: caller, now: now)
                refusal = nil
            }
        }
        if let refusal {
            if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
            if let take = admission.rateTake { shared?.rates.settle(take, actualTokens: 0) }
            return .reject(refusal)
        }
        return .admit(admission)
    }

    /// Takes a leased verdict into `admission`: its reservation and the grant it must wait for,
    /// or, when nothing was reserved (shared budgets), the lease's grant in flight to wait for
    /// before asking again (`persist`). Returns the refusal, if any.
    private func take(_ leased: Budgets.LeasedDecision, into admission: inout Admission, now: Date) -> Rejection? {
        apply(leased.changes)
        switch leased.decision {
        case nil:
            admission.budgetRetry = leased.wait
        case .admit(let reservation)?:
            admission.reservation = reservation
            admission.leaseWait = leased.wait
            admission.reportWaits = leased.reportWaits
            warnSoftBudgets(reservation)
        case .reject(let budget, let limit, let remaining, let retryAfter)?:
            return .budget(
                budget, limit: limit, remaining: remaining, amount: admission.amount, resetsIn: retryAfter, now: now)
        }
        admission.budgetRemaining = leased.headroom
        return nil
    }

    /// Rate limits only, for a free upstream call (`countTokens`): it takes one request from the
    /// RPM buckets and no tokens, and never touches budgets (a spent budget does not refuse it).
    package func admitFree(
        caller: Caller, clientModel: String, upstreamModel: String, route: String
    ) -> AdmissionDecision {
        var admission = Admission(
            caller: caller, clientModel: clientModel, upstreamModel: upstreamModel, route: route, amount: .zero,
            estimatedTokens: 0)
        if open { return .admit(admission) }
        switch limiter.admit(caller: caller, model: clientModel, estimatedTokens: 0, now: clock.now()) {
        case .reject(let limit, let retryAfter): return .reject(.rateLimit(limit, retryAfter: retryAfter))
        case .admit(let ticket): admission.ticket = ticket
        }
        if let rejection = leaseRates(&admission, free: true) { return .reject(rejection) }
        return .admit(admission)
    }

    /// Makes sure the call's money is durably covered before it goes upstream, so a crash cannot
    /// lose it: under leases, the grant it draws on is on disk; per request, its own reservation
    /// is written. Throws a `Rejection` (503) when the ledger's queue stays full for
    /// `ledger.queue_wait` or the ledger is full.
    package func persist(_ admission: inout Admission) async throws {
        if admission.rateWait != nil { try await awaitRates(&admission) }
        // A call that waited for its lease's grant in flight counts once as a lease wait.
        let waitedForGrant = admission.budgetRetry.map { $0.result == nil } ?? false
        if waitedForGrant { ledger?.noteLeaseWait() }
        if admission.budgetRetry != nil { try await awaitBudgetGrant(&admission) }
        guard let ledger else { return }
        guard await ledger.waitForRoom(config.ledger.queueWait) else {
            throw Rejection.ledgerBusy(wait: config.ledger.queueWait)
        }
        if leased {
            if !waitedForGrant, let wait = admission.leaseWait, wait.result == nil { ledger.noteLeaseWait() }
            // A grant Redis cut below what was reserved against it: this call reserves again (each
            // round either reserves within money on disk, waits for a grant Redis answers with at
            // least a call's need, or is refused, so it ends).
            while let wait = admission.leaseWait, !(await wait.wait()), wait.refusal == .cut {
                try await reserveAgain(&admission)
            }
            if let wait = admission.leaseWait, !(await wait.wait()) {
                switch wait.refusal {
                case .spent(let budget, let limit, let periodEnd):
                    let now = self.now
                    throw Rejection.budget(
                        budget, limit: limit, remaining: .zero, amount: admission.amount,
                        resetsIn: periodEnd.map { .seconds(max(1, Int64($0.timeIntervalSince(now).rounded(.up)))) },
                        now: now)
                case .unavailable:
                    throw Rejection.budgetUnavailable(retryAfter: config.shared?.reconnectMax ?? .seconds(1))
                case .cut, nil: break
                }
                if ledger.health.refusesPaidCalls { throw Rejection.ledgerFull() }
                throw FlashgateError(.unavailable, "the usage ledger could not record the budget lease")
            }
            for report in admission.reportWaits where !(await report.wait()) {
                throw Rejection.budgetUnavailable(retryAfter: config.shared?.reconnectMax ?? .seconds(1))
            }
            return
        }
        if ledger.health.refusesPaidCalls { throw Rejection.ledgerFull() }
        let id = ledger.nextReservationID()
        do {
            try await ledger.reserve(
                ReservationRecord(
                    id: id, timeMs: nowMilliseconds(), team: admission.caller.team, key: admission.caller.key,
                    model: admission.clientModel, route: admission.route, amount: admission.amount,
                    budgetKeys: admission.reservation?.budgetKeys ?? []))
        } catch let error as StoreError where error.isMapFull {
            throw Rejection.ledgerFull()
        }
        admission.reservationID = id
    }

    /// Shared budgets: waits for the lease's grant in flight, then reserves again, until the
    /// call is reserved (maybe drawing on a grant of its own, which `persist` then waits for) or
    /// refused. Each round waits for a grant Redis answered, so it ends when the budget is spent
    /// across hosts at the latest.
    private func awaitBudgetGrant(_ admission: inout Admission) async throws {
        while let inFlight = admission.budgetRetry {
            admission.budgetRetry = nil
            _ = await inFlight.wait()
            let now = self.now
            let leased = budgets.reserveLeased(caller: admission.caller, amount: admission.amount, now: now)
            if let refusal = take(leased, into: &admission, now: now) { throw refusal }
        }
    }

    /// Shared budgets: the call's reservation drew on a grant Redis cut; it was given back to the
    /// lease, and the call reserves again, waiting for a grant in flight first if it must.
    private func reserveAgain(_ admission: inout Admission) async throws {
        // Given back already when the grant was cut (`releaseReservations`): then a no-op.
        if let reservation = admission.reservation { _ = budgets.settle(reservation, actual: .zero) }
        admission.reservation = nil
        admission.leaseWait = nil
        admission.reportWaits = []
        let now = self.now
        let leased = budgets.reserveLeased(caller: admission.caller, amount: admission.amount, now: now)
        if let refusal = take(leased, into: &admission, now: now) { throw refusal }
        if admission.budgetRetry != nil { try await awaitBudgetGrant(&admission) }
    }

    /// Gives back an admission that never went upstream (it joined an identical call instead): the
    /// reservation and the rate-limit slot are released; the request is recorded as joined.
    package func release(_ admission: Admission) {
        if let reservation = admission.reservation { _ = budgets.settle(reservation, actual: .zero) }
        if let ticket = admission.ticket { limiter.release(ticket, actualTokens: 0, now: clock.now()) }
        if let take = admission.rateTake { shared?.rates.settle(take, actualTokens: 0) }
    }
}
