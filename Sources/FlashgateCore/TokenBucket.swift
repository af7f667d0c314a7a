/// A token bucket with continuous refill: `capacity` tokens, refilled at `refillAmount` per
/// `interval`, burst = capacity. The level is kept in exact integer units of 1/interval-ns of a
/// token, so refill and Retry-After are exact on any clock and never drift.
///
/// The level may go below zero: a request larger than the whole capacity is admitted once the
/// bucket is full (it could never fit otherwise), and a TPM correction for a request that used
/// more than estimated is a debt later requests wait out.
package struct TokenBucket: Sendable, Equatable {
    package let capacity: Int64
    package let refillAmount: Int64
    package let interval: Duration
    /// The interval in nanoseconds, worked out once (a Duration's nanoseconds take 128-bit arithmetic).
    private let unit: Int64
    /// Tokens × interval nanoseconds.
    private var level: Int64
    private var updatedNanos: Int64?

    package init(capacity: Int, refillAmount: Int? = nil, per interval: Duration = .seconds(60)) {
        precondition(capacity > 0 && interval > .zero)
        self.capacity = Int64(capacity)
        self.refillAmount = Int64(refillAmount ?? capacity)
        self.interval = interval
        unit = Self.nanos(interval)
        self.level = Int64(capacity) * unit
    }

    /// A per-minute limit: `n` tokens a minute, burst `n`.
    package static func perMinute(_ n: Int) -> TokenBucket { TokenBucket(capacity: n, per: .seconds(60)) }

    /// Whole tokens available at the last update (negative while in debt).
    package var available: Int64 { level >= 0 ? level / unit : -((-level + unit - 1) / unit) }

    /// Refills up to `now`, where `now` is nanoseconds on any monotonic clock. Time going
    /// backwards refills nothing.
    package mutating func refill(nowNanos: Int64) {
        defer { updatedNanos = max(updatedNanos ?? nowNanos, nowNanos) }
        guard let last = updatedNanos, nowNanos > last else { return }
        let full = capacity * unit
        guard level < full else { return }
        // Clamped so the product stays in range: after `interval × capacity/refill` it is full anyway.
        let needed = (full - level + refillAmount - 1) / refillAmount
        let elapsed = min(nowNanos - last, needed)
        level = min(full, level + elapsed * refillAmount)
    }

    /// How long until `n` tokens would be there, or `nil` if they are there now. A request
    /// larger than the capacity needs a full bucket.
    package func wait(for n: Int) -> Duration? {
        let wanted = min(Int64(n), capacity) * unit
        guard level < wanted else { return nil }
        let nanos = (wanted - level + refillAmount - 1) / refillAmount
        return .nanoseconds(nanos)
    }

    /// Removes `n` tokens unconditionally (the caller checked `wait(for:)` first).
    package mutating func consume(_ n: Int) { level -= Int64(n) * unit }

    /// Returns `n` tokens (negative: takes more), never above capacity.
    package mutating func give(back n: Int) { level = min(capacity * unit, level + Int64(n) * unit) }

    /// The same bucket with a new capacity (and refill rate, for a per-capacity bucket), for a
    /// changed limit: its level carries over, capped at the new capacity, so a reload never
    /// hands out tokens the old limit had already spent.
    package func resized(capacity newCapacity: Int) -> TokenBucket {
        var bucket = TokenBucket(
            capacity: newCapacity, refillAmount: refillAmount == capacity ? newCapacity : Int(refillAmount), per: interval)
        bucket.level = min(level, bucket.capacity * bucket.unit)
        bucket.updatedNanos = updatedNanos
        return bucket
    }

    /// Refill, then take `n` if they fit: `nil` when taken, else how long until they would fit.
    package mutating func take(_ n: Int, nowNanos: Int64) -> Duration? {
        refill(nowNanos: nowNanos)
        if let wait = wait(for: n) { return wait }
        consume(n)
        return nil
    }

    static func nanos(_ d: Duration) -> Int64 {
        d.wholeNanoseconds
    }
}

extension TokenBucket {
    /// `take` on a generic monotonic instant, measured from a fixed `origin`.
    package mutating func take<I: InstantProtocol>(_ n: Int, now: I, origin: I) -> Duration? where I.Duration == Duration {
        take(n, nowNanos: Self.nanos(origin.duration(to: now)))
    }
}
