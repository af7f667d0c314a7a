/// Why Flashgate refused a request itself, before anything went upstream. A closed set, so it can
/// label metrics, fill an access-log field and key the ledger's refusal counters; the raw values
/// are stable because the ledger stores them and dashboards select on them.
///
/// Refusals are not failures of the upstream: a 429 from Gemini passed through is not one, a 429
/// from a Flashgate budget is.
package enum RefusalReason: String, Sendable, Hashable, CaseIterable {
    /// A token bucket (requests, tokens or concurrency per minute) was empty: 429.
    case rateLimit = "rate_limit"
    /// A hard dollar budget would be exceeded by the call's reservation: 429.
    case budget
    /// No identity, or one Flashgate does not know: 401.
    case auth
    /// The request could not be decoded or validated (bad JSON, a wrong field, an unknown model,
    /// media that could not be used): 400 or 404.
    case badInput = "bad_input"
    /// The HTTP edge refused it before it was routed (body or headers too large, too slow): 408,
    /// 413 or 431.
    case edgeLimit = "edge_limit"
    /// The usage ledger is nearly full, so no new paid call can be durably covered: 503.
    case ledgerFull = "ledger_full"
    /// The ledger's writer queue stayed full (the disk is too slow for the load): 503.
    case ledgerBusy = "ledger_busy"
    /// Shared budgets: Redis is unreachable, the host's leases are used up and the outage policy
    /// refuses: 503.
    case budgetUnavailable = "budget_unavailable"

    /// The reason an error Flashgate raised itself stands for, or nil when the error is not a
    /// refusal of the caller (an upstream failure, an internal error, an unavailable ledger).
    package init?(refusing error: FlashgateError) {
        switch error.kind {
        case .unauthorized, .forbidden: self = .auth
        case .invalidRequest, .notFound, .methodNotAllowed: self = .badInput
        case .payloadTooLarge, .headersTooLarge, .requestTimeout, .expectationFailed: self = .edgeLimit
        case .rateLimited: self = .rateLimit
        case .quotaExhausted: self = .budget
        case .upstreamStatus, .upstreamUnreachable, .upstreamTimeout, .upstreamProtocol, .unavailable, .internal:
            return nil
        }
    }
}
