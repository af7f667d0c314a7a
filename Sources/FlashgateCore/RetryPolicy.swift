/// The limits of the one retry loop that owns every upstream attempt of a request.
///
/// Invariant: `maxAttempts` counts every upstream call of the request, the first one and those on
/// other routes after a failover included, so one client request never costs more than
/// `maxAttempts` upstream calls.
package struct RetryPolicy: Sendable, Equatable {
    /// Upstream calls allowed for one request, across all routes (at least 1).
    package var maxAttempts: Int
    /// The ceiling of the first backoff; it doubles each attempt.
    package var baseDelay: Duration
    /// The most our own backoff ever waits (an upstream's retry delay may ask for more).
    package var maxDelay: Duration
    /// Time from the first attempt's start after which no new attempt starts.
    package var deadline: Duration

    package init(maxAttempts: Int, baseDelay: Duration, maxDelay: Duration, deadline: Duration) {
        precondition(maxAttempts >= 1, "a request needs at least one attempt")
        precondition(baseDelay >= .zero && maxDelay >= baseDelay && deadline > .zero)
        self.maxAttempts = maxAttempts
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.deadline = deadline
    }

    package static let standard = RetryPolicy(
        maxAttempts: 4, baseDelay: .milliseconds(500), maxDelay: .seconds(30), deadline: .seconds(120))
}

/// What the retry loop does after a failed attempt.
package enum RetryDecision: Sendable, Equatable {
    /// Wait this long (virtual or real, the caller's clock), then call the same route again.
    case retrySameRoute(after: Duration)
    /// This route will not recover in time (per-day quota, breaker open): try the next one now.
    case failOver
    /// Stop and answer the client with the last failure.
    case giveUp(GiveUpReason)

    package enum GiveUpReason: Sendable, Equatable {
        /// The failure is not worth repeating (other 4xx, safety block).
        case notRetryable
        /// Every attempt of the budget has been made.
        case attemptsExhausted
        /// The overall deadline has passed.
        case deadlineExceeded
        /// The upstream asked us to wait longer than the deadline leaves.
        case retryDelayBeyondDeadline(Duration)
    }
}
