import FlashgateCore
import Logging

/// Soft budgets admit and flag. Every admitted call that is over a soft budget, or whose
/// reservation would take it over, names the budget in `x-flashgate-budget-exceeded`; the log
/// warns once per budget and period (the budgets' state remembers the period it last warned in,
/// in memory), not once per request.
extension Accountant {
    static let budgetExceededHeader = "x-flashgate-budget-exceeded"

    /// Warns about the soft budgets this reservation is the first to go over in their period.
    func warnSoftBudgets(_ reservation: Reservation) {
        for overrun in reservation.softFirstInPeriod {
            logger.warning(
                "a soft budget is exceeded; calls over it are admitted and flagged until the period ends",
                metadata: [
                    "budget": "\(overrun.budget)", "period": "\(overrun.periodKey)",
                    "limit_usd": "\(overrun.limit.dollars)", "used_usd": "\(overrun.used.dollars)",
                    "request_usd": "\(overrun.amount.dollars)",
                ])
        }
    }

    /// `x-flashgate-budget-exceeded: <budget>[, <budget>…]` for a call over soft budgets.
    func softBudgetHeaders(_ admission: Admission) -> [(String, String)] {
        guard let names = admission.reservation?.softExceeded, !names.isEmpty else { return [] }
        return [(Self.budgetExceededHeader, names.joined(separator: ", "))]
    }
}
