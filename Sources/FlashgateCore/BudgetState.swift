import Foundation

/// The budgets' state machine: settled and reserved micro-dollars per budget-period key and the
/// open reservations. Pure and synchronous; `Budgets` runs it under its lock.
struct BudgetState {
    /// One budget as it applies at a given instant.
    struct Line {
        var name: String
        var key: String
        var budget: BudgetConfig
        var periodEnd: Date?
    }

    var settled: [String: MicroUSD] = [:]
    var reserved: [String: MicroUSD] = [:]
    var open: [UInt64: Reservation] = [:]
    /// Lease groups by id (`BudgetState+Leases`), and what they lease per budget key.
    var leases: [String: LeaseGroup] = [:]
    var leased: [String: MicroUSD] = [:]
    /// Remainders handed back as a grant landed (`LeaseGroup.releaseWhenGranted`), for the
    /// accountant to write (`Budgets.takeLandedReleases`).
    var landedReleases: [LeaseChange] = []
    var nextID: UInt64 = 1
    /// Shared budgets (`shared:`): calls a grant covers and the share of it left at which the
    /// next one is fetched ahead of need. Nil on a host alone.
    var sharing: (callsPerLease: Int64, prefetchPercent: Int64)?
    /// This host's own leases: how long a grant takes to become durable, in nanoseconds (0 until
    /// one is measured). It rises at once with a slow commit and falls back slowly, and sizes
    /// grants so the next lands before the lease runs dry (`leaseSizing`).
    var grantCommitNanos: Int64 = 0
    /// Shared budgets: the bound on unreported spend per hard budget key (`BudgetState+Unreported`).
    var unreported = UnreportedBounds()
    /// Per soft budget name, the period key it was last flagged in: a budget over its soft limit
    /// is worth one warning per period, not one per request. One entry per configured budget.
    var softFlagged: [String: String] = [:]

    mutating func reserve(caller: Caller, lines: [Line], amount: MicroUSD, now: Date) -> BudgetDecision {
        var soft: [String] = []
        var first: [SoftBudgetOverrun] = []
        for line in lines {
            let used = settled[line.key, default: .zero] + reserved[line.key, default: .zero]
            guard used + amount > line.budget.limit else { continue }
            switch line.budget.mode {
            case .soft:
                soft.append(line.name)
                if softFlagged[line.name] != line.key {
                    first.append(
                        SoftBudgetOverrun(
                            budget: line.name, periodKey: line.key, limit: line.budget.limit, used: used, amount: amount))
                }
            case .hard:
                let retry = line.periodEnd.map { Duration.seconds(max(1, Int64($0.timeIntervalSince(now).rounded(.up)))) }
                return .reject(
                    budget: line.name, limit: line.budget.limit, remaining: max(.zero, line.budget.limit - used),
                    retryAfter: retry)
            }
        }
        var reservation = Reservation(
            id: nextID, caller: caller, amount: amount, budgetKeys: lines.map(\.key), softExceeded: soft)
        reservation.softFirstInPeriod = first
        for overrun in first { softFlagged[overrun.budget] = overrun.periodKey }
        nextID += 1
        for key in reservation.budgetKeys { reserved[key, default: .zero] += amount }
        open[reservation.id] = reservation
        return .admit(reservation)
    }

    mutating func settle(_ reservation: Reservation, actual: MicroUSD) -> BudgetSettlement {
        guard let held = open.removeValue(forKey: reservation.id) else {
            return BudgetSettlement(charged: .zero, overshoot: .zero, applied: false)
        }
        let charged = max(.zero, actual)
        if let group = held.leaseGroup { return settleLeased(held, group: group, charged: charged) }
        for key in held.budgetKeys {
            reserved[key] = max(.zero, reserved[key, default: .zero] - held.amount)
            settled[key, default: .zero] += charged
        }
        return BudgetSettlement(charged: charged, overshoot: max(.zero, charged - held.amount), applied: true)
    }

    /// The smallest `remaining` of `status` across `lines`, without building the statuses.
    func headroom(_ lines: [Line]) -> MicroUSD? {
        var smallest: MicroUSD?
        for line in lines {
            let used = settled[line.key, default: .zero] + reserved[line.key, default: .zero]
            let remaining = max(.zero, line.budget.limit - used)
            if smallest.map({ remaining < $0 }) ?? true { smallest = remaining }
        }
        return smallest
    }

    func status(_ line: Line) -> BudgetStatus {
        let settled = settled[line.key, default: .zero]
        let reserved = reserved[line.key, default: .zero]
        return BudgetStatus(
            name: line.name, key: line.key, mode: line.budget.mode, limit: line.budget.limit, settled: settled,
            reserved: reserved, remaining: max(.zero, line.budget.limit - settled - reserved), periodEnd: line.periodEnd,
            leased: leased[line.key, default: .zero])
    }
}

extension BudgetState.Line {
    var leaseLine: LeaseLine {
        LeaseLine(key: key, name: name, limit: budget.limit, hard: budget.mode == .hard, periodEnd: periodEnd)
    }
}
