import FlashgateCore

/// What one upstream attempt did, for logs, metrics, the ledger row and `/admin/routes`.
package struct AttemptRecord: Sendable, Equatable {
    package enum Outcome: Sendable, Equatable {
        /// The answer started (2xx and a first event): this attempt served the request.
        case answered
        /// The upstream answered with this status.
        case status(Int)
        case unreachable
        case timeout
        /// The answer was not usable (not JSON, empty, a safety block before any output…).
        case invalid
        /// Cancelled: a hedge that lost, or every client left.
        case cancelled
    }

    package var route: String
    package var outcome: Outcome
    package var duration: Duration
    /// A hedge started beside a slow attempt.
    package var hedge: Bool
    /// Whether the request may have left for the upstream (false: cancelled before it was handed
    /// to the transport, so nothing can have been billed).
    package var sent = true

    package init(route: String, outcome: Outcome, duration: Duration, hedge: Bool = false) {
        self.route = route
        self.outcome = outcome
        self.duration = duration
        self.hedge = hedge
    }

    /// `429`, `unreachable`, `ok`… a closed set, safe as a metric label.
    package var label: String {
        switch outcome {
        case .answered: "ok"
        case .status(let code): String(code)
        case .unreachable: "unreachable"
        case .timeout: "timeout"
        case .invalid: "invalid"
        case .cancelled: "cancelled"
        }
    }

    /// `vertex-eu:503:120ms`, the compact form kept in ledger rows and logs.
    package var compact: String { "\(route):\(label):\(duration.milliseconds)ms" + (hedge ? ":hedge" : "") }
}
