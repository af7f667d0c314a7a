import Foundation
import Synchronization

/// Dollar budgets per team and per key, with reservation then settlement, behind one lock.
///
/// Invariant (strict mode): for every hard budget, settled + reserved never exceeds its limit,
/// because a reservation is admitted only if it fits under every hard budget at once, checked
/// and recorded in one critical section. Settled spend therefore stays within the limit as long
/// as each settlement is at most its reservation, which the worst-case cost guarantees. Every
/// reservation is settled at most once; the ledger persists what `settle` reports.
package final class Budgets: Sendable {
    package let mode: AccountingConfig.Mode
    package let timeZone: TimeZone
    /// The configured budgets per team and per key; replaced whole by `update` on a reload.
    private let configured: Mutex<(teams: [String: [BudgetConfig]], keys: [String: [BudgetConfig]])>
    let state = Mutex(BudgetState())
    /// Each period's current key and end, remembered while they hold.
    private let windows: BudgetWindows

    private var teams: [String: [BudgetConfig]] { configured.withLock { $0.teams } }
    private var keys: [String: [BudgetConfig]] { configured.withLock { $0.keys } }

    package init(teams: [TeamConfig], keys: [KeyConfig], mode: AccountingConfig.Mode, timeZone: TimeZone) {
        self.mode = mode
        self.timeZone = timeZone
        windows = BudgetWindows(timeZone: timeZone)
        configured = Mutex(Self.index(teams: teams, keys: keys))
    }

    private static func index(teams: [TeamConfig], keys: [KeyConfig])
        -> (teams: [String: [BudgetConfig]], keys: [String: [BudgetConfig]])
    {
        (
            Dictionary(teams.map { ($0.id, $0.budgets) }, uniquingKeysWith: { a, _ in a }),
            Dictionary(keys.map { ($0.name, $0.budgets) }, uniquingKeysWith: { a, _ in a })
        )
    }

    /// Applies a reloaded config's budgets. Settled totals and open reservations are kept as they
    /// are: a reservation made before the change settles exactly once against the lines it
    /// reserved on, and a budget that keeps its owner and period keeps its spend.
    package func update(teams: [TeamConfig], keys: [KeyConfig]) {
        let index = Self.index(teams: teams, keys: keys)
        configured.withLock { $0 = index }
    }

    package convenience init(config: FlashgateConfig) {
        self.init(
            teams: config.teams, keys: config.keys, mode: config.accounting.mode,
            timeZone: TimeZone(identifier: config.accounting.timeZoneID) ?? TimeZone(identifier: "UTC")!)
    }

    /// The budgets `caller` counts against at `now`, keys first.
    func applicable(_ caller: Caller, now: Date) -> [BudgetState.Line] {
        var lines: [BudgetState.Line] = []
        if !caller.key.isEmpty {
            for budget in keys[caller.key] ?? [] { lines.append(line("key:\(caller.key)", budget, now)) }
        }
        for budget in teams[caller.team] ?? [] { lines.append(line("team:\(caller.team)", budget, now)) }
        return lines
    }

    private func line(_ owner: String, _ budget: BudgetConfig, _ now: Date) -> BudgetState.Line {
        let window = windows.window(budget.period, at: now)
        return BudgetState.Line(
            name: owner + ":" + budget.period.rawValue, key: owner + ":" + window.key, budget: budget,
            periodEnd: window.end)
    }

    /// Seeds settled spend per budget-period key from the ledger at start.
    package func load(settledTotals: [String: MicroUSD]) {
        state.withLock { $0.settled.merge(settledTotals) { _, new in new } }
    }

    /// Holds `amount` (the worst case in strict mode, the expected cost in estimate mode)
    /// against every budget of `caller`, or rejects naming the first hard budget it does not fit.
    package func reserve(caller: Caller, model: String, amount: MicroUSD, now: Date) -> BudgetDecision {
        let lines = applicable(caller, now: now)
        return state.withLock { $0.reserve(caller: caller, lines: lines, amount: amount, now: now) }
    }

    /// Moves the reservation to settled spend at `actual`. A second call is a no-op.
    @discardableResult
    package func settle(_ reservation: Reservation, actual: MicroUSD) -> BudgetSettlement {
        state.withLock { $0.settle(reservation, actual: actual) }
    }

    /// Every budget of `caller` with its current period's standing.
    package func remaining(caller: Caller, now: Date) -> [BudgetStatus] {
        let lines = applicable(caller, now: now)
        return state.withLock { state in lines.map { state.status($0) } }
    }

    /// Every configured budget, for `/admin/budgets`.
    package func all(now: Date) -> [BudgetStatus] {
        var lines: [BudgetState.Line] = []
        for (name, budgets) in keys.sorted(by: { $0.key < $1.key }) { lines += budgets.map { line("key:\(name)", $0, now) } }
        for (id, budgets) in teams.sorted(by: { $0.key < $1.key }) { lines += budgets.map { line("team:\(id)", $0, now) } }
        return state.withLock { state in lines.map { state.status($0) } }
    }

    /// The smallest remaining amount across `caller`'s budgets, for the response header.
    package func headroom(caller: Caller, now: Date) -> MicroUSD? {
        let lines = applicable(caller, now: now)
        return state.withLock { $0.headroom(lines) }
    }
}
