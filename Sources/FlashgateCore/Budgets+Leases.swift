import Foundation

/// Budget leases behind the budgets' one lock (`BudgetState+Leases`). The lease changes a call
/// returns are written to the ledger by the caller after the lock is released, and reported
/// back with `leaseChangeFinished`.
extension Budgets {
    /// A leased admission: the verdict, the lease changes to make durable, and the grant the
    /// call must wait for before it goes upstream (nil when its lease already covers it). A nil
    /// verdict (shared budgets): nothing was reserved; wait for `wait`, the lease's grant in
    /// flight, then ask again.
    package struct LeasedDecision: Sendable {
        package var decision: BudgetDecision?
        package var changes: [LeaseChange]
        package var wait: LeaseLatch?
        /// Shared budgets: reports to Redis the call must wait for (its unreported-spend bound).
        package var reportWaits: [LeaseLatch] = []
        /// The smallest amount left across the caller's budgets once this call is counted (the
        /// response header's figure), read under the same lock as the reservation.
        package var headroom: MicroUSD? = nil
    }

    /// Draws `amount` from the lease of `caller`'s budgets at `now`, or rejects naming the first
    /// hard budget whose headroom cannot cover it.
    package func reserveLeased(caller: Caller, amount: MicroUSD, now: Date) -> LeasedDecision {
        let lines = applicable(caller, now: now)
        let (decision, changes, wait, reports, headroom) = state.withLock { state in
            let (decision, changes, wait, reports) = state.reserveLeased(
                caller: caller, lines: lines, amount: amount, now: now)
            return (decision, changes, wait, reports, state.headroom(lines))
        }
        return LeasedDecision(
            decision: decision, changes: changes, wait: wait, reportWaits: reports, headroom: headroom)
    }

    /// The ledger's writer tried `change`; whether its waiters are covered (see
    /// `BudgetState.leaseChangeFinished`). `took`: how long this host's ledger took over a grant,
    /// which sizes the next grants (`BudgetState.leaseSizing`).
    @discardableResult
    package func leaseChangeFinished(_ change: LeaseChange, durable: Bool, took: Duration? = nil) -> Bool {
        state.withLock { state in
            if let took, change.kind == .grant { state.noteGrantCommit(nanos: TokenBucket.nanos(took)) }
            return state.leaseChangeFinished(change, durable: durable)
        }
    }

    /// How long this host's grants take to become durable, as the sizing sees it.
    package var grantCommitTime: Duration { .nanoseconds(state.withLock { $0.grantCommitNanos }) }

    /// After a reload of shared budgets: every unused lease remainder, now or as its grant in
    /// flight lands (`takeLandedReleases`).
    package func releaseLeasesForNewLimits(now: Date) -> [LeaseChange] {
        state.withLock { $0.releaseLeasesForNewLimits(now: now) }
    }

    /// Remainders handed back as their grant landed, to write.
    package func takeLandedReleases() -> [LeaseChange] {
        state.withLock { state in
            defer { state.landedReleases = [] }
            return state.landedReleases
        }
    }

    /// Unused lease remainders to hand back: idle ones, those of ended periods, or all.
    package func releaseLeases(now: Date, idle: Duration, all: Bool = false) -> [LeaseChange] {
        state.withLock { $0.releaseLeases(now: now, idle: idle, all: all) }
    }

    /// Open lease groups and the money they hold (granted, not settled or handed back).
    package var leaseTotals: (count: Int, amount: MicroUSD) {
        state.withLock { state in
            (state.leases.count, state.leases.values.reduce(MicroUSD.zero) { $0 + $1.leased })
        }
    }

    /// Shared budgets: grants cover `callsPerLease` typical calls; the next is fetched at
    /// `prefetchPercent` left.
    package func share(
        callsPerLease: Int, prefetchPercent: Int, unreportedCalls: Int, minAllowance: MicroUSD,
        outageSharePercent: Int?
    ) {
        state.withLock {
            $0.sharing = (Int64(callsPerLease), Int64(prefetchPercent))
            $0.unreported.calls = Int64(max(1, unreportedCalls))
            $0.unreported.minAllowance = minAllowance
            $0.unreported.outageSharePercent = outageSharePercent.map(Int64.init)
        }
    }

    /// Cuts a grant to what was granted across hosts; false when its waiters are not covered.
    package func shrinkGrant(_ change: LeaseChange, to granted: MicroUSD) -> Bool {
        state.withLock { $0.shrinkGrant(change, to: granted) }
    }

    /// Gives back every reservation that drew on `change`'s grant (cut by Redis below them).
    @discardableResult
    package func releaseReservations(drawingOn change: LeaseChange) -> Int {
        state.withLock { $0.releaseReservations(drawingOn: change.latch, group: change.group) }
    }

    /// This host's settled spend per budget key.
    package func settled(_ keys: [String]) -> [MicroUSD] {
        state.withLock { state in keys.map { state.settled[$0, default: .zero] } }
    }

    /// What is leased per budget key right now.
    package var leasedByKey: [String: MicroUSD] { state.withLock { $0.leased } }
}
