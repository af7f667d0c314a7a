import FlashgateCore

/// What an admitted call tells its client about its limits, as plain header pairs the edge
/// copies onto the response: the rate-limit headroom, the budget left and the soft budgets over.
extension Accountant {
    /// `x-ratelimit-*` and `x-flashgate-budget-remaining-usd` for an admitted call.
    package func headers(_ admission: Admission) -> [(String, String)] {
        var headers: [(String, String)] = []
        headers.reserveCapacity(5)
        // The first bucket of each kind speaks for it, as before.
        var requestsDone = false
        var tokensDone = false
        for item in admission.ticket?.headroom ?? [] {
            if !requestsDone, item.bucket.hasSuffix(":rpm") {
                requestsDone = true
                headers.append(("x-ratelimit-limit-requests", String(item.limit)))
                headers.append(("x-ratelimit-remaining-requests", String(max(0, item.remaining))))
            } else if !tokensDone, item.bucket.hasSuffix(":tpm") {
                tokensDone = true
                headers.append(("x-ratelimit-limit-tokens", String(item.limit)))
                headers.append(("x-ratelimit-remaining-tokens", String(max(0, item.remaining))))
            }
        }
        if let remaining = admission.budgetRemaining {
            headers.append(("x-flashgate-budget-remaining-usd", remaining.dollars))
        }
        return headers + softBudgetHeaders(admission)
    }
}
