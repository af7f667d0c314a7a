import FlashgateCore
import Synchronization

/// The live health of every route: its circuit breaker, recent latencies, recent errors, and
/// whether it is out until a per-day quota resets. Shared by all requests; each route's history
/// is changed under one short lock.
package final class RouteHealth: Sendable {
    package let breakers: RouteBreakers
    private let stats = Mutex<[String: RouteStats]>([:])
    /// Routes that answered a per-day quota: until when (on `clock`), and that instant in wall
    /// milliseconds for `/admin/routes`.
    private let dailyQuota = Mutex<[String: (until: Tick, wallMs: Int64)]>([:])
    package let clock: any RetryClock
    /// Wall-clock Unix milliseconds, for the times shown in `/admin/routes`.
    private let wallMs: @Sendable () -> Int64

    package init(breaker: CircuitBreakerConfig, clock: any RetryClock, wallMs: @escaping @Sendable () -> Int64) {
        self.breakers = RouteBreakers(config: breaker)
        self.clock = clock
        self.wallMs = wallMs
    }

    package func record(_ attempt: AttemptRecord) {
        let at = wallMs()
        stats.withLock { $0[attempt.route, default: RouteStats()].add(attempt, atMs: at) }
    }

    /// Takes `route` out for `duration`: a per-day quota that resets only then.
    package func takeOutForDailyQuota(_ route: String, for duration: Duration) {
        let now = clock.now()
        let wall = wallMs() + duration.milliseconds
        dailyQuota.withLock { $0[route] = (now.advanced(by: duration), wall) }
    }

    /// Whether `route` is out until its per-day quota resets.
    package func isOutOfDailyQuota(_ route: String, now: Tick) -> Bool {
        dailyQuota.withLock { state in
            guard let until = state[route]?.until else { return false }
            if until <= now {
                state[route] = nil
                return false
            }
            return true
        }
    }

    /// The route's recent p95 time to first byte, once enough calls were seen to trust it.
    package func p95(_ route: String) -> Duration? {
        stats.withLock { $0[route]?.percentile(95, minimumSamples: RouteStats.minimumSamples) }
    }

    /// `/admin/routes`: state, latency and recent errors of each configured route.
    package func report(routes: [RouteConfig]) -> JSONValue {
        let now = clock.now()
        let snapshot = stats.withLock { $0 }
        let quotaOut = dailyQuota.withLock { $0 }.filter { $0.value.until > now }
        let items: [JSONValue] = routes.map { route in
            let stats = snapshot[route.name] ?? RouteStats()
            var object: JSONObject = [
                "name": .string(route.name), "kind": .string(route.kind.rawValue),
                "state": .string(breakers.state(route.name, now: now).rawValue),
                "attempts": JSONValue(stats.attempts), "answered": JSONValue(stats.answered), "failed": JSONValue(stats.failed),
            ]
            object["latency_ms"] = [
                "p50": stats.percentile(50, minimumSamples: 1).map { JSONValue(Int($0.milliseconds)) } ?? .null,
                "p95": stats.percentile(95, minimumSamples: 1).map { JSONValue(Int($0.milliseconds)) } ?? .null,
                "samples": JSONValue(stats.latencies.count),
            ]
            if let out = quotaOut[route.name] { object["daily_quota_reset_at_ms"] = JSONValue(Int(out.wallMs)) }
            object["recent_errors"] = .array(
                stats.errors.reversed().map { error in
                    ["at_ms": JSONValue(Int(error.atMs)), "outcome": .string(error.label), "duration_ms": JSONValue(Int(error.durationMs))]
                })
            return .object(object)
        }
        return ["routes": .array(items)]
    }
}
