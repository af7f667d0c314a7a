import Synchronization

/// The circuit breakers of all routes, one per route name, shared by every request in flight.
///
/// Invariant: each breaker is read and changed only under the one mutex, in one short critical
/// section per call, so concurrent requests see one consistent history per route; nothing slow
/// (I/O, sleeping, logging) runs under the lock.
///
/// On the retry clock's `Tick` (tests move it by hand): generic over the instant, the class ran
/// unspecialised in the modules that call it, looking up its breakers' metadata on every call.
package final class RouteBreakers: Sendable {
    package typealias Instant = Tick
    /// The config of breakers created from now on; `update` changes it on a reload, and breakers
    /// that already exist keep the config they were created with (and their history).
    package var config: CircuitBreakerConfig { configured.withLock { $0 } }
    private let configured: Mutex<CircuitBreakerConfig>
    private let breakers = Mutex<[String: CircuitBreaker<Instant>]>([:])

    package init(config: CircuitBreakerConfig) { configured = Mutex(config) }

    package func update(config: CircuitBreakerConfig) { configured.withLock { $0 = config } }

    /// Whether a call may go to `route` now (counts a half-open probe).
    package func allow(_ route: String, now: Instant) -> Bool {
        breakers.withLock { $0[route, default: CircuitBreaker(config: config)].allow(now: now) }
    }

    package func recordSuccess(_ route: String, now: Instant) {
        breakers.withLock { $0[route, default: CircuitBreaker(config: config)].recordSuccess(now: now) }
    }

    /// Records a failure and answers whether the route's breaker is now open.
    @discardableResult
    package func recordFailure(_ route: String, retryDelay: Duration? = nil, now: Instant) -> Bool {
        breakers.withLock { all in
            all[route, default: CircuitBreaker(config: config)].recordFailure(retryDelay: retryDelay, now: now)
            return all[route]?.state(now: now) == .open
        }
    }

    /// Records a failed attempt as the retry loop saw it. Only a retryable failure says the route is
    /// unwell; a non-retryable one (a bad request, a safety block) is the request's fault: it
    /// frees a half-open probe's slot and changes nothing else. Answers whether the route's
    /// breaker is now open.
    @discardableResult
    package func record(_ failure: UpstreamFailure, route: String, now: Instant) -> Bool {
        guard failure.isRetryable else {
            return breakers.withLock { all in
                all[route]?.recordNeutral()
                return all[route]?.state(now: now) == .open
            }
        }
        return recordFailure(route, retryDelay: failure.retryDelay, now: now)
    }

    package func state(_ route: String, now: Instant) -> BreakerState {
        breakers.withLock { $0[route]?.state(now: now) ?? .closed }
    }

    /// Every known route's state, for the admin API.
    package func states(now: Instant) -> [String: BreakerState] {
        breakers.withLock { $0.mapValues { $0.state(now: now) } }
    }
}
