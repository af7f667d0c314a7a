import FlashgateCore

/// What an admitted call tells its client about its limits, as plain header pairs the edge
/// copies onto the response: the rate-limit headroom, the budget left and the soft budgets over.
extension Accountant {
    /// `x-ratelimit-*` and `x-flashgate-budget-remaining-usd` for an admitted call.
    package func headers(_ admission: Admission) -> [(String, String)] {
        var headers: [(String, String)] = []
        for item in admission.ticket?.headroom ?? [] {
            let kind = item.bucket.hasSuffix(":rpm") ? "requests" : item.bucket.hasSuffix(":tpm") ? "tokens" : nil
            guard let kind, !headers.contains(where: { $0.0 == "x-ratelimit-limit-\(kind)" }) else { continue }
            headers.append(("x-ratelimit-limit-\(kind)", String(item.limit)))
            headers.append(("x-ratelimit-remaining-\(kind)", String(max(0, item.remaining))))
        }
        if let remaining = admission.budgetRemaining {
            headers.append(("x-flashgate-budget-remaining-usd", remaining.dollars))
        }
        return headers + softBudgetHeaders(admission)
    }
}
