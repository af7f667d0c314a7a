/// Lets a repeated log line through at most once per interval, and says how many events the line
/// stands for, so a storm of identical failures (a listener out of file descriptors fails every
/// accept) is visible without flooding the log. Time is passed in, so it is tested on a made-up
/// clock.
///
/// Invariant: every recorded event is counted in exactly one emitted line, the first line
/// emitted at or after it; lines are at least `interval` apart.
package struct LogRateLimiter<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
    package let interval: Duration
    private var lastLine: Instant?
    private var unreported = 0

    package init(interval: Duration) { self.interval = interval }

    /// Counts one event at `now`. Returns how many events the line to write now stands for (this
    /// one and those held back since the last line), or nil when no line is due yet.
    package mutating func record(at now: Instant) -> Int? {
        unreported += 1
        if let lastLine, lastLine.duration(to: now) < interval { return nil }
        lastLine = now
        defer { unreported = 0 }
        return unreported
    }
}
