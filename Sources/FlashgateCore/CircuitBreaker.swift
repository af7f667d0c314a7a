/// When a route's breaker opens and how it recovers.
package struct CircuitBreakerConfig: Sendable, Equatable {
    /// Consecutive failures that open the breaker (N).
    package var consecutiveFailures: Int
    /// How many of the latest outcomes the error rate is taken over (M).
    package var window: Int
    /// The breaker opens when more than this percentage of a full window failed.
    package var failureRatePercent: Int
    /// How long it stays open when the upstream gave no retry delay.
    package var coolDown: Duration
    /// Probes let through while half-open (K).
    package var halfOpenProbes: Int

    package init(
        consecutiveFailures: Int = 5, window: Int = 20, failureRatePercent: Int = 50, coolDown: Duration = .seconds(30),
        halfOpenProbes: Int = 1
    ) {
        precondition(consecutiveFailures >= 1 && window >= 1 && halfOpenProbes >= 1 && coolDown >= .zero)
        precondition((0...100).contains(failureRatePercent))
        self.consecutiveFailures = consecutiveFailures
        self.window = window
        self.failureRatePercent = failureRatePercent
        self.coolDown = coolDown
        self.halfOpenProbes = halfOpenProbes
    }
}

/// The state of a breaker as the admin API and the route picker see it.
package enum BreakerState: String, Sendable, Equatable {
    case closed
    case open
    case halfOpen = "half_open"
}

/// One route's circuit breaker, a state machine on an injected clock: closed until N consecutive
/// failures or a failure rate over the last M outcomes, then open for a cool-down (the upstream's
/// own retry delay when it named one, else the configured one), then half-open, where K probes go
/// through: a successful probe closes it, a failed one opens it again.
///
/// Invariants: while open, `allow` is false; while half-open, at most K calls are allowed per
/// cool-down until an outcome arrives; it is a plain value, so the caller holds it behind a lock (`RouteBreakers`).
package struct CircuitBreaker<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    private enum Phase: Sendable {
        case closed
        case open(until: Instant)
        /// `since` is when the current probes were let through: a probe whose outcome never comes
        /// (cancelled, not counted) frees its slot one cool-down later, so the route is not stuck.
        case halfOpen(probesAllowed: Int, since: Instant)
    }

    package let config: CircuitBreakerConfig
    private var phase: Phase = .closed
    private var consecutive = 0
    /// The last M outcomes, `true` = failure, as a ring.
    private var outcomes: [Bool] = []
    private var next = 0

    package init(config: CircuitBreakerConfig) { self.config = config }

    /// The state at `now`; an open breaker whose cool-down has passed reads as half-open.
    package func state(now: Instant) -> BreakerState {
        switch phase {
        case .closed: .closed
        case .open(let until): now < until ? .open : .halfOpen
        case .halfOpen: .halfOpen
        }
    }

    /// Whether a call may go to this route now; a half-open breaker counts the probe it lets through.
    package mutating func allow(now: Instant) -> Bool {
        if case .open(let until) = phase {
            guard now >= until else { return false }
            phase = .halfOpen(probesAllowed: 0, since: now)
        }
        if case .halfOpen(_, let since) = phase, config.coolDown > .zero, now >= since.advanced(by: config.coolDown) {
            phase = .halfOpen(probesAllowed: 0, since: now)
        }
        switch phase {
        case .closed: return true
        case .open: return false
        case .halfOpen(let allowed, let since):
            guard allowed < config.halfOpenProbes else { return false }
            phase = .halfOpen(probesAllowed: allowed + 1, since: since)
            return true
        }
    }

    package mutating func recordSuccess(now: Instant) {
        switch phase {
        case .closed: remember(failure: false)
        case .halfOpen: close()
        case .open: break  // a late answer from before it opened changes nothing
        }
    }

    /// Records a call that ended with the request's own fault (a client error, a safety block):
    /// it says nothing about the route, so a half-open probe's slot is freed for the next call
    /// instead of holding the route shut for another cool-down.
    package mutating func recordNeutral() {
        if case .halfOpen(let allowed, let since) = phase, allowed > 0 {
            phase = .halfOpen(probesAllowed: allowed - 1, since: since)
        }
    }

    /// Records a failed call; `retryDelay` is the upstream's own, which then sets the cool-down.
    package mutating func recordFailure(retryDelay: Duration? = nil, now: Instant) {
        switch phase {
        case .closed:
            remember(failure: true)
            if consecutive >= config.consecutiveFailures || failureRateExceeded {
                open(now: now, retryDelay: retryDelay)
            }
        case .halfOpen: open(now: now, retryDelay: retryDelay)
        case .open(let until):
            // A later, longer delay from the upstream keeps it open longer; never shorter.
            let wanted = now.advanced(by: retryDelay ?? .zero)
            if wanted > until { phase = .open(until: wanted) }
        }
    }

    private var failureRateExceeded: Bool {
        guard outcomes.count == config.window else { return false }
        let failures = outcomes.lazy.filter { $0 }.count
        return failures * 100 > config.failureRatePercent * config.window
    }

    private mutating func remember(failure: Bool) {
        consecutive = failure ? consecutive + 1 : 0
        if outcomes.count < config.window {
            outcomes.append(failure)
        } else {
            outcomes[next] = failure
        }
        next = (next + 1) % config.window
    }

    private mutating func open(now: Instant, retryDelay: Duration?) {
        phase = .open(until: now.advanced(by: retryDelay ?? config.coolDown))
    }

    private mutating func close() {
        phase = .closed
        consecutive = 0
        outcomes.removeAll(keepingCapacity: true)
        next = 0
    }
}
