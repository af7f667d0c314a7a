/// The decision half of the one retry loop: after each failed attempt it says whether to wait and
/// call the same route again, fail over to the next route, or give up. It does no I/O and reads no
/// clock; the caller passes how many attempts it has made and how long the request has run, and a
/// random source for the jitter, so every schedule is reproducible on a manual clock.
///
/// Backoff is exponential with full jitter: uniform in `0...min(maxDelay, baseDelay · 2^(n-1))`
/// after the `n`th attempt, so concurrent clients spread out instead of retrying in lockstep. It is
/// floored by the upstream's own retry delay (we never come back earlier than asked) and capped by
/// what remains of the deadline.
///
/// Invariants: it never answers `.retrySameRoute` or `.failOver` once `attempt` reaches the
/// budget, so a caller that obeys it makes at most `policy.maxAttempts` upstream calls; and it never
/// schedules an attempt to start after the deadline.
package struct RetryLoop: Sendable, Equatable {
    package let policy: RetryPolicy

    package init(policy: RetryPolicy) { self.policy = policy }

    /// Decides what follows a failed attempt.
    /// - Parameters:
    ///   - attempt: how many attempts have been made so far, the failed one included (1-based).
    ///   - elapsed: time since the first attempt started.
    ///   - routeOpen: the route's circuit breaker is open after recording this failure.
    package func next(
        after failure: UpstreamFailure, attempt: Int, elapsed: Duration, routeOpen: Bool = false,
        random: inout some RandomNumberGenerator
    ) -> RetryDecision {
        guard failure.isRetryable else { return .giveUp(.notRetryable) }
        guard attempt < policy.maxAttempts else { return .giveUp(.attemptsExhausted) }
        let remaining = policy.deadline - elapsed
        guard remaining > .zero else { return .giveUp(.deadlineExceeded) }
        if failure.perDayQuota || routeOpen { return .failOver }
        let floor = failure.retryDelay ?? .zero
        guard floor <= remaining else { return .giveUp(.retryDelayBeyondDeadline(floor)) }
        let delay = max(backoff(after: attempt, random: &random), floor)
        return .retrySameRoute(after: min(delay, remaining))
    }

    /// The jittered backoff alone: uniform in `0...backoffCeiling(after:)`, to the nanosecond.
    package func backoff(after attempt: Int, random: inout some RandomNumberGenerator) -> Duration {
        let ceiling = Self.nanos(backoffCeiling(after: attempt))
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &random))
    }

    /// `min(maxDelay, baseDelay · 2^(attempt-1))`, without overflowing for any attempt.
    package func backoffCeiling(after attempt: Int) -> Duration {
        var ceiling = policy.baseDelay
        var doublings = max(0, attempt - 1)
        while doublings > 0 && ceiling < policy.maxDelay {
            ceiling = ceiling * 2
            doublings -= 1
        }
        return min(ceiling, policy.maxDelay)
    }

    private static func nanos(_ d: Duration) -> Int64 {
        let (seconds, attoseconds) = d.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
