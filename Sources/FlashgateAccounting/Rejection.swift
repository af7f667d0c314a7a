import FlashgateCore
import FlashgateWire
import Foundation

/// A call refused before it went upstream, in terms every client understands: the limit that
/// refused and the error to throw, which carries the wait and the headers, never a response. The
/// pipeline throws `error`; the edge renders it once in the endpoint's dialect, so accounting
/// knows nothing of HTTP.
///
/// - A rate limit is a transient 429 whose `Retry-After` is the bucket's true refill time, with
///   Google's `RetryInfo` in the native envelope.
/// - A spent budget cannot succeed this period: OpenAI's `insufficient_quota` with
///   `x-should-retry: false` (the openai SDKs give up at once instead of retrying for minutes),
///   Google's `RESOURCE_EXHAUSTED` with a `QuotaFailure`, a message naming the budget and when it
///   resets.
/// - A model (or tier) without a price is a 400 naming the config key to add: no price, no call.
package struct Rejection: Error, Sendable {
    /// The limit that refused: a closed set, for the request record and metrics.
    package enum Limit: String, Sendable {
        case rateLimit = "rate_limit"
        case budget
        case price
        case ledgerFull = "ledger_full"
        case ledgerBusy = "ledger_busy"
        case budgetUnavailable = "budget_unavailable"
    }

    package var limit: Limit
    /// The error the pipeline throws, with `retryAfter` and the refusal's headers.
    package var error: FlashgateError

    package init(limit: Limit, error: FlashgateError, retryAfter: Duration?, headers: [(String, String)]) {
        var error = error
        error.retryAfter = retryAfter
        error.headers = headers.map { FlashgateError.Header($0.0, $0.1) }
        self.limit = limit
        self.error = error
    }

    package var message: String { error.message }
    package var retryAfter: Duration? { error.retryAfter }
    package var headers: [(String, String)] { error.headers.map { ($0.name, $0.value) } }

    /// The refusal's reason for the access log, the metrics and the ledger's refusal counts.
    package var reason: RefusalReason {
        switch limit {
        case .rateLimit: .rateLimit
        case .budget: .budget
        case .price: .badInput
        case .ledgerFull: .ledgerFull
        case .ledgerBusy: .ledgerBusy
        case .budgetUnavailable: .budgetUnavailable
        }
    }

    package static func rateLimit(_ limit: String, retryAfter: Duration) -> Rejection {
        var error = FlashgateError(.rateLimited, "rate limit \(limit) reached; retry after \(seconds(retryAfter)) s")
        error.googleDetails = [
            [
                "@type": "type.googleapis.com/google.rpc.RetryInfo",
                "retryDelay": .string("\(seconds(retryAfter))s"),
            ]
        ]
        return Rejection(limit: .rateLimit, error: error, retryAfter: retryAfter, headers: [])
    }

    package static func budget(
        _ budget: String, limit: MicroUSD, remaining: MicroUSD, amount: MicroUSD, resetsIn: Duration?, now: Date
    ) -> Rejection {
        let resetsAt = resetsIn.map { now.addingTimeInterval(Double($0.components.seconds)) }
        let reset = resetsAt.map { "it resets at \(timestamp($0))" } ?? "it does not reset"
        let message =
            "budget \(budget) is spent: this request may cost up to $\(amount.dollars) and $\(remaining.dollars) of "
            + "$\(limit.dollars) remains; \(reset)"
        var error = FlashgateError(.quotaExhausted, message)
        var violation: JSONObject = ["subject": .string(budget), "description": .string(message)]
        violation["quotaId"] = "FlashgateBudget"
        error.googleDetails = [
            ["@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": .array([.object(violation)])]
        ]
        var headers = [("x-should-retry", "false"), ("x-flashgate-budget-remaining-usd", remaining.dollars)]
        if let resetsAt { headers.append(("x-flashgate-budget-reset", timestamp(resetsAt))) }
        return Rejection(
            limit: .budget, error: error,
            retryAfter: resetsIn, headers: headers)
    }

    /// Shared budgets: Redis is unreachable, this host's leases are used up, and the outage
    /// policy refuses rather than spend what the other hosts may already have spent.
    package static func budgetUnavailable(retryAfter: Duration) -> Rejection {
        var error = FlashgateError(
            .unavailable,
            "the shared budget store (Redis) is unreachable and what this host holds of the shared budgets and "
                + "rate limits is used up, so Flashgate refuses calls against hard budgets and shared rate limits; "
                + "retry after \(seconds(retryAfter)) s")
        error.code = "budget_unavailable"
        error.googleDetails = [
            [
                "@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "BUDGET_UNAVAILABLE",
                "domain": "flashgate",
            ]
        ]
        return Rejection(limit: .budgetUnavailable, error: error, retryAfter: retryAfter, headers: [])
    }

    package static func unpriced(model: String, tier: ServiceTier) -> Rejection {
        let at = tier == .standard ? "" : " at the \(tier.rawValue) tier"
        let error = FlashgateError.invalid(
            "the model '\(model)' has no price\(at), so Flashgate will not call it: add a row under "
                + "prices.\(model) in the config (input and output, USD per million tokens), or an explicit "
                + "fallback row prices.\"\(PriceTable.fallbackPrefix)\"",
            param: "model")
        return Rejection(limit: .price, error: error, retryAfter: nil, headers: [("x-should-retry", "false")])
    }

    package static func seconds(_ duration: Duration) -> Int64 { FlashgateError.seconds(duration) }

    /// RFC 3339 in UTC, whole seconds.
    package static func timestamp(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&time, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
            Int(parts.tm_mday),
            Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec))
    }
}
