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
    /// The configured budgets per team and per key, replaced whole by `update` on a reload, and
    /// each caller's lines as last worked out (`LinesMemo`), emptied with them.
    private let configured: Mutex<Configured>
    let state = Mutex(BudgetState())
    /// Each period's current key and end, remembered while they hold.
    private let windows: BudgetWindows

    private var teams: [String: [BudgetConfig]] { configured.withLock { $0.teams } }
    private var keys: [String: [BudgetConfig]] { configured.withLock { $0.keys } }

    private struct Configured {
        var teams: [String: [BudgetConfig]]
        var keys: [String: [BudgetConfig]]
        var memo: [Caller: LinesMemo] = [:]
    }

    /// A caller's budget lines and the instants they hold for: from the latest start to the
    /// earliest end of their periods' windows (a `total` budget's window has no bounds).
    private struct LinesMemo {
        var lines: [BudgetState.Line]
        var from: Date?
        var until: Date?

        func holds(at now: Date) -> Bool {
            if let from, now < from { return false }
            if let until, now >= until { return false }
            return true
        }
    }

    /// Callers whose lines are remembered at most; the memo is emptied when it is full.
    static let memoCapacity = 1_024

    package init(teams: [TeamConfig], keys: [KeyConfig], mode: AccountingConfig.Mode, timeZone: TimeZone) {
        self.mode = mode
        self.timeZone = timeZone
        windows = BudgetWindows(timeZone: timeZone)
        configured = Mutex(Self.index(teams: teams, keys: keys))
    }

    private static func index(teams: [TeamConfig], keys: [KeyConfig]) -> Configured {
        Configured(
            teams: Dictionary(teams.map { ($0.id, $0.budgets) }, uniquingKeysWith: { a, _ in a }),
            keys: Dictionary(keys.map { ($0.name, $0.budgets) }, uniquingKeysWith: { a, _ in a }))
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

    /// The budgets `caller` counts against at `now`, keys first. Worked out once per caller
    /// and kept while every one of its periods' windows holds (admission asks for them on every
    /// call; building them cost a few thousand instructions of string building a call).
    func applicable(_ caller: Caller, now: Date) -> [BudgetState.Line] {
        configured.withLock { configured in
            if let known = configured.memo[caller], known.holds(at: now) { return known.lines }
            var memo = LinesMemo(lines: [])
            var bounded = true
            func add(_ owner: String, _ budget: BudgetConfig) {
                let window = windows.window(budget.period, at: now)
                memo.lines.append(line(owner, budget, window))
                guard budget.period != .total else { return }
                guard let start = window.start, let end = window.end else {
                    bounded = false
                    return
                }
                memo.from = max(memo.from ?? start, start)
                memo.until = min(memo.until ?? end, end)
            }
            if !caller.key.isEmpty {
                for budget in configured.keys[caller.key] ?? [] { add("key:\(caller.key)", budget) }
            }
            for budget in configured.teams[caller.team] ?? [] { add("team:\(caller.team)", budget) }
            if bounded {
                if configured.memo.count >= Self.memoCapacity { configured.memo.removeAll(keepingCapacity: true) }
                configured.memo[caller] = memo
            }
            return memo.lines
        }
    }

    private func line(_ owner: String, _ budget: BudgetConfig, _ window: BudgetWindows.Window) -> BudgetState.Line {
        BudgetState.Line(
            name: owner + ":" + budget.period.rawValue, key: owner + ":" + window.key, budget: budget,
            periodEnd: window.end)
    }

    private func line(_ owner: String, _ budget: BudgetConfig, _ now: Date) -> BudgetState.Line {
        line(owner, budget, windows.window(budget.period, at: now))
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
