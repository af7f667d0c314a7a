import Foundation

/// Shared budgets: the bound on this host's unreported spend, which lets Redis hand a dead host's
/// lease back at its expiry without any risk of overspending.
///
/// Every script call a host makes reports, per hard budget key, its settled spend and a bound:
/// what it holds now (settled + reserved by calls in flight) plus an allowance. Until Redis
/// confirms a newer bound, the host never lets settled + reserved pass that bound (the lower of
/// the two while a report's outcome is unknown): a call that would waits for the next report. So
/// whatever a host dies having spent is within the bound Redis holds for it, and once its lease
/// expires any host's script may cut its cap down to that bound — the rest of the lease returns.
///
/// The allowance is twice what the host spent between its last two reports, or three quarters of
/// the previous allowance if that is more (at least `min_chunk` and two calls, at most `unreported_calls` calls
/// of the size its calls take): a busy host, whose lease calls report every ~`lease_calls` calls
/// anyway, rarely waits; a quiet one, reporting with its heartbeat, keeps its bound — and so what
/// its death would leave burned — small.
struct UnreportedBounds {
    var calls: Int64 = 100
    var minAllowance: MicroUSD = .zero
    var outageSharePercent: Int64?
    /// Per hard budget key: the most settled + reserved may reach.
    var bound: [String: MicroUSD] = [:]
    /// Per key: settled + reserved when the last report was sent.
    var lastHoldings: [String: MicroUSD] = [:]
    /// Per key: the allowance of the last report sent.
    var allowance: [String: MicroUSD] = [:]
    /// Per key: the report calls over the bound wait for, not sent yet.
    var next: [String: LeaseLatch] = [:]
}

extension BudgetState {
    /// The reports a call of `amount` on `hard` lines must wait for (and the report to ask for,
    /// when none is pending yet); nil when every bound covers it.
    mutating func gate(_ hard: [Line], amount: MicroUSD) -> (waits: [LeaseLatch], change: LeaseChange?)? {
        var waits: [LeaseLatch] = []
        var ask: [LeaseLine] = []
        for line in hard {
            let holdings = settled[line.key, default: .zero] + reserved[line.key, default: .zero] + amount
            if let bound = unreported.bound[line.key], holdings <= bound { continue }
            if let latch = unreported.next[line.key] {
                waits.append(latch)
                continue
            }
            let latch = LeaseLatch()
            unreported.next[line.key] = latch
            waits.append(latch)
            ask.append(line.leaseLine)
        }
        guard !waits.isEmpty else { return nil }
        let change =
            ask.isEmpty
            ? nil
            : LeaseChange(
                kind: .report, group: "", team: "", key: "", budgetKeys: ask.map(\.key), amount: .zero,
                latch: LeaseLatch(), lines: ask)
        return (waits, change)
    }

    /// Just before a script call reports `lines`: per line the bound to send (nil for a soft
    /// budget), and the waiting calls that report answers (they reserved before it was taken).
    mutating func snapshotBounds(_ lines: [LeaseLine]) -> (bounds: [MicroUSD?], answers: [LeaseLatch]) {
        var bounds: [MicroUSD?] = []
        var answers: [LeaseLatch] = []
        for line in lines {
            guard line.hard else {
                bounds.append(nil)
                continue
            }
            let key = line.key
            let holdings = settled[key, default: .zero] + reserved[key, default: .zero]
            let since = max(.zero, holdings - (unreported.lastHoldings[key] ?? holdings))
            let typical = leases.values.filter { $0.budgetKeys.contains(key) }.map(\.typical.value).max() ?? 0
            let least = max(unreported.minAllowance, MicroUSD(2 * typical))
            let most = max(least, MicroUSD(typical * unreported.calls))
            // Twice the spend since the last report, decaying by a quarter a report when it falls.
            let decayed = MicroUSD((unreported.allowance[key]?.value ?? 0) * 3 / 4)
            let allowance = min(most, max(least, since + since, decayed))
            let bound = holdings + allowance
            unreported.allowance[key] = allowance
            unreported.lastHoldings[key] = holdings
            unreported.bound[key] = min(unreported.bound[key] ?? bound, bound)
            if let latch = unreported.next.removeValue(forKey: key) { answers.append(latch) }
            bounds.append(bound)
        }
        return (bounds, answers)
    }

    /// Redis confirmed the report of `lines` (its bounds now hold), or could not be reached (the
    /// lower bound stays; under `local_share` a host may hold its share of the limit on its own).
    /// True when Redis was unreachable but `local_share` covers what this host holds now, so the
    /// calls that waited for the report may go ahead.
    mutating func boundsReported(_ lines: [LeaseLine], bounds: [MicroUSD?], answered: Bool) -> Bool {
        var withinShare = !answered && unreported.outageSharePercent != nil
        for (line, bound) in zip(lines, bounds) {
            guard let bound else { continue }
            if answered {
                unreported.bound[line.key] = bound
            } else if let share = unreported.outageSharePercent {
                let local = MicroUSD(line.limit.value / 100 * share)
                let raised = max(unreported.bound[line.key] ?? .zero, local)
                unreported.bound[line.key] = raised
                if settled[line.key, default: .zero] + reserved[line.key, default: .zero] > raised {
                    withinShare = false
                }
            }
        }
        return withinShare
    }

    /// Redis cut this host's expired lease on `key` by `amount`: that much of its unused lease
    /// money leaves (a return Redis already knows of, for the ledger only).
    mutating func cutLeases(key: String, amount: MicroUSD) -> [LeaseChange] {
        var left = amount
        var changes: [LeaseChange] = []
        for (id, var group) in leases where left > .zero && group.budgetKeys.contains(key) {
            let unused = min(left, group.durable - group.reserved)
            guard unused > .zero else { continue }
            group.durable -= unused
            group.returning += unused
            leases[id] = group
            left -= unused
            var change = LeaseChange(
                kind: .release, group: id, team: group.team, key: group.key, budgetKeys: group.budgetKeys,
                amount: unused, latch: LeaseLatch())
            change.redisKnows = true
            changes.append(change)
        }
        return changes
    }
}

extension Budgets {
    /// See `BudgetState.snapshotBounds`.
    package func snapshotBounds(_ lines: [LeaseLine]) -> (bounds: [MicroUSD?], answers: [LeaseLatch]) {
        state.withLock { $0.snapshotBounds(lines) }
    }

    /// See `BudgetState.boundsReported`.
    package func boundsReported(_ lines: [LeaseLine], bounds: [MicroUSD?], answered: Bool) -> Bool {
        state.withLock { $0.boundsReported(lines, bounds: bounds, answered: answered) }
    }

    /// This host's settled plus reserved spend per budget key.
    package func holdings(_ keys: [String]) -> [MicroUSD] {
        state.withLock { state in
            keys.map { state.settled[$0, default: .zero] + state.reserved[$0, default: .zero] }
        }
    }

    /// See `BudgetState.cutLeases`.
    package func cutLeases(key: String, amount: MicroUSD) -> [LeaseChange] {
        state.withLock { $0.cutLeases(key: key, amount: amount) }
    }

    /// Whether calls wait for a report of `key` not sent yet.
    package func reportPending(_ key: String) -> Bool { state.withLock { $0.unreported.next[key] != nil } }

    /// The bound on settled + reserved per key Redis holds for this host (tests, metrics).
    package func unreportedBound(_ key: String) -> MicroUSD? { state.withLock { $0.unreported.bound[key] } }
}
