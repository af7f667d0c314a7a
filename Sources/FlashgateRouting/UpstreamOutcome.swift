import FlashgateCore

/// What the retry owner did for one call.
package struct UpstreamOutcome: Sendable {
    package var answer: Result<StartedAnswer, FlashgateError>
    package var attempts: [AttemptRecord]
    /// When a hedge ran, how its extra reservation settles: the attempt that did not serve the
    /// request ended this way (`nil` when no hedge ran).
    package var hedgeLoser: HedgeLoser?
    /// How the last attempt that was not a hedge ended, when the call failed (`nil`: none was
    /// made, or one served). The reservation that covers it owes nothing unless it is `.cutOff`:
    /// every attempt cut off before it had a reservation of its own (`RetryOwner.run`'s
    /// `admitNext`), so only the last can still be unpaid.
    package var finalFate: AttemptFate?

    package init(
        answer: Result<StartedAnswer, FlashgateError>, attempts: [AttemptRecord], hedgeLoser: HedgeLoser?,
        finalFate: AttemptFate? = nil
    ) {
        self.answer = answer
        self.attempts = attempts
        self.hedgeLoser = hedgeLoser
        self.finalFate = finalFate
    }
}

/// The attempt of a hedged call that did not serve it, which the hedge's reservation pays for.
package struct HedgeLoser: Sendable, Equatable {
    package var route: String
    package var fate: AttemptFate
}

/// How an attempt that did not serve the request ended, which decides what it may owe; the
/// pipeline maps it to a settlement, so the retry owner knows nothing of money.
package enum AttemptFate: Sendable, Equatable {
    /// Refused with an error status before generating: nothing was billed.
    case refused
    /// Cancelled mid-flight, timed out or cut off: it may have been billed.
    case cutOff
}
