import Foundation

/// Money held against a caller's budgets while a request is in flight. It carries the exact
/// budget-period keys it was counted against, so settlement charges the period the request was
/// admitted in even if the period rolls over meanwhile.
package struct Reservation: Sendable, Hashable {
    package let id: UInt64
    package let caller: Caller
    package let amount: MicroUSD
    /// Ledger keys such as `team:search:month:2026-11`, every budget this request counts against.
    package let budgetKeys: [String]
    /// Soft budgets this request goes (or went) over: admitted, but flagged.
    package let softExceeded: [String]
    /// The soft budgets of `softExceeded` that this request is the first to go over in their
    /// current period: each is worth one warning, the rest of the period stays quiet.
    package var softFirstInPeriod: [SoftBudgetOverrun] = []
    /// The lease group it was drawn from (`ledger.durability: lease`); nil when it was reserved
    /// on its own (`per_request`).
    package var leaseGroup: String?
    /// The grant in flight it drew on (shared budgets): if Redis cuts that grant below what was
    /// reserved against it, the reservation is given back at once and its call reserves again.
    package var grantWait: UInt64?
}

/// A soft budget that a call goes over, the first time in its period (one log line per budget
/// and period).
package struct SoftBudgetOverrun: Sendable, Hashable {
    /// `team:<id>:<period>` or `key:<name>:<period>`.
    package var budget: String
    /// The period's ledger key, `team:<id>:day:2026-11-25`.
    package var periodKey: String
    package var limit: MicroUSD
    /// Settled plus reserved before this call, and what this call holds.
    package var used: MicroUSD
    package var amount: MicroUSD
}

/// A budget verdict. A rejection names the budget (`team:search:month`), its limit, what
/// remains of it, and when the period rolls over (`nil` for a total budget).
package enum BudgetDecision: Sendable, Equatable {
    case admit(Reservation)
    case reject(budget: String, limit: MicroUSD, remaining: MicroUSD, retryAfter: Duration?)
}

/// What one settlement did. `overshoot` is how far the actual cost went past the reservation
/// (zero when the reservation was an upper bound, as strict mode's worst case is).
package struct BudgetSettlement: Sendable, Equatable {
    package var charged: MicroUSD
    package var overshoot: MicroUSD
    /// False when this reservation was already settled: the call did nothing.
    package var applied: Bool
    /// For a leased reservation: its lease group and what the charge took from the lease on disk.
    package var leaseGroup: String?
    package var leaseDebit: MicroUSD = .zero

    package init(charged: MicroUSD, overshoot: MicroUSD, applied: Bool) {
        self.charged = charged
        self.overshoot = overshoot
        self.applied = applied
    }
}

/// One budget's standing, for the `x-flashgate-budget-remaining-usd` header and `/admin/budgets`.
package struct BudgetStatus: Sendable, Equatable {
    /// `team:<id>:<period>` or `key:<name>:<period>`.
    package var name: String
    /// The ledger key of the current period, `team:<id>:month:2026-11`.
    package var key: String
    package var mode: BudgetConfig.Mode
    package var limit: MicroUSD
    package var settled: MicroUSD
    package var reserved: MicroUSD
    /// limit − settled − reserved, never below zero.
    package var remaining: MicroUSD
    package var periodEnd: Date?
    /// Granted to leases of this budget and not yet settled or handed back (counted against it).
    package var leased: MicroUSD = .zero
}
