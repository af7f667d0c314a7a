/// A point on the retry loop's monotonic clock: time since the clock's origin. Breakers, route
/// statistics and backoff all read this one clock, so tests move them together on a manual clock.
package struct Tick: InstantProtocol, Hashable, Sendable, CustomStringConvertible {
    package var sinceOrigin: Duration

    package init(_ sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    package static let zero = Tick(.zero)

    package func advanced(by duration: Duration) -> Tick { Tick(sinceOrigin + duration) }
    package func duration(to other: Tick) -> Duration { other.sinceOrigin - sinceOrigin }
    package static func < (lhs: Tick, rhs: Tick) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    package var description: String { "\(sinceOrigin)" }
}

/// The clock the upstream path waits on: backoff before a retry, a hedge's threshold. Injected so
/// tests never sleep for real: a manual clock suspends sleepers until the test advances it.
///
/// Invariant: `sleep(until:)` returns no earlier than `until` on this clock's `now()`, and throws
/// `CancellationError` promptly when the sleeping task is cancelled.
package protocol RetryClock: Sendable {
    func now() -> Tick
    func sleep(until deadline: Tick) async throws
}

extension RetryClock {
    package func sleep(for duration: Duration) async throws { try await sleep(until: now().advanced(by: duration)) }
}

/// The real clock: `ContinuousClock` (it keeps counting while the machine sleeps, as backoff should).
package struct SystemRetryClock: RetryClock {
    private let origin = ContinuousClock.now

    package init() {}

    package func now() -> Tick { Tick(origin.duration(to: .now)) }

    package func sleep(until deadline: Tick) async throws {
        try await Task.sleep(until: origin.advanced(by: deadline.sinceOrigin), clock: .continuous)
    }
}
