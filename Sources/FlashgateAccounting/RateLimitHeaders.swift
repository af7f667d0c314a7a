import FlashgateCore

/// What an admitted call tells its client about its limits, as plain header pairs the edge
/// copies onto the response: the rate-limit headroom, the budget left and the soft budgets over.
extension Accountant {
    /// `x-ratelimit-*` and `x-flashgate-budget-remaining-usd` for an admitted call.
    package func headers(_ admission: Admission) -> [(String, String)] {
        var headers: [(String, String)] = []
        headers.reserveCapacity(5)
        // Of each kind, the bucket with the least left speaks for it (the one that will refuse
        // first), its limit and what remains together. The first listed (the key's) had spoken,
        // so a key at 100 RPM in a team at 10 said 91 left as the team's limit refused.
        var requests: RateHeadroom?
        var tokens: RateHeadroom?
        for item in admission.ticket?.headroom ?? [] {
            if item.bucket.hasSuffix(":rpm") {
                if requests.map({ item.remaining < $0.remaining }) ?? true { requests = item }
            } else if item.bucket.hasSuffix(":tpm") {
                if tokens.map({ item.remaining < $0.remaining }) ?? true { tokens = item }
            }
        }
        if let requests {
            headers.append(("x-ratelimit-limit-requests", String(requests.limit)))
            headers.append(("x-ratelimit-remaining-requests", String(max(0, requests.remaining))))
        }
        if let tokens {
            headers.append(("x-ratelimit-limit-tokens", String(tokens.limit)))
            headers.append(("x-ratelimit-remaining-tokens", String(max(0, tokens.remaining))))
        }
        if let remaining = admission.budgetRemaining {
            headers.append(("x-flashgate-budget-remaining-usd", remaining.dollars))
        }
        return headers + softBudgetHeaders(admission)
    }
}
